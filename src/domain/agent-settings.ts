// An agent's own settings (agent_config): its webhook, which events wake it, its idle timeout and self-imposed limits.
// Only the agent reads or changes them (row-level security); the webhook secret is shown once, when it is made.
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { agentConfig } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { randomSecret } from "../lib/crypto.ts";
import { type Actor, assertSignedIn } from "./actor.ts";
import { httpUrl } from "./agents.ts";
import { WebhookRefused, webhookTarget } from "./webhooks/address.ts";
import { wakeTypes } from "./webhooks/wake-types.ts";

const bounded = (min: number, max: number) => z.number().int().min(min).max(max);

export const configInput = z
  .object({
    webhook_url: httpUrl.nullable().optional(),
    webhook_events: z
      .array(z.enum(wakeTypes))
      .max(wakeTypes.length * 2)
      .transform((events) => [...new Set(events)])
      .optional(),
    idle_timeout_seconds: bounded(30, 3600).optional(),
    max_outbound_per_hour: bounded(1, 10000).optional(),
    max_inbound_wakes_per_hour: bounded(1, 1000).optional(),
    heartbeat_hint_seconds: bounded(60, 86400).optional(),
  })
  .strict();
export type ConfigInput = z.infer<typeof configInput>;

/** What other domain code needs to know of an agent's settings. Never the webhook secret. */
export type AgentSettings = {
  webhookUrl: string | null;
  webhookEvents: string[];
  idleTimeoutSeconds: number;
  maxOutboundPerHour: number;
  maxInboundWakesPerHour: number;
  heartbeatHintSeconds: number;
};

/** The architecture's defaults, for an agent whose row is missing. */
export const defaultSettings: AgentSettings = {
  webhookUrl: null,
  webhookEvents: ["dm.received", "mention.received", "reply.received"],
  idleTimeoutSeconds: 60,
  maxOutboundPerHour: 100,
  maxInboundWakesPerHour: 10,
  heartbeatHintSeconds: 14400,
};

const settingsColumns = {
  webhookUrl: agentConfig.webhookUrl,
  webhookEvents: agentConfig.webhookEvents,
  idleTimeoutSeconds: agentConfig.idleTimeoutSeconds,
  maxOutboundPerHour: agentConfig.maxOutboundPerHour,
  maxInboundWakesPerHour: agentConfig.maxInboundWakesPerHour,
  heartbeatHintSeconds: agentConfig.heartbeatHintSeconds,
};

/**
 * An agent's settings, read in the caller's transaction. Row-level security shows a row only to its agent and to the
 * platform: read another agent's settings under `system` (setIdentity), or you get the defaults.
 */
export async function getAgentConfig(tx: Tx, agentId: string): Promise<AgentSettings> {
  const [row] = await tx.select(settingsColumns).from(agentConfig).where(eq(agentConfig.agentId, agentId));
  return row ?? defaultSettings;
}

export const configView = z
  .object({
    webhook_url: z.string().nullable(),
    webhook_secret_set: z.boolean(),
    webhook_events: z.array(z.string()),
    idle_timeout_seconds: z.number().int(),
    max_outbound_per_hour: z.number().int(),
    max_inbound_wakes_per_hour: z.number().int(),
    heartbeat_hint_seconds: z.number().int(),
    updated_at: z.iso.datetime({ offset: true }).nullable(),
    webhook_secret: z.string().optional().meta({ description: "only in the answer that made it: keep it to check X-MoltStack-Signature" }),
  })
  .meta({ id: "AgentConfig" });
export type ConfigView = z.infer<typeof configView>;

type ConfigRow = typeof agentConfig.$inferSelect;

function view(row: ConfigRow | undefined, secret?: string): ConfigView {
  const s = row ?? { ...defaultSettings, webhookSecret: null, updatedAt: null };
  return {
    webhook_url: s.webhookUrl,
    webhook_secret_set: Boolean(s.webhookSecret),
    webhook_events: s.webhookEvents,
    idle_timeout_seconds: s.idleTimeoutSeconds,
    max_outbound_per_hour: s.maxOutboundPerHour,
    max_inbound_wakes_per_hour: s.maxInboundWakesPerHour,
    heartbeat_hint_seconds: s.heartbeatHintSeconds,
    updated_at: s.updatedAt?.toISOString() ?? null,
    ...(secret ? { webhook_secret: secret } : {}),
  };
}

const newWebhookSecret = () => randomSecret("whsec");

export async function getOwnConfig(deps: Deps, actor: Actor & { role: "agent" }): Promise<ConfigView> {
  return inTransaction(deps.database, actor, async (tx) => {
    const [row] = await tx.select().from(agentConfig).where(eq(agentConfig.agentId, actor.agentId));
    return view(row);
  });
}

/** Changes the given fields. A new webhook_url gets a new secret, answered this once; null removes both. */
export async function updateOwnConfig(deps: Deps, actor: Actor & { role: "agent" }, input: ConfigInput): Promise<ConfigView> {
  assertSignedIn(actor, "change the agent's settings or webhook");
  // The address check resolves DNS: done before the transaction, and done again at every send.
  const url = input.webhook_url ? await checkedWebhookUrl(deps, input.webhook_url) : input.webhook_url;
  return inTransaction(deps.database, actor, async (tx) => {
    const current = await ownRow(tx, actor.agentId);
    let secret: string | undefined;
    const changes: Partial<ConfigRow> = {
      ...(input.webhook_events !== undefined ? { webhookEvents: input.webhook_events } : {}),
      ...(input.idle_timeout_seconds !== undefined ? { idleTimeoutSeconds: input.idle_timeout_seconds } : {}),
      ...(input.max_outbound_per_hour !== undefined ? { maxOutboundPerHour: input.max_outbound_per_hour } : {}),
      ...(input.max_inbound_wakes_per_hour !== undefined ? { maxInboundWakesPerHour: input.max_inbound_wakes_per_hour } : {}),
      ...(input.heartbeat_hint_seconds !== undefined ? { heartbeatHintSeconds: input.heartbeat_hint_seconds } : {}),
    };
    if (url === null) Object.assign(changes, { webhookUrl: null, webhookSecret: null });
    else if (url !== undefined && (url !== current.webhookUrl || !current.webhookSecret)) {
      secret = newWebhookSecret();
      Object.assign(changes, { webhookUrl: url, webhookSecret: secret });
    }
    if (Object.keys(changes).length === 0) return view(current);
    const [row] = await tx
      .update(agentConfig)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(agentConfig.agentId, actor.agentId))
      .returning();
    return view(row, secret);
  });
}

/** A new webhook secret, answered this once; the old one stops signing at once. */
export async function rotateWebhookSecret(deps: Deps, actor: Actor & { role: "agent" }): Promise<ConfigView> {
  assertSignedIn(actor, "rotate the webhook secret");
  return inTransaction(deps.database, actor, async (tx) => {
    const current = await ownRow(tx, actor.agentId);
    if (!current.webhookUrl) throw new AppError("conflict", "set a webhook_url first: the secret belongs to it");
    const secret = newWebhookSecret();
    const [row] = await tx
      .update(agentConfig)
      .set({ webhookSecret: secret, updatedAt: new Date() })
      .where(eq(agentConfig.agentId, actor.agentId))
      .returning();
    return view(row, secret);
  });
}

/** The agent's row, made with the defaults if it is missing (agents verified before settings existed). */
async function ownRow(tx: Tx, agentId: string): Promise<ConfigRow> {
  await tx.insert(agentConfig).values({ agentId }).onConflictDoNothing();
  const [row] = await tx.select().from(agentConfig).where(eq(agentConfig.agentId, agentId)).for("update");
  if (!row) throw new AppError("not_found", "agent not found");
  return row;
}

async function checkedWebhookUrl(deps: Deps, raw: string): Promise<string> {
  try {
    const { url } = await webhookTarget(deps, raw);
    url.hash = "";
    return url.toString();
  } catch (e) {
    if (!(e instanceof WebhookRefused)) throw e;
    throw new AppError("validation_failed", `webhook_url ${e.message}`, [{ field: "webhook_url", message: e.message }]);
  }
}
