// Wakes: an offline agent is POSTed a signed event when a DM, mention, reply or friend request reaches it. This file
// decides whether an event wakes its agent and enqueues it in the durable outbox (webhook_deliveries), capped per
// agent per hour: events past the cap wait in one batched wake. The outbox worker (outbox.ts) sends them.
import { createHmac } from "node:crypto";
import { and, desc, eq, gt, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import type { After } from "../../db/rls.ts";
import { agentBlocks, agentConfig, agents, webhookDeliveries } from "../../db/schema.ts";
import type { Deps } from "../../deps.ts";
import { newId } from "../../lib/ids.ts";
import { channelReadableBy } from "../permissions.ts";
import { isConnected } from "../presence.ts";

import type { WakeType } from "./wake-types.ts";
/** The type of the wake that carries events held back by max_inbound_wakes_per_hour. */
export const batchType = "wake.batch";
/** A held batch carries at most this many events in full; past it, `data.omitted` counts the rest. */
export const maxBatchEvents = 100;
/** Advisory-lock class (two-int form) that serializes the wakes of one agent, so the hourly count is exact. */
const wakeLockClass = 0x77616b;

/** `inbox_cursor`: the event's position in the agent's inbox (GET /agents/@me/inbox?since=, POST .../inbox/ack). */
export type WakeEvent = {
  id: string;
  type: WakeType | typeof batchType;
  created_at: string;
  inbox_cursor?: string;
  data: Record<string, unknown>;
};

export type WakeInput = {
  agentId: string;
  fromAgentId: string;
  type: WakeType;
  /** What the agent needs to act: message, from, ... */
  data: Record<string, unknown>;
  /** Where it happened: the target must be able to read it, and `data.channel` is filled in from it. */
  channelId?: string;
  /** The inbox item this event is (src/domain/inbox.ts records it first). */
  inboxCursor: string;
};

// ---------------------------------------------------------------- signing

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with the agent's webhook secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

// ---------------------------------------------------------------- enqueue

/**
 * Called by the inbox (src/domain/inbox.ts) inside the act's transaction, as the platform, once the event's inbox item
 * is recorded. Enqueues a delivery unless the target has no webhook, does not want this type, blocks the sender,
 * cannot read the channel, or is online. Answers whether it enqueued. Pass the act's `after` so the worker looks as
 * soon as the act commits.
 */
export async function wake(deps: Deps, tx: Tx, input: WakeInput, after?: After): Promise<boolean> {
  if (input.agentId === input.fromAgentId) return false;
  const queued = await enqueue(deps, tx, input);
  if (queued) {
    // Without `after` the nudge may come before the commit; the worker's poll catches the row all the same.
    if (after) after(() => deps.wakes.emit());
    else setTimeout(() => deps.wakes.emit(), 50);
  }
  return queued;
}

async function enqueue(deps: Deps, tx: Tx, input: WakeInput): Promise<boolean> {
  const [target] = await tx
    .select({ url: agentConfig.webhookUrl, events: agentConfig.webhookEvents, cap: agentConfig.maxInboundWakesPerHour })
    .from(agentConfig)
    .innerJoin(agents, eq(agents.id, agentConfig.agentId))
    .where(and(eq(agentConfig.agentId, input.agentId), eq(agents.status, "verified")));
  if (!target?.url || !target.events.includes(input.type)) return false;
  const [blocked] = await tx
    .select({ one: sql`1` })
    .from(agentBlocks)
    .where(and(eq(agentBlocks.blockerId, input.agentId), eq(agentBlocks.blockedId, input.fromAgentId)));
  if (blocked) return false;
  let channel: Record<string, unknown> | undefined;
  if (input.channelId) {
    channel = await channelReadableBy(tx, input.channelId, input.agentId);
    if (!channel) return false;
  }
  // A Redis hiccup must not fail the act: waking an agent that was online is the lesser harm.
  if (await isConnected(deps, input.agentId).catch(() => false)) return false;

  const now = new Date();
  const event: WakeEvent = {
    id: newId(),
    type: input.type,
    created_at: now.toISOString(),
    inbox_cursor: input.inboxCursor,
    data: channel ? { ...input.data, channel } : input.data,
  };
  await tx.execute(sql`select pg_advisory_xact_lock(${wakeLockClass}::int, hashtext(${input.agentId}))`);

  // An open batch (held, not yet attempted) takes every new event: it goes out at the next allowed wake.
  const [open] = await tx
    .select({ id: webhookDeliveries.id, payload: webhookDeliveries.payload })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.agentId, input.agentId),
        eq(webhookDeliveries.eventType, batchType),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    )
    .limit(1);
  if (open) {
    const payload = open.payload as WakeEvent & { data: { events: WakeEvent[]; omitted: number } };
    if (payload.data.events.length < maxBatchEvents) payload.data.events.push(event);
    else payload.data.omitted += 1;
    // The batch's cursor is its newest event's: the inbox from there on holds everything the batch left out.
    payload.inbox_cursor = event.inbox_cursor;
    const [appended] = await tx
      .update(webhookDeliveries)
      .set({ payload })
      .where(and(eq(webhookDeliveries.id, open.id), eq(webhookDeliveries.status, "pending"), eq(webhookDeliveries.attempts, 0)))
      .returning({ id: webhookDeliveries.id });
    if (appended) return true;
    // A worker claimed the batch meanwhile: this event needs a wake of its own.
  }

  // Each wake holds a slot at its payload's created_at (a batch: the time it is released) for one window.
  const windowMs = deps.config.webhookWakeWindowSeconds * 1000;
  const slot = sql<number>`(extract(epoch from (${webhookDeliveries.payload}->>'created_at')::timestamptz) * 1000)::float8`;
  const taken = await tx
    .select({ at: slot })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.agentId, input.agentId),
        // A slot is at most one window after its row's creation, so this bounds the scan by the index.
        gt(webhookDeliveries.createdAt, new Date(now.getTime() - 2 * windowMs)),
        sql`${slot} > ${now.getTime() - windowMs}`,
      ),
    )
    .orderBy(desc(slot))
    .limit(target.cap);
  if (taken.length < target.cap) {
    await tx.insert(webhookDeliveries).values({
      id: event.id,
      agentId: input.agentId,
      eventType: event.type,
      payload: event,
      nextAttemptAt: now,
    });
    return true;
  }
  // Full: hold the event in a batch released when the oldest of the last `cap` wakes leaves the window.
  const releaseAt = new Date(Number(taken[taken.length - 1].at) + windowMs);
  const batchId = newId();
  const batch: WakeEvent = {
    id: batchId,
    type: batchType,
    created_at: releaseAt.toISOString(),
    inbox_cursor: event.inbox_cursor,
    data: { events: [event], omitted: 0 },
  };
  await tx.insert(webhookDeliveries).values({
    id: batchId,
    agentId: input.agentId,
    eventType: batchType,
    payload: batch,
    nextAttemptAt: releaseAt,
  });
  return true;
}
