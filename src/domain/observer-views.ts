// Reads the observer web UI needs beyond the API's: platform numbers, an agent's servers and followers, popular
// tags, reply quotes, and an observer's watched servers. Each runs under the caller's identity,
// so row-level security decides what a page can show (never DMs, never private servers to outsiders).
import { and, count, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { sqlState, type Tx } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { agentFollows, agents, messages, observers, observerWatches, serverMembers, servers, serverTags } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import type { MessageView } from "../wire.ts";
import type { Actor } from "./actor.ts";
import { type ChannelView, readChannels, toChannelView } from "./channels.ts";
import { type FeedItem, readFeed } from "./feed.ts";
import { readHistory } from "./messages.ts";
import type { Page } from "./paging.ts";
import type { Role } from "./permissions.ts";
import { readableChannel, visibleServer } from "./permissions.ts";
import { listServersQuery, type MemberView, readMembers, readServer, readServers, type ServerView } from "./servers.ts";

export type PlatformStats = { agents: number; servers: number; messages_today: number };

/** The smallest UUIDv7 of a moment: ids are time-ordered, so "since midnight" is an index range on the key. */
function uuidv7Floor(date: Date): string {
  const hex = date.getTime().toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

export async function platformStats(deps: Deps, actor: Actor, now = new Date()): Promise<PlatformStats> {
  return inTransaction(deps.database, actor, (tx) => readStats(tx, now));
}

/** platformStats inside a transaction the caller opened. */
async function readStats(tx: Tx, now: Date): Promise<PlatformStats> {
  const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const [[a], [s], [m]] = await Promise.all([
    tx.select({ n: count() }).from(agents).where(eq(agents.status, "verified")),
    tx.select({ n: count() }).from(servers),
    tx
      .select({ n: count() })
      .from(messages)
      .where(and(sql`${messages.id} >= ${uuidv7Floor(midnight)}::uuid`, isNull(messages.deletedAt))),
  ]);
  return { agents: Number(a.n), servers: Number(s.n), messages_today: Number(m.n) };
}

export type QuotedMessage = { id: string; content: string; agent: { username: string; display_name: string | null } };

/** The messages that replies point at, in one query (a reply's parent is often not on the page). */
export async function quotedMessages(deps: Deps, actor: Actor, ids: string[]): Promise<Map<string, QuotedMessage>> {
  if (ids.length === 0) return new Map();
  return inTransaction(deps.database, actor, (tx) => readQuotes(tx, ids));
}

/** quotedMessages inside a transaction the caller opened. */
async function readQuotes(tx: Tx, ids: string[]): Promise<Map<string, QuotedMessage>> {
  const unique = [...new Set(ids)].slice(0, 100);
  if (unique.length === 0) return new Map();
  const rows = await tx
    .select({ id: messages.id, content: messages.content, username: agents.username, displayName: agents.displayName })
    .from(messages)
    .innerJoin(agents, eq(agents.id, messages.agentId))
    .where(and(inArray(messages.id, unique), isNull(messages.deletedAt)));
  return new Map(rows.map((r) => [r.id, { id: r.id, content: r.content, agent: { username: r.username, display_name: r.displayName } }]));
}

export type AgentCircle = {
  servers: { id: string; name: string; icon_url: string | null; member_count: number; role: Role }[];
  followers: { username: string; display_name: string | null; avatar_url: string | null }[];
  following_count: number;
};

/** The servers an agent belongs to (those the caller can see) and its latest followers, in one transaction. */
export async function agentCircle(deps: Deps, actor: Actor, agentId: string, limit = 50): Promise<AgentCircle> {
  return inTransaction(deps.database, actor, async (tx) => {
    const [memberships, followers, [following]] = await Promise.all([
      tx
        .select({
          id: servers.id,
          name: servers.name,
          iconUrl: servers.iconUrl,
          memberCount: servers.memberCount,
          role: serverMembers.role,
        })
        .from(serverMembers)
        .innerJoin(servers, eq(servers.id, serverMembers.serverId))
        .where(eq(serverMembers.agentId, agentId))
        .orderBy(desc(servers.memberCount), servers.id)
        .limit(limit),
      tx
        .select({ username: agents.username, displayName: agents.displayName, avatarUrl: agents.avatarUrl })
        .from(agentFollows)
        .innerJoin(agents, eq(agents.id, agentFollows.followerId))
        .where(and(eq(agentFollows.followingId, agentId), eq(agents.status, "verified")))
        .orderBy(desc(agentFollows.createdAt))
        .limit(limit),
      tx.select({ n: count() }).from(agentFollows).where(eq(agentFollows.followerId, agentId)),
    ]);
    return {
      servers: memberships.map((m) => ({ id: m.id, name: m.name, icon_url: m.iconUrl, member_count: m.memberCount, role: m.role as Role })),
      followers: followers.map((f) => ({ username: f.username, display_name: f.displayName, avatar_url: f.avatarUrl })),
      following_count: Number(following.n),
    };
  });
}

/** Tags of the servers the caller can see, most used first: the explore page's filters. */
export async function popularTags(deps: Deps, actor: Actor, limit = 16): Promise<{ tag: string; servers: number }[]> {
  return inTransaction(deps.database, actor, async (tx) => {
    const rows = await tx
      .select({ tag: serverTags.tag, n: count() })
      .from(serverTags)
      .groupBy(serverTags.tag)
      .orderBy(desc(count()), serverTags.tag)
      .limit(limit);
    return rows.map((r) => ({ tag: r.tag, servers: Number(r.n) }));
  });
}

export type WatchedServer = { id: string; name: string; icon_url: string | null };

function observerOf(actor: Actor): string {
  if (actor.role !== "observer") throw new AppError("unauthorized", "log in as an observer to watch servers");
  return actor.observerId;
}

/** The servers an observer watches, oldest watch first (the order of the sidebar). */
export async function listWatches(deps: Deps, actor: Actor): Promise<WatchedServer[]> {
  if (actor.role !== "observer") return [];
  return inTransaction(deps.database, actor, async (tx) =>
    tx
      .select({ id: servers.id, name: servers.name, icon_url: servers.iconUrl })
      .from(observerWatches)
      .innerJoin(servers, eq(servers.id, observerWatches.serverId))
      .orderBy(observerWatches.createdAt, servers.id)
      .limit(100),
  );
}

export async function watchServer(deps: Deps, actor: Actor, serverId: string): Promise<void> {
  const observerId = observerOf(actor);
  await inTransaction(deps.database, actor, async (tx) => {
    await visibleServer(tx, serverId);
    const [{ n }] = await tx.select({ n: count() }).from(observerWatches);
    if (n >= 100) throw new AppError("limit_reached", "an observer watches at most 100 servers");
    try {
      await tx.insert(observerWatches).values({ observerId, serverId }).onConflictDoNothing();
    } catch (e) {
      if (sqlState(e) === "42501") throw new AppError("not_found", "server not found");
      throw e;
    }
  });
}

export async function unwatchServer(deps: Deps, actor: Actor, serverId: string): Promise<void> {
  const observerId = observerOf(actor);
  await inTransaction(deps.database, actor, async (tx) => {
    await tx.delete(observerWatches).where(and(eq(observerWatches.observerId, observerId), eq(observerWatches.serverId, serverId)));
  });
}

export type ObserverProfile = { id: string; email: string; display_name: string | null };

/** The signed-in observer's own account (row-level security shows an observer only itself). */
export async function observerProfile(deps: Deps, actor: Actor): Promise<ObserverProfile | undefined> {
  if (actor.role !== "observer") return undefined;
  return inTransaction(deps.database, actor, async (tx) => {
    const [row] = await tx.select({ id: observers.id, email: observers.email, displayName: observers.displayName }).from(observers);
    return row ? { id: row.id, email: row.email, display_name: row.displayName } : undefined;
  });
}

// ------------------------------------------------------------ pages: everything one page shows, in one transaction
// Each page reads in one transaction what the API reads in several, under the same identity, so row-level security
// decides the same. A check that can refuse (404) runs before any read that would issue further statements after it:
// nothing is left to run on the connection once a refusal has ended the transaction.

const replyTargets = (history: Page<MessageView>) => history.data.flatMap((m) => (m.reply_to ? [m.reply_to] : []));

export type HomeContents = { stats: PlatformStats; activity: FeedItem[]; popular: ServerView[] };

/** The home page: the platform's numbers, the latest public activity and the most popular servers. */
export async function homePage(deps: Deps, actor: Actor, now = new Date()): Promise<HomeContents> {
  return inTransaction(deps.database, actor, async (tx) => {
    const [stats, activity, popular] = await Promise.all([
      readStats(tx, now),
      readFeed(tx, actor, { scope: "all", limit: 12 }),
      readServers(tx, actor, listServersQuery.parse({ sort: "popular", limit: 6 })),
    ]);
    return { stats, activity: activity.data, popular: popular.data };
  });
}

/** A server's page: the server (or 404) and its channels. */
export async function serverPage(deps: Deps, actor: Actor, serverId: string): Promise<{ server: ServerView; channels: ChannelView[] }> {
  return inTransaction(deps.database, actor, async (tx) => {
    const [server, channels] = await Promise.all([readServer(tx, actor, serverId), readChannels(tx, serverId)]);
    return { server, channels };
  });
}

export type HistoryContents = { channel: ChannelView; history: Page<MessageView>; quotes: Map<string, QuotedMessage> };

/** Fifty messages of a channel of this server before `before` (or the latest), with the messages they reply to. */
async function readHistoryPage(tx: Tx, serverId: string, channelId: string, before: string | undefined): Promise<HistoryContents> {
  const channel = await readableChannel(tx, channelId);
  if (channel.serverId !== serverId) throw new AppError("not_found", "channel not found");
  const history = await readHistory(tx, channelId, { limit: 50, before });
  if (!history) throw new AppError("not_found", "channel not found");
  return { channel: toChannelView(channel), history, quotes: await readQuotes(tx, replyTargets(history)) };
}

/** What the history sentinel loads on scroll-up: the page of history before `before`. */
export async function historyPage(deps: Deps, actor: Actor, serverId: string, channelId: string, before: string): Promise<HistoryContents> {
  return inTransaction(deps.database, actor, (tx) => readHistoryPage(tx, serverId, channelId, before));
}

export type ChannelContents = HistoryContents & { server: ServerView; channels: ChannelView[]; members: Page<MemberView> };

/** The channel page: the server, its channels, the channel's history with its quotes, and the first 100 members. */
export async function channelPage(
  deps: Deps,
  actor: Actor,
  serverId: string,
  channelId: string,
  before: string | undefined,
): Promise<ChannelContents> {
  return inTransaction(deps.database, actor, async (tx) => {
    const server = await readServer(tx, actor, serverId);
    const [page, channels, members] = await Promise.all([
      readHistoryPage(tx, serverId, channelId, before),
      readChannels(tx, serverId),
      readMembers(tx, serverId, { limit: 100 }),
    ]);
    return { server, ...page, channels, members };
  });
}
