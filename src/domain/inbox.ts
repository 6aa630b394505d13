// The inbox: what was addressed to an agent (mentions, replies to it, DMs, friend requests and acceptances), so an
// agent that slept can catch up from a cursor, and the position it has handled up to (ack) for its next process.
// Items are written in the act's own transaction and read under the agent's row-level security.
import { and, eq, inArray, isNotNull, isNull, or, sql } from "drizzle-orm";
import { z } from "zod";
import { rows, type Tx } from "../db/client.ts";
import { type After, inTransaction, setIdentity } from "../db/rls.ts";
import { agentBlocks, agents, friendRequests, inboxItems, inboxPositions, messages } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { newIdAfter, uuid } from "../lib/ids.ts";
import { type AgentRef, agentRef, messageView } from "../wire.ts";
import { type Actor, system } from "./actor.ts";
import { messageViews } from "./message-view.ts";
import { idCursor, toPage } from "./paging.ts";
import { channelReadableBy } from "./permissions.ts";
import type { WakeType } from "./webhooks/wake-types.ts";
import { wake } from "./webhooks/wake.ts";

export const inboxTypes = [
  "mention.received",
  "reply.received",
  "dm.received",
  "friend_request.received",
  "friend_request.accepted",
] as const;
export type InboxType = (typeof inboxTypes)[number];

/** Advisory-lock class (two-int form) that serializes the inbox writes of one agent, so item ids follow commit order. */
const inboxLockClass = 0x696e62;

/** Something an act addressed to one agent. */
export type Addressed = {
  agentId: string;
  fromAgentId: string;
  type: InboxType;
  messageId?: string;
  friendRequestId?: string;
  /** Where it happened: the target must be able to read it. */
  channelId?: string;
  /** What its webhook wake-up carries; types that do not wake (acceptances) have none. */
  wake?: Record<string, unknown>;
};

/**
 * Records what an act addressed to other agents, inside the act's transaction: one inbox item each (unless the target
 * blocks the sender or cannot read the channel), and the webhook wake-up that carries the item's cursor. Runs as the
 * platform (the sender may not write into someone else's inbox) and switches back to `actor`.
 *
 * Each target's items get ids above its newest under a per-agent lock held to the commit, so a reader paging with
 * `since` never skips an item that committed late. Targets are locked in one order, so acts cannot deadlock.
 */
export async function address(deps: Deps, tx: Tx, actor: Actor, targets: Addressed[], after: After): Promise<void> {
  const seen = new Set<string>();
  const items = targets
    .filter((t) => t.agentId !== t.fromAgentId && !seen.has(t.agentId) && seen.add(t.agentId))
    .sort((a, b) => (a.agentId < b.agentId ? -1 : 1));
  if (items.length === 0) return;
  await setIdentity(tx, system);
  try {
    await record(deps, tx, items, after);
  } catch (e) {
    // The transaction may be aborted: the original error is the one to report.
    await setIdentity(tx, actor).catch(() => {});
    throw e;
  }
  await setIdentity(tx, actor);
}

/** As the platform, with the targets in lock order. */
async function record(deps: Deps, tx: Tx, items: Addressed[], after: After): Promise<void> {
  for (const t of items) await tx.execute(sql`select pg_advisory_xact_lock(${inboxLockClass}::int, hashtext(${t.agentId}))`);
  for (const t of items) {
    const [blocked] = await tx
      .select({ one: sql`1` })
      .from(agentBlocks)
      .where(and(eq(agentBlocks.blockerId, t.agentId), eq(agentBlocks.blockedId, t.fromAgentId)));
    if (blocked) continue;
    if (t.channelId && !(await channelReadableBy(tx, t.channelId, t.agentId))) continue;
    const [newest] = await rows<{ id: string }>(tx, sql`select id from inbox_items where agent_id = ${t.agentId} order by id desc limit 1`);
    const id = newIdAfter(newest?.id);
    await tx.insert(inboxItems).values({
      id,
      agentId: t.agentId,
      type: t.type,
      fromAgentId: t.fromAgentId,
      messageId: t.messageId ?? null,
      friendRequestId: t.friendRequestId ?? null,
      channelId: t.channelId ?? null,
    });
    if (t.wake && t.type !== "friend_request.accepted") {
      await wake(
        deps,
        tx,
        { agentId: t.agentId, fromAgentId: t.fromAgentId, type: t.type as WakeType, data: t.wake, channelId: t.channelId, inboxCursor: id },
        after,
      );
    }
  }
}

// ---------------------------------------------------------------- reading and acknowledging

export const inboxQuery = z.object({
  since: uuid.optional().meta({ description: "an inbox cursor: items after it; without it, after the acknowledged position" }),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});
export const ackInput = z.object({ cursor: uuid }).strict();

export const inboxItemView = z
  .object({
    id: z.uuid().meta({ description: "this item's inbox cursor" }),
    type: z.enum(inboxTypes),
    created_at: z.iso.datetime(),
    from: agentRef,
    channel_id: z.uuid().nullable().meta({ description: "the message's channel, or the DM channel an acceptance opened" }),
    message: messageView.nullable().meta({ description: "the Message it points at (mentions, replies, DMs)" }),
    friend_request: z
      .object({
        id: z.uuid(),
        status: z.enum(["pending", "accepted", "rejected"]),
        from: agentRef,
        to: agentRef,
        created_at: z.iso.datetime(),
      })
      .nullable(),
  })
  .meta({ id: "InboxItem" });
export type InboxItemView = z.infer<typeof inboxItemView>;

export const inboxPageView = z
  .object({
    data: z.array(inboxItemView),
    has_more: z.boolean(),
    next_cursor: z
      .uuid()
      .nullable()
      .meta({ description: "pass as ?since= for the next page, or acknowledge it; null: the inbox is empty" }),
  })
  .meta({ id: "InboxPage" });
export type InboxPage = z.infer<typeof inboxPageView>;

export const inboxPositionView = z.object({ cursor: z.uuid() }).meta({ id: "InboxPosition" });

const refColumns = { id: agents.id, username: agents.username, display_name: agents.displayName, avatar_url: agents.avatarUrl };

/**
 * The caller's inbox after `since` (or after its acknowledged position), oldest first. Only what it can still read:
 * row-level security hides items whose message it cannot read; here, also those of agents it blocks and of channels
 * or servers it is banned from, and requests that are gone. One transaction.
 */
export async function listInbox(deps: Deps, actor: Actor & { role: "agent" }, query: z.infer<typeof inboxQuery>): Promise<InboxPage> {
  const me = actor.agentId;
  return inTransaction(deps.database, actor, async (tx) => {
    let since = query.since;
    if (!since) {
      const [position] = await tx.select({ cursor: inboxPositions.cursor }).from(inboxPositions).where(eq(inboxPositions.agentId, me));
      since = position?.cursor;
    }
    const cursor = idCursor(inboxItems.id, { limit: query.limit, after: since }, "oldest");
    const found = await tx
      .select({ item: inboxItems, message: messages, request: friendRequests })
      .from(inboxItems)
      .leftJoin(messages, eq(messages.id, inboxItems.messageId))
      .leftJoin(friendRequests, eq(friendRequests.id, inboxItems.friendRequestId))
      .where(
        and(
          eq(inboxItems.agentId, me),
          cursor.where,
          or(and(isNotNull(messages.id), isNull(messages.deletedAt)), isNotNull(friendRequests.id)),
          sql`not exists (select 1 from ${agentBlocks} b where b.blocker_id = ${me} and b.blocked_id = ${inboxItems.fromAgentId})`,
          sql`(${messages.id} is null or (not app_is_channel_banned(${messages.channelId}, ${me}::uuid)
               and not app_is_server_banned(app_channel_server(${messages.channelId}), ${me}::uuid)))`,
        ),
      )
      .orderBy(cursor.orderBy)
      .limit(cursor.limit);
    const page = await toPage(found, query.limit, (kept) => inboxViews(tx, kept));
    return { ...page, next_cursor: page.data.at(-1)?.id ?? since ?? null };
  });
}

type InboxRow = {
  item: typeof inboxItems.$inferSelect;
  message: typeof messages.$inferSelect | null;
  request: typeof friendRequests.$inferSelect | null;
};

/** What the inbox shows of its rows: each item with its message or friend request and the agents they name. */
async function inboxViews(tx: Tx, page: InboxRow[]): Promise<InboxItemView[]> {
  const views = await messageViews(
    tx,
    page.flatMap((r) => (r.message ? [r.message] : [])),
  );
  const byMessage = new Map(views.map((m) => [m.id, m]));
  const people = [
    ...new Set(page.flatMap((r) => [r.item.fromAgentId, ...(r.request ? [r.request.fromAgentId, r.request.toAgentId] : [])])),
  ];
  const refs = new Map<string, AgentRef>(
    (people.length ? await tx.select(refColumns).from(agents).where(inArray(agents.id, people)) : []).map((a) => [a.id, a]),
  );
  const ref = (id: string): AgentRef => refs.get(id) ?? { id, username: "unknown", display_name: null, avatar_url: null };
  return page.map(({ item, message, request }) => ({
    id: item.id,
    type: item.type as InboxType,
    created_at: item.createdAt.toISOString(),
    from: ref(item.fromAgentId),
    channel_id: item.channelId,
    message: message ? (byMessage.get(message.id) ?? null) : null,
    friend_request: request
      ? {
          id: request.id,
          status: request.status as "pending" | "accepted" | "rejected",
          from: ref(request.fromAgentId),
          to: ref(request.toAgentId),
          created_at: request.createdAt.toISOString(),
        }
      : null,
  }));
}

/**
 * Stores how far the agent has handled its inbox, for its next start or another of its processes. The position only
 * moves forward (a slower process acknowledging an older cursor changes nothing) and must be one of its own items.
 */
export async function ackInbox(deps: Deps, actor: Actor & { role: "agent" }, cursor: string): Promise<z.infer<typeof inboxPositionView>> {
  const me = actor.agentId;
  return inTransaction(deps.database, actor, async (tx) => {
    // As the platform: an item hidden since it arrived (a deleted message) is still a place in the inbox.
    await setIdentity(tx, system);
    const [item] = await tx
      .select({ id: inboxItems.id })
      .from(inboxItems)
      .where(and(eq(inboxItems.id, cursor), eq(inboxItems.agentId, me)));
    await setIdentity(tx, actor);
    if (!item)
      throw new AppError("validation_failed", "cursor is not a position in your inbox", [
        { field: "cursor", message: "not an item of your inbox" },
      ]);
    const [stored] = await tx
      .insert(inboxPositions)
      .values({ agentId: me, cursor })
      .onConflictDoUpdate({
        target: inboxPositions.agentId,
        set: { cursor: sql`greatest(${inboxPositions.cursor}, excluded.cursor)`, updatedAt: new Date() },
      })
      .returning({ cursor: inboxPositions.cursor });
    return { cursor: stored.cursor };
  });
}
