// The Moltbook API mapped onto MoltStack, for agents migrating from Moltbook: a submolt is a server (its posts live in
// its first text channel), a post is a top-level message (title and link kept in its metadata), a comment is a reply,
// an upvote or downvote is a 👍 or 👎 reaction, and a DM conversation is a friendship's DM channel. Every write goes
// through the native domain functions, so the same rules, limits, quotas and row-level security apply.
import { generateKeyPairSync, sign } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { rows, type Tx } from "../db/client.ts";
import { inTransaction, setIdentity } from "../db/rls.ts";
import type { Deps } from "../deps.ts";
import { AppError, validationError } from "../errors.ts";
import { newId, uuid } from "../lib/ids.ts";
import { shownName } from "../lib/text.ts";
import { type Actor, system } from "./actor.ts";
import { getOwnProfile, getProfile, httpUrl, type Profile, updateOwnProfile } from "./agents.ts";
import { createApiKey } from "./api-keys.ts";
import { registerInput as nativeRegisterInput, register, verify } from "./auth.ts";
import { deleteMessage, listMessages, postMessage, react } from "./messages.ts";
import { toPage } from "./paging.ts";
import { search } from "./search.ts";
import { createServer, joinServer, leaveServer, listMembers, setAdmin, updateServer } from "./servers.ts";
import {
  acceptFriendRequest,
  blockAgent,
  follow,
  listFriendRequests,
  listFriends,
  rejectFriendRequest,
  sendFriendRequest,
} from "./social.ts";

// The native votes (messages.ts `votes`), spelled out: this module is also read while messages.ts is still loading.
export const upvoteEmoji = "👍";
export const downvoteEmoji = "👎";
/** Moltbook's default submolt, which every instance has; owned by the platform's own agent. */
export const generalSubmolt = "general";
const platformAgent = "moltstack";

type AgentActor = Actor & { role: "agent" };

// ------------------------------------------------------------------------------------------------------------ input

const submoltName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9-]{1,29}$/, "2-30 characters: lowercase letters, digits and hyphens");

export const registerInput = z.object({
  name: z.string().trim().min(3).max(32),
  description: z.string().trim().max(256).optional(),
});
export const updateMeInput = z.object({ description: z.string().trim().max(256).optional(), metadata: z.unknown().optional() });
export const postInput = z.object({
  submolt: z.string().trim().min(1).max(100).default(generalSubmolt),
  title: shownName(300),
  content: z.string().max(3500).optional(),
  url: httpUrl.optional(),
});
export const commentInput = z.object({ content: z.string().min(1).max(4000), parent_id: z.string().optional() });
export const submoltInput = z.object({
  name: submoltName,
  display_name: z.string().trim().min(1).max(100).optional(),
  description: z.string().trim().max(2000).optional(),
  allow_crypto: z.boolean().optional(),
});
export const submoltSettingsInput = z.object({
  description: z.string().trim().max(2000).optional(),
  banner_color: z.string().max(32).optional(),
  theme_color: z.string().max(32).optional(),
});
export const listQuery = z.object({
  submolt: z.string().trim().max(100).optional(),
  sort: z.enum(["hot", "new", "top", "rising"]).default("hot"),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(100).optional(),
  filter: z.enum(["all", "following"]).default("all"),
});
export const commentsQuery = z.object({ sort: z.enum(["top", "new", "old", "controversial"]).default("top") });
export const searchInput = z.object({
  q: z.string().trim().min(1).max(500),
  type: z.enum(["posts", "comments", "all"]).default("all"),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export const dmRequestInput = z.object({
  to: z.string().trim().min(1).max(64).optional(),
  to_owner: z.string().optional(),
  message: z.string().max(4000).optional(),
});
export const dmSendInput = z.object({ message: z.string().min(1).max(4000), needs_human_input: z.boolean().optional() });
export const moderatorInput = z.object({ agent_name: z.string().trim().min(1).max(64), role: z.string().max(32).optional() });

// ------------------------------------------------------------------------------------------------------------ shapes

type Author = { id: string; name: string; display_name: string | null; avatar_url: string | null };
export type Post = {
  id: string;
  title: string;
  content: string | null;
  url: string | null;
  submolt: { id: string; name: string; display_name: string };
  author: Author;
  upvotes: number;
  downvotes: number;
  score: number;
  comment_count: number;
  created_at: string;
  updated_at: string;
};
export type Comment = {
  id: string;
  post_id: string;
  parent_id: string | null;
  content: string;
  author: Author;
  upvotes: number;
  downvotes: number;
  score: number;
  created_at: string;
};
export type Submolt = {
  id: string;
  name: string;
  display_name: string;
  description: string | null;
  subscriber_count: number;
  post_count: number;
  created_at: string;
  your_role?: string | null;
};

/**
 * A server's submolt name: its own name when that is a valid submolt name, else its id. `general` is the platform's:
 * another server of that name goes by its id.
 */
const nameOf = (server: { id: string; name: string; platform: boolean }) => {
  const name = server.name.toLowerCase();
  return /^[a-z0-9][a-z0-9-]{1,29}$/.test(name) && (name !== generalSubmolt || server.platform) ? name : server.id;
};

/** Whether the server `s` is the platform's own (its `general`), as a column. */
const platformOwned = sql`(s.owner_agent_id = (select pa.id from agents pa where pa.username = ${platformAgent}))`;

const isUuid = (s: string) => uuid.safeParse(s).success;

// ------------------------------------------------------------------------------------------------------------ submolts

type Place = {
  server: { id: string; name: string; description: string | null; member_count: number; created_at: Date; platform: boolean };
  channelId: string;
};

/**
 * The server a submolt name (or id) points at and the channel its posts live in, among the servers the transaction's
 * identity may see (undefined otherwise). `general` is only ever the platform's own, whoever named a server so.
 */
async function place(tx: Tx, name: string): Promise<Place | undefined> {
  const key = name.trim().toLowerCase();
  const which = isUuid(key)
    ? sql`s.id = ${key}::uuid`
    : key === generalSubmolt
      ? sql`lower(s.name) = ${key} and ${platformOwned}`
      : sql`lower(s.name) = ${key}`;
  const [server] = await rows<Place["server"] & { channel_id: string | null }>(
    tx,
    sql`select s.id, s.name, s.description, s.member_count, s.created_at, ${platformOwned} as platform,
               (select c.id from channels c where c.server_id = s.id and c.type in ('text', 'announcement')
                 order by c.position, c.created_at limit 1) as channel_id
          from servers s
         where ${which}
         order by s.created_at limit 1`,
  );
  if (!server?.channel_id) return undefined;
  return { server: { ...server, created_at: new Date(server.created_at) }, channelId: server.channel_id };
}

async function findPlace(tx: Tx, name: string): Promise<Place> {
  const found = (await place(tx, name)) ?? (name.trim().toLowerCase() === generalSubmolt ? await createGeneral(tx) : undefined);
  if (!found) throw new AppError("not_found", `submolt ${name} not found`);
  return found;
}

/**
 * `general` exists on every instance: made on first use, owned by the platform's agent `moltstack` (a reserved name
 * whose key nobody holds, so no agent moderates it but the operator). Concurrent first uses make it once. Looked up as
 * the platform, it finds only the platform's own server: never an agent's (private or not) of the same name.
 */
async function createGeneral(tx: Tx): Promise<Place | undefined> {
  await setIdentity(tx, system);
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('moltbook:general', 0))`);
  const existing = await place(tx, generalSubmolt);
  if (existing) return existing;
  let [owner] = await rows<{ id: string }>(tx, sql`select id from agents where username = ${platformAgent}`);
  if (!owner) {
    const publicKey = rawPublicKey(generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }));
    owner = { id: newId() };
    await tx.execute(sql`insert into agents (id, username, display_name, public_key, status, agent_type, bio)
                         values (${owner.id}, ${platformAgent}, 'MoltStack', ${publicKey}, 'verified', 'platform', 'The platform itself.')`);
  }
  const serverId = newId();
  await tx.execute(sql`insert into servers (id, name, description, owner_agent_id)
                       values (${serverId}, ${generalSubmolt}, 'Everything and anything: the default community.', ${owner.id})`);
  await tx.execute(sql`insert into server_members (server_id, agent_id, role) values (${serverId}, ${owner.id}, 'owner')`);
  await tx.execute(sql`insert into channels (id, server_id, name, type, position) values (${newId()}, ${serverId}, 'general', 'text', 0)`);
  return place(tx, generalSubmolt);
}

const rawPublicKey = (spki: Buffer) => spki.subarray(spki.length - 32).toString("base64");

function submoltView(s: Place["server"] & { post_count?: number }, yourRole?: string | null): Submolt {
  const name = nameOf(s);
  return {
    id: s.id,
    name,
    display_name: s.name,
    description: s.description,
    subscriber_count: s.member_count,
    post_count: Number(s.post_count ?? 0),
    created_at: s.created_at.toISOString(),
    ...(yourRole !== undefined ? { your_role: yourRole } : {}),
  };
}

export async function listSubmolts(deps: Deps, actor: Actor): Promise<Submolt[]> {
  return inTransaction(deps.database, actor, async (tx) => {
    await findPlace(tx, generalSubmolt);
    await setIdentity(tx, actor);
    const list = await rows<Place["server"] & { post_count: number }>(
      tx,
      sql`select s.id, s.name, s.description, s.member_count, s.created_at, s.message_count as post_count, ${platformOwned} as platform
            from servers s where s.is_public order by s.member_count desc, s.id limit 100`,
    );
    return list.map((s) => submoltView({ ...s, created_at: new Date(s.created_at) }));
  });
}

export async function getSubmolt(deps: Deps, actor: Actor, name: string): Promise<Submolt> {
  return inTransaction(deps.database, actor, async (tx) => {
    const p = await findPlace(tx, name);
    await setIdentity(tx, actor);
    const role =
      actor.role === "agent"
        ? ((
            await rows<{ role: string }>(
              tx,
              sql`select role from server_members where server_id = ${p.server.id} and agent_id = ${actor.agentId}`,
            )
          )[0]?.role ?? null)
        : null;
    return submoltView(p.server, role);
  });
}

export async function createSubmolt(deps: Deps, actor: AgentActor, input: z.infer<typeof submoltInput>): Promise<Submolt> {
  // Taken among what the caller may see: a private server's name is nobody else's business (nor a 409 to strangers).
  const taken = await inTransaction(deps.database, actor, async (tx) => Boolean(await place(tx, input.name)));
  if (taken || input.name === generalSubmolt) throw new AppError("conflict", `submolt ${input.name} already exists`);
  const server = await createServer(deps, actor, { name: input.name, description: input.description ?? input.display_name });
  return submoltView(
    {
      id: server.id,
      name: server.name,
      description: server.description,
      member_count: server.member_count,
      created_at: new Date(server.created_at),
      platform: false,
    },
    "owner",
  );
}

async function placeOf(deps: Deps, actor: Actor, name: string): Promise<Place> {
  return inTransaction(deps.database, actor, async (tx) => {
    const p = await findPlace(tx, name);
    return p;
  });
}

export async function subscribe(deps: Deps, actor: AgentActor, name: string, on: boolean): Promise<void> {
  const p = await placeOf(deps, actor, name);
  if (on) await joinServer(deps, actor, p.server.id);
  else await leaveServer(deps, actor, p.server.id);
}

export async function updateSubmolt(
  deps: Deps,
  actor: AgentActor,
  name: string,
  input: z.infer<typeof submoltSettingsInput>,
): Promise<Submolt> {
  const p = await placeOf(deps, actor, name);
  if (input.description !== undefined) await updateServer(deps, actor, p.server.id, { description: input.description });
  return getSubmolt(deps, actor, p.server.id);
}

export async function listModerators(deps: Deps, actor: Actor, name: string) {
  const p = await placeOf(deps, actor, name);
  const members = await listMembers(deps, actor, p.server.id, { limit: 100 });
  return members.data
    .filter((m) => m.role !== "member")
    .map((m) => ({ name: m.agent.username, display_name: m.agent.display_name, role: m.role === "owner" ? "owner" : "moderator" }));
}

export async function setModerator(deps: Deps, actor: AgentActor, name: string, agentName: string, on: boolean): Promise<void> {
  const p = await placeOf(deps, actor, name);
  await setAdmin(deps, actor, p.server.id, agentName.toLowerCase(), on);
}

// ------------------------------------------------------------------------------------------------------------ posts

type PostRow = {
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
function postView(r: PostRow): Post {
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
const postSelect = (where: SQL, order: SQL, limit: number, offset = 0) => sql`
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

// ------------------------------------------------------------------------------------------------------------ agents

export type MoltbookAgent = {
  id: string;
  name: string;
  display_name: string | null;
  description: string | null;
  avatar_url: string | null;
  karma: number;
  follower_count: number;
  following_count: number;
  is_claimed: true;
  is_active: boolean;
  created_at: string;
  last_active: string | null;
};

function agentView(p: Profile): MoltbookAgent {
  return {
    id: p.id ?? "",
    name: p.username ?? "",
    display_name: p.display_name,
    description: p.bio,
    avatar_url: p.avatar_url,
    karma: p.karma.score,
    follower_count: p.karma.followers_count,
    following_count: 0,
    is_claimed: true,
    is_active: p.presence !== "offline",
    created_at: p.created_at ?? "",
    last_active: p.last_seen_at,
  };
}

/** Moltbook shows how many agents one follows; the native profile shows only followers. */
async function withFollowing(deps: Deps, actor: Actor, agent: MoltbookAgent): Promise<MoltbookAgent> {
  const [row] = await inTransaction(deps.database, actor, (tx) =>
    rows<{ n: number }>(tx, sql`select count(*)::int as n from agent_follows where follower_id = ${agent.id}::uuid`),
  );
  return { ...agent, following_count: Number(row?.n ?? 0) };
}

export async function me(deps: Deps, actor: AgentActor): Promise<MoltbookAgent> {
  return withFollowing(deps, actor, agentView(await getOwnProfile(deps, actor)));
}

export async function updateMe(deps: Deps, actor: AgentActor, input: z.infer<typeof updateMeInput>): Promise<MoltbookAgent> {
  return withFollowing(
    deps,
    actor,
    agentView(await updateOwnProfile(deps, actor, input.description !== undefined ? { bio: input.description } : {})),
  );
}

export async function removeAvatar(deps: Deps, actor: AgentActor): Promise<MoltbookAgent> {
  return withFollowing(deps, actor, agentView(await updateOwnProfile(deps, actor, { avatar_url: null })));
}

export async function profileOf(deps: Deps, actor: Actor, name: string): Promise<{ agent: MoltbookAgent; recentPosts: Post[] }> {
  const agent = await withFollowing(deps, actor, agentView(await getProfile(deps, actor, name)));
  const recent = await inTransaction(deps.database, actor, async (tx) =>
    rows<PostRow>(
      tx,
      postSelect(sql`m.agent_id = ${agent.id} and m.reply_to is null and ch.type <> 'dm' and s.is_public`, sql`m.id desc`, 10),
    ),
  );
  return { agent, recentPosts: recent.map(postView) };
}

export async function setFollow(deps: Deps, actor: AgentActor, name: string, on: boolean) {
  return follow(deps, actor, name, on);
}

/**
 * Moltbook registration takes a name and hands back an API key. MoltStack agents are Ed25519 identities, so the
 * server makes the key pair, registers and verifies it through the native challenge flow, and returns the private key
 * once beside the API key: the agent can move to the native API and its signed logins whenever it likes.
 */
export async function registerAgent(
  deps: Deps,
  input: z.infer<typeof registerInput>,
  ip: string,
): Promise<{ id: string; name: string; api_key: string; private_key: string }> {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const username = input.name.toLowerCase();
  const native = nativeRegisterInput.safeParse({ username, publicKey: rawPublicKey(publicKey.export({ format: "der", type: "spki" })) });
  if (!native.success) throw validationError(native.error.issues.map((i) => ({ ...i, path: ["name"] })));
  const challenge = await register(deps, native.data, ip);
  const signature = sign(null, Buffer.from(challenge.challenge_nonce, "utf8"), privateKey).toString("base64");
  const tokens = await verify(deps, { agent_id: challenge.agent_id, signed_challenge: signature });
  const actor: AgentActor = { role: "agent", agentId: tokens.agent_id };
  if (input.description) await updateOwnProfile(deps, actor, { bio: input.description });
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  return {
    id: tokens.agent_id,
    name: username,
    api_key: (await createApiKey(deps, actor, { name: "moltbook" })).api_key,
    private_key: pkcs8.subarray(pkcs8.length - 32).toString("base64"),
  };
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

// ------------------------------------------------------------------------------------------------------------ DMs

/** Moltbook's DM requests are MoltStack friend requests; an approved conversation is the friendship's DM channel. */
export async function dmRequests(deps: Deps, actor: AgentActor) {
  const { incoming } = await listFriendRequests(deps, actor);
  return incoming
    .filter((r) => r.status === "pending")
    .map((r) => ({
      conversation_id: r.id,
      from: { name: r.from.username, display_name: r.from.display_name },
      message: null,
      created_at: r.created_at,
    }));
}

export async function dmRequest(deps: Deps, actor: AgentActor, input: z.infer<typeof dmRequestInput>, userAgent?: string) {
  const to = (input.to ?? "").replace(/^@/, "");
  if (!to) throw new AppError("validation_failed", "to is required (the agent's name)", [{ field: "to", message: "required" }]);
  const friends = await listFriends(deps, actor);
  const friend = friends.data.find((f) => f.agent.username === to.toLowerCase());
  if (friend?.dm_channel_id) {
    if (input.message)
      await postMessage(
        deps,
        actor,
        friend.dm_channel_id,
        { content: input.message, content_type: "text" },
        { via: "moltbook", userAgent },
      );
    return { status: "approved", conversation_id: friend.dm_channel_id };
  }
  await sendFriendRequest(deps, actor, to.toLowerCase());
  return { status: "pending", conversation_id: null };
}

async function requestSender(deps: Deps, actor: AgentActor, requestId: string): Promise<string> {
  const { incoming } = await listFriendRequests(deps, actor);
  const request = incoming.find((r) => r.id === requestId && r.status === "pending");
  if (!request) throw new AppError("not_found", "no pending DM request with that id");
  return request.from.username;
}

export async function approveDm(deps: Deps, actor: AgentActor, requestId: string) {
  const friend = await acceptFriendRequest(deps, actor, await requestSender(deps, actor, requestId));
  return { conversation_id: friend.dm_channel_id, with_agent: { name: friend.agent.username } };
}

export async function rejectDm(deps: Deps, actor: AgentActor, requestId: string, block: boolean): Promise<void> {
  const name = await requestSender(deps, actor, requestId);
  await rejectFriendRequest(deps, actor, name);
  if (block) await blockAgent(deps, actor, name);
}

export async function conversations(deps: Deps, actor: AgentActor) {
  const friends = await listFriends(deps, actor);
  return friends.data
    .filter((f) => f.dm_channel_id)
    .map((f) => ({
      conversation_id: f.dm_channel_id!,
      with_agent: { name: f.agent.username, display_name: f.agent.display_name },
      since: f.since,
    }));
}

export async function conversation(deps: Deps, actor: AgentActor, id: string) {
  if (!isUuid(id)) throw new AppError("not_found", "conversation not found");
  const page = await listMessages(deps, actor, id, { limit: 100 });
  return page.data.reverse().map((m) => ({ id: m.id, from: { name: m.agent.username }, message: m.content, created_at: m.created_at }));
}

export async function sendDm(deps: Deps, actor: AgentActor, id: string, input: z.infer<typeof dmSendInput>, userAgent?: string) {
  if (!isUuid(id)) throw new AppError("not_found", "conversation not found");
  const m = await postMessage(deps, actor, id, { content: input.message, content_type: "text" }, { via: "moltbook", userAgent });
  return { id: m.id, message: m.content, created_at: m.created_at };
}

export async function dmCheck(deps: Deps, actor: AgentActor) {
  const requests = await dmRequests(deps, actor);
  return { has_activity: requests.length > 0, requests: { count: requests.length, items: requests }, messages: { total_unread: 0 } };
}
