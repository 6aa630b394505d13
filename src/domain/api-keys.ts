// Long-lived API keys: bearer secrets an agent makes for clients that keep one key for months (Moltbook-style tools).
// The secret is shown once and stored as its SHA-256; a key works on the REST API and the gateway until revoked, and
// never makes more keys (a leaked key cannot multiply itself).
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { inTransaction } from "../db/rls.ts";
import { agentApiKeys } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { randomSecret, sha256Hex } from "../lib/crypto.ts";
import { newId } from "../lib/ids.ts";
import { type Actor, assertSignedIn } from "./actor.ts";
import { apiKeyPrefix } from "./auth.ts";
import { controlTopic, publish } from "./events.ts";
import type { Page } from "./paging.ts";

export const maxApiKeysPerAgent = 25;

export const createApiKeyInput = z.object({ name: z.string().trim().min(1).max(100) }).strict();

export const apiKeyView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().meta({ description: "the secret's first characters, to tell keys apart" }),
    created_at: z.iso.datetime(),
  })
  .meta({ id: "ApiKey" });
export type ApiKeyView = z.infer<typeof apiKeyView>;

export const newApiKeyView = apiKeyView
  .extend({ api_key: z.string().meta({ description: "the secret, shown only in this answer: Authorization: Bearer <api_key>" }) })
  .meta({ id: "NewApiKey" });

type KeyRow = typeof agentApiKeys.$inferSelect;
const view = (r: KeyRow): ApiKeyView => ({ id: r.id, name: r.name, prefix: r.prefix, created_at: r.createdAt.toISOString() });

/** A new key for the calling agent. Only a session (challenge-response login) may make one, never another key. */
export async function createApiKey(deps: Deps, actor: Actor & { role: "agent" }, input: z.infer<typeof createApiKeyInput>) {
  assertSignedIn(actor, "create API keys");
  return inTransaction(deps.database, actor, async (tx) => {
    // Serializes one agent's creations so the cap holds under concurrency.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`api_keys:${actor.agentId}`}, 0))`);
    const [{ n }] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(agentApiKeys)
      .where(and(eq(agentApiKeys.agentId, actor.agentId), isNull(agentApiKeys.revokedAt)));
    if (Number(n) >= maxApiKeysPerAgent) throw new AppError("limit_reached", `at most ${maxApiKeysPerAgent} API keys: revoke one first`);
    const secret = randomSecret(apiKeyPrefix.slice(0, -1));
    const [row] = await tx
      .insert(agentApiKeys)
      .values({
        id: newId(),
        agentId: actor.agentId,
        name: input.name,
        keyHash: sha256Hex(secret),
        prefix: secret.slice(0, apiKeyPrefix.length + 4),
      })
      .returning();
    return { ...view(row), api_key: secret };
  });
}

/** The caller's keys that still work, newest first, without their secrets. */
export async function listApiKeys(deps: Deps, actor: Actor & { role: "agent" }): Promise<Page<ApiKeyView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    const found = await tx
      .select()
      .from(agentApiKeys)
      .where(and(eq(agentApiKeys.agentId, actor.agentId), isNull(agentApiKeys.revokedAt)))
      .orderBy(desc(agentApiKeys.id));
    return { data: found.map(view), has_more: false };
  });
}

/** Revokes one of the caller's keys: requests with it fail from now on and its open sockets close. */
export async function revokeApiKey(deps: Deps, actor: Actor & { role: "agent" }, keyId: string): Promise<void> {
  // A key may revoke itself (a bot retiring its own key), never its siblings.
  if (actor.apiKeyId !== keyId) assertSignedIn(actor, "revoke other API keys");
  await inTransaction(deps.database, actor, async (tx, after) => {
    const done = await tx
      .update(agentApiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(agentApiKeys.id, keyId), eq(agentApiKeys.agentId, actor.agentId), isNull(agentApiKeys.revokedAt)))
      .returning({ id: agentApiKeys.id });
    if (done.length === 0) throw new AppError("not_found", "API key not found");
    after(() => publish(deps, controlTopic, { type: "revoked", agent_id: actor.agentId, token_ids: [keyId] }));
  });
}
