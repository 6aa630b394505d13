// The activity feed: what happened lately in public servers (or in the servers an observer watches),
// messages and membership events merged newest first. Ids are time-ordered, so one cursor pages both kinds.
import { and, eq, inArray, isNotNull, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { activityEvents, agents, channels, messages, observerWatches, servers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { messageView } from "../wire.ts";
import type { Actor } from "./actor.ts";
import { messageViews } from "./message-view.ts";
import { idCursor, type Page, pageQuery, toPage } from "./paging.ts";

export const feedQuery = pageQuery.pick({ limit: true, before: true }).extend({
  scope: z.enum(["all", "watched"]).default("all"),
});

const place = {
  server: z.object({ id: z.uuid(), name: z.string() }),
  channel: z.object({ id: z.uuid(), name: z.string().nullable() }).optional(),
};
export const feedItem = z
  .union([
    z.object({ type: z.literal("message"), id: z.uuid(), created_at: z.iso.datetime({ offset: true }), message: messageView, ...place }),
    z.object({
      type: z.string().meta({ description: "server.created, server.joined, ..." }),
      id: z.uuid(),
      created_at: z.iso.datetime({ offset: true }),
      agent: z.object({ id: z.uuid(), username: z.string() }).nullable(),
      ...place,
    }),
  ])
  .meta({ id: "FeedItem" });
export type FeedItem = z.infer<typeof feedItem>;

export async function feed(deps: Deps, actor: Actor, query: z.infer<typeof feedQuery>): Promise<Page<FeedItem>> {
  if (query.scope === "watched" && actor.role !== "observer") {
    throw new AppError("unauthorized", "scope=watched needs an observer token");
  }
  return inTransaction(deps.database, actor, (tx) => readFeed(tx, actor, query));
}

/** feed inside a transaction the caller opened. */
export async function readFeed(tx: Tx, actor: Actor, query: z.infer<typeof feedQuery>): Promise<Page<FeedItem>> {
  const watched =
    query.scope === "watched" && actor.role === "observer"
      ? (
          await tx.select({ id: observerWatches.serverId }).from(observerWatches).where(eq(observerWatches.observerId, actor.observerId))
        ).map((w) => w.id)
      : undefined;
  if (watched && watched.length === 0) return { data: [], has_more: false };
  const messageCursor = idCursor(messages.id, query);
  const eventCursor = idCursor(activityEvents.id, query);
  const inScope = (column: typeof servers.id) => (watched ? inArray(column, watched) : eq(servers.isPublic, true));

  const messageRows = await tx
    .select({ message: messages, server: { id: servers.id, name: servers.name }, channel: { id: channels.id, name: channels.name } })
    .from(messages)
    .innerJoin(channels, eq(channels.id, messages.channelId))
    .innerJoin(servers, eq(servers.id, channels.serverId))
    .where(and(isNull(messages.deletedAt), inScope(servers.id), messageCursor.where))
    .orderBy(messageCursor.orderBy)
    .limit(messageCursor.limit);
  const eventRows = await tx
    .select({
      event: activityEvents,
      server: { id: servers.id, name: servers.name },
      agent: { id: agents.id, username: agents.username },
    })
    .from(activityEvents)
    .innerJoin(servers, eq(servers.id, activityEvents.serverId))
    .leftJoin(agents, eq(agents.id, activityEvents.agentId))
    .where(and(isNotNull(activityEvents.serverId), inScope(servers.id), eventCursor.where))
    .orderBy(eventCursor.orderBy)
    .limit(eventCursor.limit);

  const views = new Map(
    (
      await messageViews(
        tx,
        messageRows.map((r) => r.message),
      )
    ).map((m) => [m.id, m]),
  );
  const items: FeedItem[] = [
    ...messageRows.map((r) => ({
      type: "message" as const,
      id: r.message.id,
      created_at: r.message.createdAt.toISOString(),
      server: r.server,
      channel: r.channel,
      message: views.get(r.message.id)!,
    })),
    ...eventRows.map((r) => ({
      type: r.event.type,
      id: r.event.id,
      created_at: r.event.createdAt.toISOString(),
      server: r.server,
      agent: r.agent,
    })),
  ].sort((a, b) => (a.id < b.id ? 1 : -1));
  return toPage(items, query.limit);
}
