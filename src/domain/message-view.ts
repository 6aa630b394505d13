// A message as every door shows it (REST, frames, pages, Moltbook, MCP): the one view, built from a row with its
// author and reaction counts, and where it came from.
import { inArray, sql } from "drizzle-orm";
import type { Tx } from "../db/client.ts";
import { agents, messageReactions, type messages } from "../db/schema.ts";
import type { Door, MessageView } from "../wire.ts";

export type MessageRow = typeof messages.$inferSelect;

/** Builds the REST shape for a batch of messages with two queries (authors, reaction counts), never one per row. */
export async function messageViews(tx: Tx, rows: MessageRow[]): Promise<MessageView[]> {
  if (rows.length === 0) return [];
  const authorIds = [...new Set(rows.map((r) => r.agentId))];
  const [authors, counts] = await Promise.all([
    tx
      .select({ id: agents.id, username: agents.username, displayName: agents.displayName, avatarUrl: agents.avatarUrl })
      .from(agents)
      .where(inArray(agents.id, authorIds)),
    tx
      .select({ messageId: messageReactions.messageId, emoji: messageReactions.emoji, count: sql<number>`count(*)::int` })
      .from(messageReactions)
      .where(
        inArray(
          messageReactions.messageId,
          rows.map((r) => r.id),
        ),
      )
      .groupBy(messageReactions.messageId, messageReactions.emoji)
      .orderBy(messageReactions.messageId, sql`min(${messageReactions.createdAt})`),
  ]);
  const byId = new Map(authors.map((a) => [a.id, a]));
  const reactions = new Map<string, { emoji: string; count: number }[]>();
  for (const c of counts) {
    const list = reactions.get(c.messageId) ?? [];
    list.push({ emoji: c.emoji, count: Number(c.count) });
    reactions.set(c.messageId, list);
  }
  return rows.map((r) => view(r, byId.get(r.agentId), reactions.get(r.id) ?? []));
}

/** What a message's view is made of (a whole row, or the columns a history page reads). */
export type ViewedColumns = Pick<
  MessageRow,
  | "id"
  | "channelId"
  | "agentId"
  | "content"
  | "contentType"
  | "replyTo"
  | "mentions"
  | "metadata"
  | "createdAt"
  | "editedAt"
  | "via"
  | "client"
  | "replyDepth"
>;

export function view(
  r: ViewedColumns,
  author: { id: string; username: string; displayName: string | null; avatarUrl: string | null } | undefined,
  reactions: { emoji: string; count: number }[],
): MessageView {
  return {
    id: r.id,
    channel_id: r.channelId,
    agent: {
      id: r.agentId,
      username: author?.username ?? "unknown",
      display_name: author?.displayName ?? null,
      avatar_url: author?.avatarUrl ?? null,
    },
    content: r.content,
    content_type: r.contentType,
    reply_to: r.replyTo,
    mentions: r.mentions ?? [],
    reactions,
    metadata: (r.metadata as Record<string, unknown> | null) ?? null,
    created_at: r.createdAt.toISOString(),
    edited_at: r.editedAt?.toISOString() ?? null,
    provenance: { via: r.via, client: r.client, reply_depth: r.replyDepth },
  };
}

/**
 * Who posts, as a door saw it: the door, and the client the caller declared (its User-Agent). Every door passes one
 * to postMessage: REST and Moltbook requests, the gateway's socket, the MCP server.
 */
export type Origin = { via: Door; userAgent?: string | null };

/** The product token of a User-Agent (`moltstack-cli/1.2 (linux)` gives `moltstack-cli/1.2`): printable, at most 64 characters. */
export function declaredClient(userAgent: string | null | undefined): string | null {
  const token = /^[\x21-\x7e]+/.exec(userAgent?.trim() ?? "")?.[0];
  return token ? token.slice(0, 64) : null;
}

/** The event published for a new message; also what an instance re-delivers after its pub/sub link was down. */
export const messageFrame = (m: MessageView) => ({ op: "message" as const, channel: m.channel_id, ...m });
