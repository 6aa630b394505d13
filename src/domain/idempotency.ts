// Retries never duplicate: an act guarded by a key (a REST Idempotency-Key, a WebSocket message nonce) runs at most
// once per agent and key within 24 hours; a retry gets the first answer. The key is claimed inside the act's own
// transaction (underClaim, src/db/rls.ts), under the table's primary key: of two requests at the same moment one claims it and the
// other waits for its answer, and a claim exists exactly when the act committed.
import { and, eq, gt, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../db/client.ts";
import { type Claim, inTransaction, underClaim } from "../db/rls.ts";
import { idempotencyKeys } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError, isOutage, logFailure } from "../errors.ts";
import { type Actor, system } from "./actor.ts";

export const keyLifetimeHours = 24;
/** How long a retry waits for the first request's answer before giving up with 409. */
const answerWaitMs = 10_000;

/** 1 to 255 printable ASCII characters. */
export const idempotencyKey = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x20-\x7e]+$/, "1-255 printable ASCII characters");

/**
 * What a guarded act answered: its status and body as sent (JSON text; empty for 204). `keep: false` for an answer
 * that must never be stored (it holds a secret): the key is released, and a retry runs the act again.
 */
export type Answer = { status: number; body: string; keep?: boolean };

/**
 * Thrown inside the claiming transaction when another request holds the key (it rolls that transaction back). `once`
 * turns it into the other request's answer; it is an AppError only so that nothing on its way logs it as a failure.
 */
class KeyTaken extends AppError {
  constructor() {
    super("conflict", "a request with this key is being carried out");
  }
}

type AgentActor = Actor & { role: "agent" };

const lifetime = sql.raw(`interval '${keyLifetimeHours} hours'`);

/**
 * Runs `act` once for this agent and key, under the key's claim (src/db/rls.ts: the act's own transaction takes it) and
 * answers what to remember. A retry with the same request gets the first answer (`replayed`); with a different one,
 * 422 idempotency_mismatch. Only answers below 300 are kept: a refused act created nothing, so it may be retried.
 * When the database went away mid-act, the claim stays: the act may have committed, so it is never run again.
 */
export async function once(
  deps: Deps,
  actor: AgentActor,
  key: string,
  requestHash: string,
  act: () => Promise<Answer>,
  options: { lookFirst: boolean } = { lookFirst: true },
): Promise<Answer & { replayed: boolean }> {
  // Looking first spares a retry the act's own checks (a rate limit, a conflict) that would answer before the claim.
  // Where keys are on every request and retries are rare (gateway nonces), the claim alone decides, a query cheaper.
  const earlier = options.lookFirst ? await firstAnswer(deps, actor, key, requestHash) : undefined;
  if (earlier) return { ...earlier, replayed: true };
  const claim: Claim = { agentId: actor.agentId, taken: false, take: (tx) => take(tx, actor.agentId, key, requestHash) };
  let answer: Answer;
  try {
    answer = await underClaim(claim, act);
  } catch (e) {
    if (e instanceof KeyTaken || (e as Error)?.cause instanceof KeyTaken) {
      const theirs = await firstAnswer(deps, actor, key, requestHash);
      if (theirs) return { ...theirs, replayed: true };
      throw new AppError("conflict", "a concurrent request with this key failed: retry it");
    }
    if (claim.taken && !isOutage(e)) await forget(deps, actor, key);
    throw e;
  }
  if (answer.status >= 300 || answer.keep === false) {
    if (claim.taken && answer.status !== 503) await forget(deps, actor, key);
    return { ...answer, replayed: false };
  }
  await remember(deps, actor, key, requestHash, answer, claim.taken).catch((e) => {
    // The act is done and its answer goes out; a retry will be told the answer was lost, never run it again.
    logFailure("idempotency: could not store an answer", e);
  });
  return { ...answer, replayed: false };
}

async function take(tx: Tx, agentId: string, key: string, requestHash: string): Promise<void> {
  // An expired row (older than the lifetime, not yet cleaned up) is taken over; a live one is not.
  const claimed = await tx
    .insert(idempotencyKeys)
    .values({ agentId, key, requestHash })
    .onConflictDoUpdate({
      target: [idempotencyKeys.agentId, idempotencyKeys.key],
      set: { requestHash, responseStatus: null, responseBody: null, createdAt: sql`now()` },
      setWhere: sql`${idempotencyKeys.createdAt} < now() - ${lifetime}`,
    })
    .returning({ key: idempotencyKeys.key });
  if (claimed.length === 0) throw new KeyTaken();
}

/**
 * The first answer for this key, if a request with it has finished; waits while one is still running. Undefined when
 * the key is unused (or expired).
 */
async function firstAnswer(deps: Deps, actor: AgentActor, key: string, requestHash: string): Promise<Answer | undefined> {
  const deadline = Date.now() + answerWaitMs;
  for (;;) {
    const [row] = await inTransaction(deps.database, actor, (tx) =>
      tx
        .select({
          requestHash: idempotencyKeys.requestHash,
          responseStatus: idempotencyKeys.responseStatus,
          responseBody: idempotencyKeys.responseBody,
          // Claimed moments ago: its request is still running. Older and unanswered: the answer was lost.
          running: sql<boolean>`${idempotencyKeys.createdAt} > now() - ${sql.raw(`interval '${answerWaitMs} milliseconds'`)}`,
        })
        .from(idempotencyKeys)
        .where(
          and(
            eq(idempotencyKeys.agentId, actor.agentId),
            eq(idempotencyKeys.key, key),
            gt(idempotencyKeys.createdAt, sql`now() - ${lifetime}`),
          ),
        ),
    );
    if (!row) return undefined;
    if (row.requestHash !== requestHash) {
      throw new AppError("idempotency_mismatch", "this key was already used for a different request: use a new key for a new request");
    }
    if (row.responseStatus !== null) return { status: row.responseStatus, body: row.responseBody ?? "" };
    if (!row.running || Date.now() > deadline) {
      throw new AppError(
        "conflict",
        "a request with this key is still running, or was carried out and its answer lost; it is not carried out again",
      );
    }
    await Bun.sleep(50);
  }
}

async function remember(deps: Deps, actor: AgentActor, key: string, requestHash: string, answer: Answer, claimed: boolean): Promise<void> {
  await inTransaction(deps.database, actor, async (tx) => {
    if (claimed) {
      await tx
        .update(idempotencyKeys)
        .set({ responseStatus: answer.status, responseBody: answer.body })
        .where(and(eq(idempotencyKeys.agentId, actor.agentId), eq(idempotencyKeys.key, key)));
      return;
    }
    // The act wrote nothing as this agent (nothing to claim in): remember its answer all the same.
    await tx
      .insert(idempotencyKeys)
      .values({ agentId: actor.agentId, key, requestHash, responseStatus: answer.status, responseBody: answer.body })
      .onConflictDoNothing();
  });
}

async function forget(deps: Deps, actor: AgentActor, key: string): Promise<void> {
  await inTransaction(deps.database, actor, (tx) =>
    tx
      .delete(idempotencyKeys)
      .where(and(eq(idempotencyKeys.agentId, actor.agentId), eq(idempotencyKeys.key, key), sql`${idempotencyKeys.responseStatus} is null`)),
  ).catch((e) => logFailure("idempotency: could not release a key", e));
}

/** Deletes keys past their lifetime (the server runs this now and then). Answers how many went. */
export async function forgetExpiredKeys(deps: Deps): Promise<number> {
  const gone = await inTransaction(deps.database, system, (tx) =>
    tx
      .delete(idempotencyKeys)
      .where(lt(idempotencyKeys.createdAt, sql`now() - ${lifetime}`))
      .returning({ key: idempotencyKeys.key }),
  );
  return gone.length;
}
