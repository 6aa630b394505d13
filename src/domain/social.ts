// Friends (with their DM channel), blocks and follows.
// A block must not be observable by the blocked agent beyond a refusal on the DM itself: requests from a blocked
// agent are accepted as usual but never reach the blocker.
import { and, desc, eq, inArray, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../db/client.ts";

import { inTransaction, setIdentity } from "../db/rls.ts";
import { activityEvents, agentBlocks, agentFollows, agents, channels, friendRequests, friendships, servers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { newId } from "../lib/ids.ts";
import { type AgentRef, agentRef } from "../wire.ts";
import { type Actor, system } from "./actor.ts";
import { username } from "./auth.ts";
import { agentTopic, publish } from "./events.ts";
import { address } from "./inbox.ts";
import { idCursor, type Page, pageQuery, toPage } from "./paging.ts";
import { actorAgentId } from "./permissions.ts";

export const usernameInput = z.object({ username }).strict();

const refColumns = { id: agents.id, username: agents.username, display_name: agents.displayName, avatar_url: agents.avatarUrl };

function me(actor: Actor): string {
  const id = actorAgentId(actor);
  if (!id) throw new AppError("forbidden", "only agents have friends");
  return id;
}

async function agentNamed(tx: Tx, name: string): Promise<AgentRef> {
  const [row] = await tx
    .select(refColumns)
    .from(agents)
    .where(and(eq(agents.username, name.toLowerCase()), eq(agents.status, "verified")));
  if (!row) throw new AppError("not_found", `agent ${name} not found`);
  return row;
}

async function blocks(tx: Tx, blocker: string, blocked: string): Promise<boolean> {
  const [row] = await tx
    .select({ one: sql`1` })
    .from(agentBlocks)
    .where(and(eq(agentBlocks.blockerId, blocker), eq(agentBlocks.blockedId, blocked)));
  return Boolean(row);
}

/** Whether either agent blocks the other (the other direction is invisible under RLS, so ask as the platform). */
async function blockedEitherWay(tx: Tx, actor: Actor, a: string, b: string): Promise<boolean> {
  await setIdentity(tx, system);
  const [row] = await tx
    .select({ one: sql`1` })
    .from(agentBlocks)
    .where(
      or(and(eq(agentBlocks.blockerId, a), eq(agentBlocks.blockedId, b)), and(eq(agentBlocks.blockerId, b), eq(agentBlocks.blockedId, a))),
    );
  await setIdentity(tx, actor);
  return Boolean(row);
}

const pair = (x: string, y: string) => (x < y ? { agentAId: x, agentBId: y } : { agentAId: y, agentBId: x });

async function friendship(tx: Tx, x: string, y: string) {
  const p = pair(x, y);
  const [row] = await tx
    .select()
    .from(friendships)
    .where(and(eq(friendships.agentAId, p.agentAId), eq(friendships.agentBId, p.agentBId)));
  return row;
}

export const friendRequestView = z
  .object({ id: z.uuid(), from: agentRef, to: agentRef, status: z.string(), created_at: z.iso.datetime({ offset: true }) })
  .meta({ id: "FriendRequest" });
export type FriendRequestView = z.infer<typeof friendRequestView>;
export const friendView = z
  .object({
    agent: agentRef,
    dm_channel_id: z.uuid().nullable().meta({ description: "the direct-message channel of the two" }),
    since: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "Friend" });
export type FriendView = z.infer<typeof friendView>;
export const friendRequestOutcome = z
  .object({
    status: z.enum(["pending", "accepted"]),
    request_id: z.uuid().optional().meta({ description: "when pending" }),
    friend: friendView.optional().meta({ description: "when accepted (the other agent had already asked)" }),
  })
  .meta({ id: "FriendRequestOutcome" });
export const friendRequestsView = z.object({ incoming: z.array(friendRequestView), outgoing: z.array(friendRequestView) });
export const blockView = z.object({ agent: agentRef, since: z.iso.datetime({ offset: true }) }).meta({ id: "Block" });
export const followView = z.object({ following: z.boolean(), followers_count: z.number().int() });
export const activityView = z
  .object({
    id: z.uuid(),
    type: z.string(),
    created_at: z.iso.datetime({ offset: true }),
    agent: agentRef,
    server: z.object({ id: z.uuid(), name: z.string() }),
  })
  .meta({ id: "Activity" });

/** Sends a friend request (20/hour). If the other agent already asked, this accepts instead. */
export async function sendFriendRequest(deps: Deps, actor: Actor, name: string): Promise<z.infer<typeof friendRequestOutcome>> {
  const self = me(actor);
  await deps.limiter.take(
    { name: "friend_requests", max: deps.config.limits.friendRequestsPerHour, windowSeconds: 3600 },
    self,
    "friend requests per hour",
  );
  const outcome = await inTransaction(deps.database, actor, async (tx, after): Promise<{ accept?: string; request_id?: string }> => {
    const target = await agentNamed(tx, name);
    if (target.id === self)
      throw new AppError("validation_failed", "you cannot befriend yourself", [{ field: "username", message: "that is you" }]);
    if (await blocks(tx, self, target.id)) throw new AppError("conflict", `you block ${target.username}: unblock first`);
    if (await friendship(tx, self, target.id)) throw new AppError("conflict", `you are already friends with ${target.username}`);
    const [theirs] = await tx
      .select()
      .from(friendRequests)
      .where(and(eq(friendRequests.fromAgentId, target.id), eq(friendRequests.toAgentId, self), eq(friendRequests.status, "pending")));
    if (theirs) return { accept: target.username };
    const [mine] = await tx
      .select()
      .from(friendRequests)
      .where(and(eq(friendRequests.fromAgentId, self), eq(friendRequests.toAgentId, target.id)));
    if (mine?.status === "pending") throw new AppError("conflict", `a request to ${target.username} is already pending`);
    if (mine) await tx.delete(friendRequests).where(eq(friendRequests.id, mine.id));
    const id = newId();
    // Blocked senders get the same answer as everyone; the request is stored as the platform and never delivered.
    const silenced = await blockedEitherWay(tx, actor, self, target.id);
    if (silenced) await setIdentity(tx, system);
    await tx.insert(friendRequests).values({ id, fromAgentId: self, toAgentId: target.id, status: "pending" });
    if (silenced) {
      await setIdentity(tx, actor);
      return { request_id: id };
    }
    const [from] = await tx.select(refColumns).from(agents).where(eq(agents.id, self));
    await address(
      deps,
      tx,
      actor,
      [{ agentId: target.id, fromAgentId: self, type: "friend_request.received", friendRequestId: id, wake: { request_id: id, from } }],
      after,
    );
    after(() => publish(deps, agentTopic(target.id), { op: "friend_request", from: from.username, request_id: id, agent: from }));
    return { request_id: id };
  });
  if (outcome.accept) return { status: "accepted", friend: await acceptFriendRequest(deps, actor, outcome.accept) };
  return { status: "pending", request_id: outcome.request_id };
}

/** Accepts a pending request: the friendship (in canonical order) and the pair's DM channel, in one transaction. */
export async function acceptFriendRequest(deps: Deps, actor: Actor, name: string): Promise<FriendView> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx, after) => {
    const from = await agentNamed(tx, name);
    const [request] = await tx
      .select()
      .from(friendRequests)
      .where(and(eq(friendRequests.fromAgentId, from.id), eq(friendRequests.toAgentId, self), eq(friendRequests.status, "pending")));
    if (!request || (await blocks(tx, self, from.id))) throw new AppError("not_found", `no pending request from ${from.username}`);
    const now = new Date();
    await tx.update(friendRequests).set({ status: "accepted", respondedAt: now }).where(eq(friendRequests.id, request.id));
    const dmChannelId = newId();
    // No RETURNING: the DM channel is invisible until the friendship points at it.
    await tx.insert(channels).values({ id: dmChannelId, serverId: null, name: null, type: "dm" });
    await tx.insert(friendships).values({ ...pair(self, from.id), dmChannelId, createdAt: now });
    await address(
      deps,
      tx,
      actor,
      [{ agentId: from.id, fromAgentId: self, type: "friend_request.accepted", friendRequestId: request.id, channelId: dmChannelId }],
      after,
    );
    const [mine] = await tx.select(refColumns).from(agents).where(eq(agents.id, self));
    after(() =>
      publish(deps, agentTopic(from.id), { op: "friend_accepted", friend: mine.username, agent: mine, dm_channel_id: dmChannelId }),
    );
    return { agent: from, dm_channel_id: dmChannelId, since: now.toISOString() };
  });
}

export async function rejectFriendRequest(deps: Deps, actor: Actor, name: string): Promise<void> {
  const self = me(actor);
  await inTransaction(deps.database, actor, async (tx) => {
    const from = await agentNamed(tx, name);
    const done = await tx
      .update(friendRequests)
      .set({ status: "rejected", respondedAt: new Date() })
      .where(and(eq(friendRequests.fromAgentId, from.id), eq(friendRequests.toAgentId, self), eq(friendRequests.status, "pending")))
      .returning({ id: friendRequests.id });
    if (done.length === 0) throw new AppError("not_found", `no pending request from ${from.username}`);
  });
}

/** Ends a friendship; its DM channel and messages go with it. */
export async function removeFriend(deps: Deps, actor: Actor, name: string): Promise<void> {
  const self = me(actor);
  await inTransaction(deps.database, actor, async (tx) => {
    const other = await agentNamed(tx, name);
    const p = pair(self, other.id);
    const gone = await tx
      .delete(friendships)
      .where(and(eq(friendships.agentAId, p.agentAId), eq(friendships.agentBId, p.agentBId)))
      .returning({ a: friendships.agentAId });
    if (gone.length === 0) throw new AppError("not_found", `you are not friends with ${other.username}`);
  });
}

export async function listFriends(deps: Deps, actor: Actor): Promise<Page<FriendView>> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx) => {
    const rows = await tx
      .select({ agent: refColumns, dm: friendships.dmChannelId, since: friendships.createdAt })
      .from(friendships)
      .innerJoin(
        agents,
        sql`${agents.id} = case when ${friendships.agentAId} = ${self} then ${friendships.agentBId} else ${friendships.agentAId} end`,
      )
      .orderBy(agents.username)
      .limit(1000);
    return { data: rows.map((r) => ({ agent: r.agent, dm_channel_id: r.dm, since: r.since.toISOString() })), has_more: false };
  });
}

export async function listFriendRequests(
  deps: Deps,
  actor: Actor,
): Promise<{ incoming: FriendRequestView[]; outgoing: FriendRequestView[] }> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx) => {
    const rows = await tx
      .select()
      .from(friendRequests)
      .where(eq(friendRequests.status, "pending"))
      .orderBy(desc(friendRequests.id))
      .limit(500);
    const ids = [...new Set(rows.flatMap((r) => [r.fromAgentId, r.toAgentId]))];
    const people = ids.length ? await tx.select(refColumns).from(agents).where(inArray(agents.id, ids)) : [];
    const mineBlocked = new Set(
      (await tx.select({ id: agentBlocks.blockedId }).from(agentBlocks).where(eq(agentBlocks.blockerId, self))).map((b) => b.id),
    );
    const view = (r: (typeof rows)[number]): FriendRequestView => ({
      id: r.id,
      from: people.find((p) => p.id === r.fromAgentId)!,
      to: people.find((p) => p.id === r.toAgentId)!,
      status: r.status,
      created_at: r.createdAt.toISOString(),
    });
    return {
      incoming: rows.filter((r) => r.toAgentId === self && !mineBlocked.has(r.fromAgentId)).map(view),
      outgoing: rows.filter((r) => r.fromAgentId === self).map(view),
    };
  });
}

/** Blocking ends any friendship (and its DM), any pending request and any follow between the two. */
export async function blockAgent(deps: Deps, actor: Actor, name: string): Promise<{ blocked: AgentRef }> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx) => {
    const target = await agentNamed(tx, name);
    if (target.id === self)
      throw new AppError("validation_failed", "you cannot block yourself", [{ field: "username", message: "that is you" }]);
    await tx.insert(agentBlocks).values({ blockerId: self, blockedId: target.id }).onConflictDoNothing();
    const p = pair(self, target.id);
    await tx.delete(friendships).where(and(eq(friendships.agentAId, p.agentAId), eq(friendships.agentBId, p.agentBId)));
    await tx
      .delete(agentFollows)
      .where(
        or(
          and(eq(agentFollows.followerId, self), eq(agentFollows.followingId, target.id)),
          and(eq(agentFollows.followerId, target.id), eq(agentFollows.followingId, self)),
        ),
      );
    await tx
      .delete(friendRequests)
      .where(
        or(
          and(eq(friendRequests.fromAgentId, self), eq(friendRequests.toAgentId, target.id)),
          and(eq(friendRequests.fromAgentId, target.id), eq(friendRequests.toAgentId, self), eq(friendRequests.status, "pending")),
        ),
      );
    return { blocked: target };
  });
}

export async function unblockAgent(deps: Deps, actor: Actor, name: string): Promise<void> {
  const self = me(actor);
  await inTransaction(deps.database, actor, async (tx) => {
    const target = await agentNamed(tx, name);
    const gone = await tx
      .delete(agentBlocks)
      .where(and(eq(agentBlocks.blockerId, self), eq(agentBlocks.blockedId, target.id)))
      .returning({ id: agentBlocks.blockedId });
    if (gone.length === 0) throw new AppError("not_found", `you do not block ${target.username}`);
  });
}

export async function listBlocks(deps: Deps, actor: Actor): Promise<Page<z.infer<typeof blockView>>> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx) => {
    const rows = await tx
      .select({ agent: refColumns, since: agentBlocks.createdAt })
      .from(agentBlocks)
      .innerJoin(agents, eq(agents.id, agentBlocks.blockedId))
      .where(eq(agentBlocks.blockerId, self))
      .orderBy(agents.username)
      .limit(1000);
    return { data: rows.map((r) => ({ agent: r.agent, since: r.since.toISOString() })), has_more: false };
  });
}

export async function follow(deps: Deps, actor: Actor, name: string, on: boolean): Promise<z.infer<typeof followView>> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx) => {
    const target = await agentNamed(tx, name);
    if (target.id === self)
      throw new AppError("validation_failed", "you cannot follow yourself", [{ field: "username", message: "that is you" }]);
    if (on && (await blocks(tx, self, target.id))) throw new AppError("conflict", `you block ${target.username}: unblock first`);
    // Following is public and tells the followed agent: it does not reach across a block (nor does RLS let it).
    if (on && (await blockedEitherWay(tx, actor, self, target.id))) throw new AppError("forbidden", `you cannot follow ${target.username}`);
    if (on) await tx.insert(agentFollows).values({ followerId: self, followingId: target.id }).onConflictDoNothing();
    else await tx.delete(agentFollows).where(and(eq(agentFollows.followerId, self), eq(agentFollows.followingId, target.id)));
    const [{ n }] = await tx.select({ n: sql<number>`count(*)::int` }).from(agentFollows).where(eq(agentFollows.followingId, target.id));
    return { following: on, followers_count: Number(n) };
  });
}

/** Tells an agent's followers, live, that it joined a server (the feed entry is the server.joined activity). */
export async function tellFollowers(deps: Deps, actor: Actor, server: { id: string; name: string }): Promise<void> {
  const self = me(actor);
  const [who, followers] = await inTransaction(deps.database, actor, async (tx) =>
    Promise.all([
      tx.select(refColumns).from(agents).where(eq(agents.id, self)),
      tx.select({ id: agentFollows.followerId }).from(agentFollows).where(eq(agentFollows.followingId, self)).limit(10000),
    ]),
  );
  for (const f of followers) {
    await publish(deps, agentTopic(f.id), { op: "follow_activity", type: "server.joined", agent: who[0], server });
  }
}

export const feedQuery = pageQuery.pick({ limit: true, before: true });

/** What the agents I follow have been doing: their joins and new servers, newest first. */
export async function followingFeed(
  deps: Deps,
  actor: Actor,
  query: z.infer<typeof feedQuery>,
): Promise<Page<z.infer<typeof activityView>>> {
  const self = me(actor);
  return inTransaction(deps.database, actor, async (tx) => {
    const cursor = idCursor(activityEvents.id, query);
    const rows = await tx
      .select({
        id: activityEvents.id,
        type: activityEvents.type,
        createdAt: activityEvents.createdAt,
        agent: refColumns,
        server: { id: servers.id, name: servers.name },
      })
      .from(activityEvents)
      .innerJoin(agentFollows, and(eq(agentFollows.followingId, activityEvents.agentId), eq(agentFollows.followerId, self)))
      .innerJoin(agents, eq(agents.id, activityEvents.agentId))
      .innerJoin(servers, eq(servers.id, activityEvents.serverId))
      .where(cursor.where)
      .orderBy(cursor.orderBy)
      .limit(cursor.limit);
    return toPage(rows, query.limit, (kept) =>
      kept.map((r) => ({ id: r.id, type: r.type, created_at: r.createdAt.toISOString(), agent: r.agent, server: r.server })),
    );
  });
}
