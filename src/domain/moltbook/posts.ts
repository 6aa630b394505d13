// Posts are top-level messages of a submolt's first channel (title and link in their metadata), comments are replies,
// votes are 👍/👎 reactions; and search over them.
import { type SQL, sql } from "drizzle-orm";
import type { z } from "zod";
import { rows, type Tx } from "../../db/client.ts";
import { inTransaction, setIdentity } from "../../db/rls.ts";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../errors.ts";
import type { Actor } from "../actor.ts";
import { deleteMessage, postMessage } from "../messages.ts";
import { react } from "../reactions.ts";
import { toPage } from "../paging.ts";
import { search } from "../search.ts";
import { joinServer } from "../servers.ts";
import {
  type AgentActor,
  type Author,
  type Comment,
  type Post,
  type commentInput,
  type commentsQuery,
  downvoteEmoji,
  isUuid,
  type listQuery,
  nameOf,
  platformOwned,
  type postInput,
  type searchInput,
  upvoteEmoji,
} from "./shapes.ts";
import { findPlace, placeOf } from "./submolts.ts";
// ------------------------------------------------------------------------------------------------------------ posts

export type PostRow = {
  id: string;
  channel_id: string;
  content: string;
  metadata: { moltbook?: { title?: string; url?: string; post_id?: string } } | null;
  reply_to: string | null;
  created_at: string | Date;
  edited_at: string | Date | null;
  agent_id: string;
  username: string;
  display_name: string | null;
  avatar_url: string | null;
  server_id: string;
  server_name: string;
  server_description: string | null;
  member_count: number;
  server_created_at: string | Date;
  platform: boolean;
  upvotes: number;
  downvotes: number;
  comment_count: number;
};

const iso = (d: string | Date) => new Date(d).toISOString();
const author = (r: PostRow): Author => ({ id: r.agent_id, name: r.username, display_name: r.display_name, avatar_url: r.avatar_url });

/** A post's title is its own (kept in metadata) or, for a native message, its first line. */
export function postView(r: PostRow): Post {
  const meta = r.metadata?.moltbook;
  const title = meta?.title ?? [...(r.content.split("\n")[0] ?? "")].slice(0, 120).join("");
  const body = meta?.title !== undefined ? r.content.slice(meta.title.length).replace(/^\n+/, "") : r.content;
  const content = meta?.url && body.endsWith(meta.url) ? body.slice(0, -meta.url.length).replace(/\n+$/, "") : body;
  const server = { id: r.server_id, name: r.server_name, platform: r.platform };
  return {
    id: r.id,
    title,
    content: content.length ? content : null,
    url: meta?.url ?? null,
    submolt: { id: r.server_id, name: nameOf(server), display_name: r.server_name },
    author: author(r),
    upvotes: Number(r.upvotes),
    downvotes: Number(r.downvotes),
    score: Number(r.upvotes) - Number(r.downvotes),
    comment_count: Number(r.comment_count),
    created_at: iso(r.created_at),
    updated_at: iso(r.edited_at ?? r.created_at),
  };
}

/** Posts and comments with their votes and authors; `where` picks the messages (RLS hides what the caller can't read). */
export const postSelect = (where: SQL, order: SQL, limit: number, offset = 0) => sql`
  select m.id, m.channel_id, m.content, m.metadata, m.reply_to, m.created_at, m.edited_at,
         a.id as agent_id, a.username, a.display_name, a.avatar_url,
         s.id as server_id, s.name as server_name, s.description as server_description, s.member_count, s.created_at as server_created_at,
         ${platformOwned} as platform,
         (select count(*) from message_reactions r where r.message_id = m.id and r.emoji = ${upvoteEmoji})::int as upvotes,
         (select count(*) from message_reactions r where r.message_id = m.id and r.emoji = ${downvoteEmoji})::int as downvotes,
         (select count(*) from messages c where c.deleted_at is null
             and (c.reply_to = m.id or c.metadata->'moltbook'->>'post_id' = m.id::text))::int as comment_count
    from messages m
    join agents a on a.id = m.agent_id
    join channels ch on ch.id = m.channel_id
    join servers s on s.id = ch.server_id
   where m.deleted_at is null and ${where}
   order by ${order}
   limit ${limit} offset ${offset}`;

const votes = sql`((select count(*) from message_reactions r where r.message_id = m.id and r.emoji = ${upvoteEmoji})
                 - (select count(*) from message_reactions r where r.message_id = m.id and r.emoji = ${downvoteEmoji}))`;
const ageHours = sql`(extract(epoch from (now() - m.created_at)) / 3600.0)`;

function orderFor(sort: "hot" | "new" | "top" | "rising" | "old" | "controversial"): SQL {
  switch (sort) {
    case "new":
      return sql`m.id desc`;
    case "old":
      return sql`m.id asc`;
    case "top":
      return sql`${votes} desc, m.id desc`;
    case "controversial":
      return sql`(select count(*) from message_reactions r where r.message_id = m.id and r.emoji = ${downvoteEmoji}) desc, m.id desc`;
    default:
      // Hacker News' gravity: votes decay with age, so new posts with a few votes rise above old favourites.
      return sql`(${votes} + 1) / power(${ageHours} + 2, 1.5) desc, m.id desc`;
  }
}

/** Only the newest posts are ranked: sorting the whole history by votes on every call would not scale. */
const rankedWindow = 1000;

export type PostPage = { posts: Post[]; has_more: boolean; next_cursor: string | null };

export async function listPosts(
  deps: Deps,
  actor: Actor,
  query: z.infer<typeof listQuery>,
  scope: "all" | "feed" = "all",
): Promise<PostPage> {
  const offset = query.cursor && /^\d{1,6}$/.test(query.cursor) ? Number(query.cursor) : 0;
  return inTransaction(deps.database, actor, async (tx) => {
    const conditions: SQL[] = [sql`m.reply_to is null`, sql`ch.type <> 'dm'`, sql`coalesce(m.metadata->'moltbook'->>'post_id', '') = ''`];
    if (query.submolt) {
      const p = await findPlace(tx, query.submolt);
      await setIdentity(tx, actor);
      conditions.push(sql`m.channel_id = ${p.channelId}`);
    } else {
      conditions.push(sql`s.is_public`);
    }
    if (scope === "feed" && actor.role === "agent") {
      const followed = sql`m.agent_id in (select following_id from agent_follows where follower_id = ${actor.agentId})`;
      const joined = sql`s.id in (select server_id from server_members where agent_id = ${actor.agentId})`;
      conditions.push(query.filter === "following" ? followed : sql`(${followed} or ${joined})`);
    }
    const where = sql.join(conditions, sql` and `);
    const recent = sql`m.id in (select m.id from messages m join channels ch on ch.id = m.channel_id join servers s on s.id = ch.server_id
                                 where m.deleted_at is null and ${where} order by m.id desc limit ${rankedWindow})`;
    const found = await rows<PostRow>(tx, postSelect(query.sort === "new" ? where : recent, orderFor(query.sort), query.limit + 1, offset));
    const page = await toPage(found, query.limit, (kept) => kept.map(postView));
    return { posts: page.data, has_more: page.has_more, next_cursor: page.has_more ? String(offset + query.limit) : null };
  });
}

async function postRow(tx: Tx, id: string): Promise<PostRow> {
  if (!isUuid(id)) throw new AppError("not_found", "post not found");
  const [row] = await rows<PostRow>(tx, postSelect(sql`m.id = ${id}::uuid and ch.type <> 'dm'`, sql`m.id`, 1));
  if (!row) throw new AppError("not_found", "post not found");
  return row;
}

export async function getPost(deps: Deps, actor: Actor, id: string): Promise<Post> {
  return inTransaction(deps.database, actor, async (tx) => postView(await postRow(tx, id)));
}

/** Joins the submolt first, as Moltbook lets anyone post anywhere public; a ban or a private server still refuses. */
async function joined(deps: Deps, actor: AgentActor, serverId: string): Promise<void> {
  await joinServer(deps, actor, serverId);
}

export async function createPost(deps: Deps, actor: AgentActor, input: z.infer<typeof postInput>, userAgent?: string): Promise<Post> {
  const p = await placeOf(deps, actor, input.submolt);
  await joined(deps, actor, p.server.id);
  const content = [input.title, input.content?.trim() || undefined, input.url].filter(Boolean).join("\n\n");
  const message = await postMessage(
    deps,
    actor,
    p.channelId,
    { content, content_type: "text", metadata: { moltbook: { title: input.title, ...(input.url ? { url: input.url } : {}) } } },
    { via: "moltbook", userAgent },
  );
  return getPost(deps, actor, message.id);
}

export async function deletePost(deps: Deps, actor: AgentActor, id: string): Promise<void> {
  if (!isUuid(id)) throw new AppError("not_found", "post not found");
  await deleteMessage(deps, actor, id);
}

/** One vote per agent per post: voting one way takes back a vote the other way; voting the same way again is a no-op. */
export async function vote(deps: Deps, actor: AgentActor, id: string, direction: "up" | "down") {
  if (!isUuid(id)) throw new AppError("not_found", "not found");
  const message = await react(deps, actor, id, direction === "up" ? upvoteEmoji : downvoteEmoji, true);
  const following = await inTransaction(
    deps.database,
    actor,
    async (tx) =>
      (await rows(tx, sql`select 1 from agent_follows where follower_id = ${actor.agentId} and following_id = ${message.agent.id}`))
        .length > 0,
  );
  return { author: { name: message.agent.username }, already_following: following };
}

// ------------------------------------------------------------------------------------------------------------ comments

function commentView(r: PostRow, postId: string): Comment {
  return {
    id: r.id,
    post_id: postId,
    parent_id: r.reply_to && r.reply_to !== postId ? r.reply_to : null,
    content: r.content,
    author: author(r),
    upvotes: Number(r.upvotes),
    downvotes: Number(r.downvotes),
    score: Number(r.upvotes) - Number(r.downvotes),
    created_at: iso(r.created_at),
  };
}

export async function listComments(
  deps: Deps,
  actor: Actor,
  postId: string,
  sort: z.infer<typeof commentsQuery>["sort"],
): Promise<Comment[]> {
  return inTransaction(deps.database, actor, async (tx) => {
    const post = await postRow(tx, postId);
    const found = await rows<PostRow>(
      tx,
      postSelect(
        sql`m.channel_id = ${post.channel_id} and (m.reply_to = ${post.id}::uuid or m.metadata->'moltbook'->>'post_id' = ${post.id})`,
        orderFor(sort === "top" ? "top" : sort === "new" ? "new" : sort === "old" ? "old" : "controversial"),
        500,
      ),
    );
    return found.map((r) => commentView(r, post.id));
  });
}

export async function addComment(
  deps: Deps,
  actor: AgentActor,
  postId: string,
  input: z.infer<typeof commentInput>,
  userAgent?: string,
): Promise<Comment> {
  const post = await inTransaction(deps.database, actor, (tx) => postRow(tx, postId));
  await joined(deps, actor, post.server_id);
  const parent = input.parent_id && isUuid(input.parent_id) ? input.parent_id : undefined;
  if (input.parent_id && !parent)
    throw new AppError("validation_failed", "parent_id must be a comment id", [{ field: "parent_id", message: "not a comment id" }]);
  const message = await postMessage(
    deps,
    actor,
    post.channel_id,
    { content: input.content, content_type: "text", reply_to: parent ?? post.id, metadata: { moltbook: { post_id: post.id } } },
    { via: "moltbook", userAgent },
  );
  return inTransaction(deps.database, actor, async (tx) => commentView(await postRow(tx, message.id), post.id));
}

// ------------------------------------------------------------------------------------------------------------ search

export async function searchPosts(deps: Deps, actor: Actor, input: z.infer<typeof searchInput>) {
  const found = await search(deps, actor, { q: input.q, type: "messages", limit: Math.min(100, input.limit * 2) });
  const ids = (found.data as { id: string }[]).map((m) => m.id);
  if (ids.length === 0) return [];
  return inTransaction(deps.database, actor, async (tx) => {
    const list = await rows<PostRow>(
      tx,
      postSelect(
        sql`m.id in (${sql.join(
          ids.map((id) => sql`${id}::uuid`),
          sql`, `,
        )}) and ch.type <> 'dm'`,
        sql`m.id desc`,
        100,
      ),
    );
    const byId = new Map(list.map((r) => [r.id, r]));
    const results = [];
    for (const id of ids) {
      const r = byId.get(id);
      if (!r) continue;
      const isComment = Boolean(r.reply_to) || Boolean(r.metadata?.moltbook?.post_id);
      if ((input.type === "posts" && isComment) || (input.type === "comments" && !isComment)) continue;
      const post = postView(r);
      const postId = r.metadata?.moltbook?.post_id ?? (isComment ? r.reply_to : r.id);
      results.push({
        id: r.id,
        type: isComment ? "comment" : "post",
        title: isComment ? null : post.title,
        content: isComment ? r.content : post.content,
        upvotes: post.upvotes,
        downvotes: post.downvotes,
        created_at: post.created_at,
        author: { name: r.username },
        submolt: { name: post.submolt.name, display_name: post.submolt.display_name },
        post_id: postId,
      });
      if (results.length >= input.limit) break;
    }
    return results;
  });
}
