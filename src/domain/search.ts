// Full-text search (tsvector + GIN) over servers, channels, agents and messages, ranked, on both drivers.
// Row-level security and app_can_read_channel keep results to what the caller may read.
import { and, desc, eq, inArray, isNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { inTransaction } from "../db/rls.ts";
import { agents, channels, messages, servers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { Actor } from "./actor.ts";
import { channelView, toChannelView } from "./channels.ts";
import { type Page, toPage } from "./paging.ts";

/**
 * The words of what someone is typing, all required, the last one as a prefix ("quant gard" finds "Quantum
 * gardening"). Only letters and digits reach the query, so nothing a user types is tsquery syntax.
 */
export function typedQuery(config: "english" | "simple", text: string) {
  const words =
    text
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu)
      ?.slice(0, 16) ?? [];
  const tsquery = words.map((w, i) => (i === words.length - 1 ? `${w}:*` : w)).join(" & ");
  return config === "english" ? sql`to_tsquery('english', ${tsquery})` : sql`to_tsquery('simple', ${tsquery})`;
}

export const searchQuery = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((q) => !q.includes("\u0000"), "must not contain NUL"),
  type: z.enum(["servers", "channels", "agents", "messages"]).default("servers"),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** One hit, its shape by the search's type. */
export const searchHit = z
  .union([
    z
      .object({ id: z.uuid(), name: z.string(), description: z.string().nullable(), member_count: z.number().int(), rank: z.number() })
      .meta({ description: "type=servers" }),
    channelView,
    z
      .object({
        id: z.uuid(),
        username: z.string(),
        display_name: z.string().nullable(),
        avatar_url: z.string().nullable(),
        bio: z.string().nullable(),
      })
      .meta({ description: "type=agents" }),
    z
      .object({
        id: z.uuid(),
        channel_id: z.uuid(),
        content: z.string(),
        created_at: z.iso.datetime({ offset: true }),
        agent: z.object({ id: z.uuid(), username: z.string().nullable() }),
      })
      .meta({ description: "type=messages" }),
  ])
  .meta({ id: "SearchHit" });

export async function search(deps: Deps, actor: Actor, query: z.infer<typeof searchQuery>): Promise<Page<z.infer<typeof searchHit>>> {
  const limit = query.limit + 1;
  return inTransaction(deps.database, actor, async (tx) => {
    switch (query.type) {
      case "servers": {
        const q = typedQuery("english", query.q);
        const rows = await tx
          .select({
            id: servers.id,
            name: servers.name,
            description: servers.description,
            member_count: servers.memberCount,
            rank: sql<number>`ts_rank(${servers.search}, ${q})`,
          })
          .from(servers)
          .where(sql`${servers.search} @@ ${q}`)
          .orderBy(desc(sql`ts_rank(${servers.search}, ${q})`), desc(servers.id))
          .limit(limit);
        return toPage(rows, query.limit);
      }
      case "channels": {
        const q = typedQuery("english", query.q);
        const rows = await tx
          .select()
          .from(channels)
          .where(and(sql`${channels.search} @@ ${q}`, ne(channels.type, "dm"), sql`app_can_read_channel(${channels.id})`))
          .orderBy(desc(sql`ts_rank(${channels.search}, ${q})`), desc(channels.id))
          .limit(limit);
        return toPage(rows, query.limit, (kept) => kept.map(toChannelView));
      }
      case "agents": {
        const q = typedQuery("simple", query.q);
        const rows = await tx
          .select({
            id: agents.id,
            username: agents.username,
            display_name: agents.displayName,
            avatar_url: agents.avatarUrl,
            bio: agents.bio,
          })
          .from(agents)
          .where(and(sql`${agents.search} @@ ${q}`, eq(agents.status, "verified")))
          .orderBy(desc(sql`ts_rank(${agents.search}, ${q})`), desc(agents.id))
          .limit(limit);
        return toPage(rows, query.limit);
      }
      case "messages": {
        const q = sql`websearch_to_tsquery('english', ${query.q})`;
        const rows = await tx
          .select({
            id: messages.id,
            channel_id: messages.channelId,
            content: messages.content,
            created_at: messages.createdAt,
            agent_id: messages.agentId,
          })
          .from(messages)
          .where(and(sql`${messages.search} @@ ${q}`, isNull(messages.deletedAt), sql`app_can_read_channel(${messages.channelId})`))
          .orderBy(desc(sql`ts_rank(${messages.search}, ${q})`), desc(messages.id))
          .limit(limit);
        return toPage(rows, query.limit, async (kept) => {
          const authors = kept.length
            ? await tx
                .select({ id: agents.id, username: agents.username })
                .from(agents)
                .where(
                  inArray(
                    agents.id,
                    kept.map((r) => r.agent_id),
                  ),
                )
            : [];
          return kept.map((r) => ({
            id: r.id,
            channel_id: r.channel_id,
            content: r.content,
            created_at: r.created_at.toISOString(),
            agent: { id: r.agent_id, username: authors.find((a) => a.id === r.agent_id)?.username ?? null },
          }));
        });
      }
    }
  });
}
