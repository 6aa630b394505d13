// The outbox worker: every instance drains webhook_deliveries, sending each due wake signed to its agent's webhook,
// at least once, retried with backoff, never to a private address. Also the agent's own view of its deliveries.
import { isIP } from "node:net";
import { and, asc, eq, inArray, lte, min, sql } from "drizzle-orm";
import { z } from "zod";
import { inTransaction } from "../../db/rls.ts";
import { agentConfig, webhookDeliveries } from "../../db/schema.ts";
import type { Deps } from "../../deps.ts";
import { logFailure } from "../../errors.ts";
import { type Actor, system } from "../actor.ts";
import { idCursor, type Page, pageQuery, toPage } from "../paging.ts";
import { requestTimeoutMs, webhookTarget } from "./address.ts";
import { type WakeEvent, webhookSignature } from "./wake.ts";

/** Attempts before a delivery is dead: with the default 30 s base the retries span about an hour. */
export const maxAttempts = 8;
/** A claimed delivery is invisible to other workers this long; if its worker dies, it is retried after it. */
const leaseMs = 60_000;
const claimSize = 20;
const pollMs = 1_000;

type Claimed = { id: string; agentId: string; payload: WakeEvent; attempts: number; url: string | null; secret: string | null };
type Outcome = { ok: boolean; status?: number; error?: string; final?: boolean };

/**
 * Drains the outbox: claims due deliveries (FOR UPDATE SKIP LOCKED, so instances share the work), leases them, sends
 * them, records the outcome. `stop()` lets in-flight sends finish and record.
 */
export function startWebhookWorker(deps: Deps): { stop(): Promise<void> } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, ms));
  };
  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      let next = pollMs;
      try {
        next = Math.min(pollMs, await drainOnce(deps));
      } catch (e) {
        if (!stopped) logFailure("webhook worker", e);
      }
      running = undefined;
      schedule(again ? 0 : next);
      again = false;
    })();
  };

  const unlisten = deps.wakes.add(() => schedule(0));
  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      unlisten();
      await running;
    },
  };
}

/** One round: claim, send, record. Answers how long until the next delivery is due (0: claim again now). */
async function drainOnce(deps: Deps): Promise<number> {
  const { claimed, nextDue } = await claim(deps);
  await Promise.all(
    claimed.map(async (d) => {
      const outcome = await send(deps, d);
      await record(deps, d, outcome);
    }),
  );
  // After sending, look again at once: more may be due, and the empty round learns when the next one is.
  if (claimed.length > 0) return 0;
  return nextDue === undefined ? pollMs : nextDue - Date.now();
}

async function claim(deps: Deps): Promise<{ claimed: Claimed[]; nextDue?: number }> {
  return inTransaction(deps.database, system, async (tx) => {
    const now = new Date();
    const due = await tx
      .select({
        id: webhookDeliveries.id,
        agentId: webhookDeliveries.agentId,
        payload: webhookDeliveries.payload,
        attempts: webhookDeliveries.attempts,
      })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, now)))
      .orderBy(asc(webhookDeliveries.nextAttemptAt))
      .limit(claimSize)
      .for("update", { skipLocked: true });
    if (due.length === 0) {
      const [next] = await tx
        .select({ at: min(webhookDeliveries.nextAttemptAt) })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.status, "pending"));
      return { claimed: [], nextDue: next?.at ? new Date(next.at).getTime() : undefined };
    }
    // The attempt counts from the claim: a worker that dies mid-send still used it, and the lease brings the row back.
    await tx
      .update(webhookDeliveries)
      .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, nextAttemptAt: new Date(now.getTime() + leaseMs) })
      .where(
        inArray(
          webhookDeliveries.id,
          due.map((d) => d.id),
        ),
      );
    const configs = await tx
      .select({ agentId: agentConfig.agentId, url: agentConfig.webhookUrl, secret: agentConfig.webhookSecret })
      .from(agentConfig)
      .where(inArray(agentConfig.agentId, [...new Set(due.map((d) => d.agentId))]));
    const byAgent = new Map(configs.map((c) => [c.agentId, c]));
    return {
      claimed: due.map((d) => ({
        id: d.id,
        agentId: d.agentId,
        payload: d.payload as WakeEvent,
        attempts: d.attempts + 1,
        url: byAgent.get(d.agentId)?.url ?? null,
        secret: byAgent.get(d.agentId)?.secret ?? null,
      })),
    };
  });
}

async function send(deps: Deps, d: Claimed): Promise<Outcome> {
  if (!d.url || !d.secret) return { ok: false, error: "the agent has no webhook_url any more", final: true };
  let target: { url: URL; address: string };
  try {
    target = await webhookTarget(deps, d.url);
  } catch (e) {
    return { ok: false, error: `not sent: webhook_url ${(e as Error).message}` };
  }
  const { id, type, created_at, inbox_cursor, data } = d.payload;
  const body = JSON.stringify({ id, type, created_at, inbox_cursor, data });
  const timestamp = String(Math.floor(Date.now() / 1000));
  // Connect to the address that was checked, naming the host in Host and in TLS (SNI and certificate check).
  const pinned = new URL(target.url);
  pinned.hostname = target.address.includes(":") ? `[${target.address}]` : target.address;
  pinned.hash = "";
  const literalHost = isIP(target.url.hostname.replace(/^\[(.*)\]$/, "$1")) !== 0;
  try {
    const res = await fetch(pinned, {
      method: "POST",
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(requestTimeoutMs),
      headers: {
        host: target.url.host,
        "content-type": "application/json",
        "user-agent": "MoltStack-Webhook/1",
        "x-moltstack-timestamp": timestamp,
        "x-moltstack-event-id": id,
        "x-moltstack-signature": webhookSignature(d.secret, timestamp, body),
      },
      ...(target.url.protocol === "https:" && !literalHost ? { tls: { serverName: target.url.hostname } } : {}),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const why = res.status >= 300 && res.status < 400 ? `redirect (HTTP ${res.status}) not followed` : `HTTP ${res.status}`;
    return { ok: false, status: res.status, error: why };
  } catch (e) {
    const err = e as Error;
    const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
    return {
      ok: false,
      error: timedOut ? `no answer within ${requestTimeoutMs / 1000} s` : `request failed: ${err.message.slice(0, 200)}`,
    };
  }
}

/** Exponential backoff with jitter: base·2^(n-1), between half and all of it. */
function retryDelayMs(deps: Deps, attempts: number): number {
  const full = deps.config.webhookRetryBaseMs * 2 ** (attempts - 1);
  return Math.round(full * (0.5 + Math.random() * 0.5));
}

function originOf(url: string | null): string {
  if (!url) return "(no webhook_url)";
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid webhook_url)";
  }
}

async function record(deps: Deps, d: Claimed, outcome: Outcome): Promise<void> {
  const dead = !outcome.ok && (outcome.final || d.attempts >= maxAttempts);
  const retryMs = retryDelayMs(deps, d.attempts);
  if (!outcome.ok) {
    // For the operator: which delivery, where to (the origin only: a webhook URL's path or query may hold a token),
    // and why. Never the payload, the signature or the secret.
    console.error(
      `webhook: delivery ${d.id} for agent ${d.agentId} to ${originOf(d.url)} failed (attempt ${d.attempts}/${maxAttempts}): ${outcome.error ?? "failed"}; ${dead ? "given up" : `retrying in ${(retryMs / 1000).toFixed(1)} s`}`,
    );
  }
  await inTransaction(deps.database, system, async (tx) => {
    const now = new Date();
    await tx
      .update(webhookDeliveries)
      .set({
        status: outcome.ok ? "delivered" : dead ? "dead" : "pending",
        lastStatus: outcome.status ?? null,
        lastError: outcome.ok ? null : (outcome.error ?? "failed"),
        deliveredAt: outcome.ok ? now : null,
        nextAttemptAt: outcome.ok || dead ? now : new Date(now.getTime() + retryMs),
      })
      // Only the claim we hold: if our lease ran out and another worker took the row, its outcome wins.
      .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.status, "pending"), eq(webhookDeliveries.attempts, d.attempts)));
  });
}

// ---------------------------------------------------------------- the agent's view of its deliveries

export const deliveriesQuery = pageQuery.extend({ status: z.enum(["pending", "delivered", "dead"]).optional() });

export const deliveryView = z
  .object({
    id: z.uuid().meta({ description: "the event id of the payload" }),
    type: z.string(),
    status: z.string().meta({ description: "pending, delivered or dead" }),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.iso.datetime({ offset: true }).nullable(),
    created_at: z.iso.datetime({ offset: true }),
    delivered_at: z.iso.datetime({ offset: true }).nullable(),
    payload: z.unknown().meta({ description: "the JSON body POSTed to the webhook" }),
  })
  .meta({ id: "WebhookDelivery" });
export type DeliveryView = z.infer<typeof deliveryView>;

/** The caller's own deliveries, newest first (oldest first from `after`). The id is the event id of the payload. */
export async function listDeliveries(
  deps: Deps,
  actor: Actor & { role: "agent" },
  query: z.infer<typeof deliveriesQuery>,
): Promise<Page<DeliveryView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    const cursor = idCursor(webhookDeliveries.id, query);
    const found = await tx
      .select()
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.agentId, actor.agentId),
          query.status ? eq(webhookDeliveries.status, query.status) : undefined,
          cursor.where,
        ),
      )
      .orderBy(cursor.orderBy)
      .limit(cursor.limit);
    return toPage(found, query.limit, (kept) =>
      kept.map((r) => ({
        id: r.id,
        type: r.eventType,
        status: r.status,
        attempts: r.attempts,
        last_status: r.lastStatus,
        last_error: r.lastError,
        next_attempt_at: r.status === "pending" ? r.nextAttemptAt.toISOString() : null,
        created_at: r.createdAt.toISOString(),
        delivered_at: r.deliveredAt?.toISOString() ?? null,
        payload: r.payload,
      })),
    );
  });
}
