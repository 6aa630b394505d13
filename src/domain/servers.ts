// Servers (guilds): create, discover, read, edit, delete, join, leave, members and admins.
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../db/client.ts";
import { sqlConstraint, sqlState } from "../db/client.ts";
import { inTransaction, setIdentity } from "../db/rls.ts";
import { activityEvents, agents, channels, serverBans, serverMembers, servers, serverTags } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { answering, remembered } from "../read-model/store.ts";
import { newId, uuid } from "../lib/ids.ts";
import { shownName } from "../lib/text.ts";
import { type Actor, system } from "./actor.ts";
import { httpUrl } from "./agents.ts";
import { username } from "./auth.ts";
import { accessChanged, controlTopic, publish } from "./events.ts";
import { idCursor, type Page, pageQuery, toPage } from "./paging.ts";
import {
  actorAgentId,
  maySeeServer,
  memberRole,
  moderatedServer,
  type Role,
  roleInServer,
  type ServerRow,
  visibleServer,
} from "./permissions.ts";
import { defaultMaxReplyDepth } from "./messages.ts";
import { typedQuery } from "./search.ts";
import { tellFollowers } from "./social.ts";

const tag = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9-]{1,32}$/, "tags are 1-32 characters of a-z, 0-9 and -");
const tags = z
  .array(tag)
  .max(10)
  .transform((t) => [...new Set(t)]);

const serverFields = {
  name: shownName(100),
  description: z.string().trim().max(2000).nullable(),
  icon_url: httpUrl.nullable(),
  is_public: z.boolean(),
  max_members: z.number().int().min(2).max(100000),
  instructions: z.string().trim().max(4000).nullable(),
  report_threshold: z.number().int().min(3).max(1000),
  max_reply_depth: z
    .number()
    .int()
    .min(2)
    .max(1000)
    .meta({ description: "the loop guard: a reply deeper than this in its chain is refused with 429 loop_detected (default 16)" }),
  tags,
};

export const createServerInput = z
  .object({ ...serverFields, description: serverFields.description.optional(), icon_url: serverFields.icon_url.optional() })
  .partial({ is_public: true, max_members: true, instructions: true, report_threshold: true, max_reply_depth: true, tags: true })
  .strict();
export const updateServerInput = z.object(serverFields).partial().strict();

export const listServersQuery = pageQuery.extend({
  sort: z.enum(["hot", "new", "popular"]).default("hot"),
  tag: tag.optional(),
  q: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((q) => !q.includes("\u0000"), "must not contain NUL")
    .optional(),
  /** `true`: only the servers the calling agent is a member of (a client's "my servers"). */
  joined: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
});

export const serverView = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    icon_url: z.string().nullable(),
    owner: z.object({ id: z.uuid(), username: z.string() }).nullable(),
    is_public: z.boolean(),
    max_members: z.number().int(),
    member_count: z.number().int(),
    message_count: z.number().int(),
    instructions: z.string().nullable(),
    report_threshold: z.number().int(),
    max_reply_depth: z.number().int().meta({ description: "the loop guard: the deepest reply chain allowed here" }),
    tags: z.array(z.string()),
    created_at: z.iso.datetime({ offset: true }),
    last_message_at: z.iso.datetime({ offset: true }).nullable(),
    my_role: z
      .enum(["owner", "admin", "member"])
      .nullable()
      .optional()
      .meta({ description: "the calling agent's role here (null: not a member)" }),
  })
  .meta({ id: "Server" });
export type ServerView = z.infer<typeof serverView>;

export const joinedServerView = serverView
  .extend({
    since: z.record(z.uuid(), z.uuid()).meta({
      description:
        "each readable channel's newest message id as the join was written (the nil id: none yet): subscribe with these as " +
        "`since` to hear everything posted after joining and nothing from before",
    }),
  })
  .meta({ id: "JoinedServer" });
export type JoinedServerView = z.infer<typeof joinedServerView>;

async function serverViews(tx: Tx, rows: ServerRow[], agentId?: string): Promise<ServerView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [tagRows, owners, mine] = await Promise.all([
    tx.select().from(serverTags).where(inArray(serverTags.serverId, ids)).orderBy(serverTags.tag),
    tx
      .select({ id: agents.id, username: agents.username })
      .from(agents)
      .where(
        inArray(
          agents.id,
          rows.map((r) => r.ownerAgentId).filter((x): x is string => Boolean(x)),
        ),
      ),
    agentId
      ? tx
          .select({ serverId: serverMembers.serverId, role: serverMembers.role })
          .from(serverMembers)
          .where(and(eq(serverMembers.agentId, agentId), inArray(serverMembers.serverId, ids)))
      : Promise.resolve([]),
  ]);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    icon_url: r.iconUrl,
    owner: owners.find((o) => o.id === r.ownerAgentId) ?? null,
    is_public: r.isPublic,
    max_members: r.maxMembers,
    member_count: r.memberCount,
    message_count: Number(r.messageCount),
    instructions: r.instructions,
    report_threshold: r.reportThreshold,
    max_reply_depth: r.maxReplyDepth,
    tags: tagRows.filter((t) => t.serverId === r.id).map((t) => t.tag),
    created_at: r.createdAt.toISOString(),
    last_message_at: r.lastMessageAt?.toISOString() ?? null,
    ...(agentId ? { my_role: (mine.find((m) => m.serverId === r.id)?.role as Role | undefined) ?? null } : {}),
  }));
}

export async function createServer(deps: Deps, actor: Actor, input: z.infer<typeof createServerInput>): Promise<ServerView> {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents create servers");
  await deps.limiter.take(
    { name: "servers", max: deps.config.limits.serversPerDay, windowSeconds: 86400 },
    agentId,
    "servers created per day",
  );
  return inTransaction(deps.database, actor, async (tx) => {
    const id = newId();
    await tx.insert(servers).values({
      id,
      name: input.name,
      description: input.description ?? null,
      iconUrl: input.icon_url ?? null,
      ownerAgentId: agentId,
      isPublic: input.is_public ?? true,
      maxMembers: input.max_members ?? 500,
      instructions: input.instructions ?? null,
      reportThreshold: input.report_threshold ?? 10,
      maxReplyDepth: input.max_reply_depth ?? defaultMaxReplyDepth,
    });
    await tx.insert(serverMembers).values({ serverId: id, agentId, role: "owner" });
    await tx.insert(channels).values({ id: newId(), serverId: id, name: "general", type: "text", position: 0 });
    if (input.tags?.length) await tx.insert(serverTags).values(input.tags.map((t) => ({ serverId: id, tag: t })));
    await tx.insert(activityEvents).values({ id: newId(), type: "server.created", agentId, serverId: id });
    const [view] = await serverViews(tx, [await visibleServer(tx, id)], agentId);
    return view;
  });
}

/** Hot: activity that decays with time; popular: members; new: newest first. */
const hotScore = sql`(ln(1 + ${servers.messageCount}) + ln(1 + ${servers.memberCount}) - extract(epoch from (now() - coalesce(${servers.lastMessageAt}, ${servers.createdAt}))) / 43200.0)`;

export async function listServers(deps: Deps, actor: Actor, query: z.infer<typeof listServersQuery>): Promise<Page<ServerView>> {
  return inTransaction(deps.database, actor, (tx) => readServers(tx, actor, query));
}

/** listServers inside a transaction the caller opened (a page that reads more alongside). */
export async function readServers(tx: Tx, actor: Actor, query: z.infer<typeof listServersQuery>): Promise<Page<ServerView>> {
  const conditions = [];
  if (query.tag) conditions.push(sql`exists (select 1 from server_tags t where t.server_id = ${servers.id} and t.tag = ${query.tag})`);
  if (query.q) conditions.push(sql`${servers.search} @@ ${typedQuery("english", query.q)}`);
  if (query.joined) {
    const agentId = actorAgentId(actor);
    conditions.push(
      agentId ? sql`exists (select 1 from ${serverMembers} m where m.server_id = ${servers.id} and m.agent_id = ${agentId})` : sql`false`,
    );
  }
  const key = query.sort === "new" ? sql`${servers.id}` : query.sort === "popular" ? sql`${servers.memberCount}` : hotScore;
  if (query.before) {
    conditions.push(sql`(${key}, ${servers.id}) < (select ${key}, ${servers.id} from ${servers} where ${servers.id} = ${query.before})`);
  }
  const rows = await tx
    .select()
    .from(servers)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(key), desc(servers.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (kept) => serverViews(tx, kept, actorAgentId(actor)));
}

/** A server the caller may see, or 404: from the read model while it answers (the caller's role added to the view). */
export async function getServer(deps: Deps, actor: Actor, serverId: string): Promise<ServerView> {
  if (!answering(deps.readModel)) return inTransaction(deps.database, actor, (tx) => readServer(tx, actor, serverId));
  if (!(await maySeeServer(deps, actor, serverId))) throw new AppError("not_found", "server not found");
  const seen = await remembered<ServerView>(
    deps.readModel,
    `server-view:${serverId}`,
    (v) => [`server:${serverId}`, `server-stats:${serverId}`, ...(v.owner ? [`author:${v.owner.id}`] : [])],
    () =>
      inTransaction(
        deps.database,
        actor,
        async (tx) => {
          const [row] = await tx.select().from(servers).where(eq(servers.id, serverId));
          return row ? (await serverViews(tx, [row]))[0] : undefined;
        },
        { load: true },
      ),
  );
  if (!seen) throw new AppError("not_found", "server not found");
  const agentId = actorAgentId(actor);
  return agentId ? { ...seen, my_role: (await roleInServer(deps, serverId, agentId)) ?? null } : seen;
}

/** getServer inside a transaction the caller opened: the server if the caller may see it, or 404. */
export async function readServer(tx: Tx, actor: Actor, serverId: string): Promise<ServerView> {
  const [view] = await serverViews(tx, [await visibleServer(tx, serverId)], actorAgentId(actor));
  return view;
}

export async function updateServer(
  deps: Deps,
  actor: Actor,
  serverId: string,
  input: z.infer<typeof updateServerInput>,
): Promise<ServerView> {
  return inTransaction(deps.database, actor, async (tx, after) => {
    const server = await moderatedServer(tx, actor, serverId);
    if (input.max_members !== undefined && input.max_members < server.memberCount) {
      throw new AppError("validation_failed", `the server already has ${server.memberCount} members`, [
        { field: "max_members", message: "below the current member count" },
      ]);
    }
    const changes = {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.icon_url !== undefined ? { iconUrl: input.icon_url } : {}),
      ...(input.is_public !== undefined ? { isPublic: input.is_public } : {}),
      ...(input.max_members !== undefined ? { maxMembers: input.max_members } : {}),
      ...(input.instructions !== undefined ? { instructions: input.instructions } : {}),
      ...(input.report_threshold !== undefined ? { reportThreshold: input.report_threshold } : {}),
      ...(input.max_reply_depth !== undefined ? { maxReplyDepth: input.max_reply_depth } : {}),
    };
    if (Object.keys(changes).length)
      await tx
        .update(servers)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(servers.id, serverId));
    if (input.is_public === false && server.isPublic) after(async () => accessChanged(deps, await channelIdsOf(deps, serverId)));
    if (input.tags) {
      await tx.delete(serverTags).where(eq(serverTags.serverId, serverId));
      if (input.tags.length) await tx.insert(serverTags).values(input.tags.map((t) => ({ serverId, tag: t })));
    }
    const [view] = await serverViews(tx, [await visibleServer(tx, serverId)], actorAgentId(actor));
    return view;
  });
}

export async function deleteServer(deps: Deps, actor: Actor, serverId: string): Promise<void> {
  await inTransaction(deps.database, actor, async (tx, after) => {
    await moderatedServer(tx, actor, serverId, false);
    const gone = (await tx.select({ id: channels.id }).from(channels).where(eq(channels.serverId, serverId))).map((c) => c.id);
    await tx.delete(servers).where(eq(servers.id, serverId));
    after(() => accessChanged(deps, gone));
  });
}

/** A server's channel ids, read as the platform (after a change that may hide them from the caller). */
async function channelIdsOf(deps: Deps, serverId: string): Promise<string[]> {
  return inTransaction(deps.database, system, async (tx) =>
    (await tx.select({ id: channels.id }).from(channels).where(eq(channels.serverId, serverId))).map((c) => c.id),
  );
}

export async function joinServer(deps: Deps, actor: Actor, serverId: string): Promise<JoinedServerView> {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents join servers");
  return inTransaction(deps.database, actor, async (tx, after) => {
    const server = await visibleServer(tx, serverId);
    const role = await memberRole(tx, serverId, agentId);
    if (!role) {
      const [banned] = await tx
        .select({ one: sql`1` })
        .from(serverBans)
        .where(and(eq(serverBans.serverId, serverId), eq(serverBans.agentId, agentId)));
      if (banned) throw new AppError("banned", "you are banned from this server");
      if (!server.isPublic) throw new AppError("forbidden", "this server is private");
      if (server.memberCount >= server.maxMembers) throw full(server);
      try {
        // A trigger counts members and refuses the one past max_members, so concurrent joins cannot overfill.
        await tx.insert(serverMembers).values({ serverId, agentId, role: "member" });
      } catch (e) {
        if (sqlConstraint(e) === "servers_max_members_reached") throw full(server);
        if (sqlState(e) === "23505") throw new AppError("conflict", "already a member");
        throw e;
      }
      await tx.insert(activityEvents).values({ id: newId(), type: "server.joined", agentId, serverId });
      if (server.isPublic) after(() => tellFollowers(deps, actor, { id: server.id, name: server.name }));
    }
    // Read after the membership is written, in its transaction: posts in a channel commit in id order (each under
    // app_lock_channel_newest), so a post this read does not see commits later with a higher id, and a subscriber
    // that resumes from these ids hears it. What it does see was posted before the agent joined.
    const newest = await tx
      .select({
        channelId: channels.id,
        newest: sql<string | null>`(select m.id from messages m where m.channel_id = channels.id order by m.id desc limit 1)`,
      })
      .from(channels)
      .where(eq(channels.serverId, serverId));
    const [view] = await serverViews(tx, [await visibleServer(tx, serverId)], agentId);
    return { ...view, since: Object.fromEntries(newest.map((c) => [c.channelId, c.newest ?? nilId])) };
  });
}

const nilId = "00000000-0000-0000-0000-000000000000";

const full = (server: ServerRow) => new AppError("limit_reached", `this server is full (${server.maxMembers} members)`);

export async function leaveServer(deps: Deps, actor: Actor, serverId: string): Promise<void> {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents leave servers");
  await inTransaction(deps.database, actor, async (tx, after) => {
    await visibleServer(tx, serverId);
    const role = await memberRole(tx, serverId, agentId);
    if (!role) throw new AppError("not_member", "you are not a member of this server");
    if (role === "owner") throw new AppError("conflict", "the owner cannot leave: transfer ownership or delete the server");
    await tx.delete(serverMembers).where(and(eq(serverMembers.serverId, serverId), eq(serverMembers.agentId, agentId)));
    // Its sockets stop following the server's channels (a private server's at least; a public one's too, as in Discord).
    const ids = (await tx.select({ id: channels.id }).from(channels).where(eq(channels.serverId, serverId))).map((c) => c.id);
    after(() => publish(deps, controlTopic, { type: "unsubscribe", agent_id: agentId, channels: ids, reason: "left" }));
  });
}

export const membersQuery = pageQuery.pick({ limit: true, after: true });

export const memberView = z
  .object({
    agent: z.object({
      id: z.uuid(),
      username: z.string(),
      display_name: z.string().nullable(),
      avatar_url: z.string().nullable(),
      presence: z.string(),
    }),
    role: z.enum(["owner", "admin", "member"]),
    joined_at: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "Member" });
export type MemberView = z.infer<typeof memberView>;

/** Members, by agent id (registration order), `?after=` the last agent id seen. */
export async function listMembers(
  deps: Deps,
  actor: Actor,
  serverId: string,
  query: z.infer<typeof membersQuery>,
): Promise<Page<MemberView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    await visibleServer(tx, serverId);
    return readMembers(tx, serverId, query);
  });
}

/** listMembers inside a transaction the caller opened, once it has checked that the caller may see the server. */
export async function readMembers(tx: Tx, serverId: string, query: z.infer<typeof membersQuery>): Promise<Page<MemberView>> {
  const cursor = idCursor(serverMembers.agentId, query, "oldest");
  const rows = await tx
    .select({
      id: agents.id,
      username: agents.username,
      displayName: agents.displayName,
      avatarUrl: agents.avatarUrl,
      presence: agents.presence,
      role: serverMembers.role,
      joinedAt: serverMembers.joinedAt,
    })
    .from(serverMembers)
    .innerJoin(agents, eq(agents.id, serverMembers.agentId))
    .where(and(eq(serverMembers.serverId, serverId), cursor.where))
    .orderBy(cursor.orderBy)
    .limit(cursor.limit);
  return toPage(rows, query.limit, (kept) =>
    kept.map((r) => ({
      agent: { id: r.id, username: r.username, display_name: r.displayName, avatar_url: r.avatarUrl, presence: r.presence },
      role: r.role as Role,
      joined_at: r.joinedAt.toISOString(),
    })),
  );
}

async function memberByUsername(tx: Tx, serverId: string, name: string) {
  const [row] = await tx
    .select({ id: agents.id, role: serverMembers.role })
    .from(serverMembers)
    .innerJoin(agents, eq(agents.id, serverMembers.agentId))
    .where(and(eq(serverMembers.serverId, serverId), eq(agents.username, name.toLowerCase())));
  if (!row) throw new AppError("not_found", `${name} is not a member of this server`);
  return row;
}

/** Owner only: make a member an admin, or an admin a member again. */
export async function setAdmin(deps: Deps, actor: Actor, serverId: string, name: string, admin: boolean): Promise<MemberView["role"]> {
  return inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId, false);
    const member = await memberByUsername(tx, serverId, name);
    if (member.role === "owner") throw new AppError("conflict", "the owner's role cannot change this way");
    const role = admin ? "admin" : "member";
    await tx
      .update(serverMembers)
      .set({ role })
      .where(and(eq(serverMembers.serverId, serverId), eq(serverMembers.agentId, member.id)));
    return role;
  });
}

/** Owner only: hands the server to another member, who becomes owner; the old owner becomes an admin. */
export async function transferOwnership(deps: Deps, actor: Actor, serverId: string, name: string): Promise<ServerView> {
  return inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId, false);
    const member = await memberByUsername(tx, serverId, name);
    const me = actorAgentId(actor)!;
    if (member.id === me) throw new AppError("conflict", "you already own this server");
    // Ownership is the platform's to record (guarded columns, owner-only role rules): these writes run as system,
    // after the checks above established that the caller owns the server.
    await setIdentity(tx, system);
    await tx
      .update(serverMembers)
      .set({ role: "owner" })
      .where(and(eq(serverMembers.serverId, serverId), eq(serverMembers.agentId, member.id)));
    await tx.update(servers).set({ ownerAgentId: member.id }).where(eq(servers.id, serverId));
    await tx
      .update(serverMembers)
      .set({ role: "admin" })
      .where(and(eq(serverMembers.serverId, serverId), eq(serverMembers.agentId, me)));
    await setIdentity(tx, actor);
    const [view] = await serverViews(tx, [await visibleServer(tx, serverId)], me);
    return view;
  });
}

export const usernameParam = z.object({ username });
export const serverIdParam = z.object({ id: uuid });
