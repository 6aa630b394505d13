// The one place that answers "may this caller see / post / moderate here?". Row-level security answers the same
// questions again in the database; these checks give a clear error first (and a 404 for what one may not see).
import { and, eq, sql } from "drizzle-orm";
import { rows, type Tx } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { channelBans, channels, serverBans, serverMembers, servers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { remembered } from "../read-model/store.ts";
import { type Actor, system } from "./actor.ts";

export type Role = "owner" | "admin" | "member";
export type ChannelRow = typeof channels.$inferSelect;
export type ServerRow = typeof servers.$inferSelect;

export const actorAgentId = (actor: Actor) => (actor.role === "agent" ? actor.agentId : undefined);

export async function memberRole(tx: Tx, serverId: string, agentId: string | undefined): Promise<Role | undefined> {
  if (!agentId) return undefined;
  const [row] = await tx
    .select({ role: serverMembers.role })
    .from(serverMembers)
    .where(and(eq(serverMembers.serverId, serverId), eq(serverMembers.agentId, agentId)));
  return row?.role as Role | undefined;
}

/** A server the caller may see (RLS hides private servers from non-members), or 404. */
export async function visibleServer(tx: Tx, serverId: string): Promise<ServerRow> {
  const [server] = await tx.select().from(servers).where(eq(servers.id, serverId));
  if (!server) throw new AppError("not_found", "server not found");
  return server;
}

/** The server, if the caller is its owner (or an admin, when `admins` is true). */
export async function moderatedServer(tx: Tx, actor: Actor, serverId: string, admins = true): Promise<ServerRow & { role: Role }> {
  const server = await visibleServer(tx, serverId);
  const role = await memberRole(tx, serverId, actorAgentId(actor));
  if (role === "owner" || (admins && role === "admin")) return { ...server, role };
  throw new AppError("forbidden", admins ? "only the server's owner and admins may do this" : "only the server's owner may do this");
}

/** A channel the caller may read (public server, membership, or a party to the DM), or 404. */
export async function readableChannel(tx: Tx, channelId: string): Promise<ChannelRow> {
  const [channel] = await tx
    .select()
    .from(channels)
    .where(and(eq(channels.id, channelId), sql`app_can_read_channel(${channels.id})`));
  if (!channel) throw new AppError("not_found", "channel not found");
  return channel;
}

/**
 * What decides whether `agentId` may post in channel `c` (the channel's alias in the statement), as columns of a
 * statement that reads the channel anyway: its bans, its role in the server, and for a DM the database's own rule.
 */
export const postingRightsColumns = (agentId: string) => sql`
  exists (select 1 from server_bans b where b.server_id = c.server_id and b.agent_id = ${agentId}) as server_banned,
  exists (select 1 from channel_bans b where b.channel_id = c.id and b.agent_id = ${agentId}) as channel_banned,
  (select m.role from server_members m where m.server_id = c.server_id and m.agent_id = ${agentId}) as member_role,
  case when c.type = 'dm' then app_can_post_channel(c.id) end as dm_allowed`;

export type PostingRights = { server_banned: boolean; channel_banned: boolean; member_role: Role | null; dm_allowed: boolean | null };

/** The reason `postingRightsColumns` gives not to post, thrown; nothing when the agent may post. */
export function assertPostingRights(channel: { type: string }, rights: PostingRights): void {
  if (channel.type === "dm") {
    if (!rights.dm_allowed) throw new AppError("forbidden", "you cannot send messages in this conversation");
    return;
  }
  if (rights.server_banned) throw new AppError("banned", "you are banned from this server");
  if (rights.channel_banned) throw new AppError("banned", "you are banned from this channel");
  if (!rights.member_role) throw new AppError("not_member", "join the server before posting in it");
  if (channel.type === "announcement" && rights.member_role === "member") {
    throw new AppError("forbidden", "only the server's owner and admins post in announcement channels");
  }
}

/** Checks the caller may post in the channel, with the reason when it may not (one statement). */
export async function assertCanPost(tx: Tx, actor: Actor, channel: ChannelRow): Promise<void> {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents post");
  const [rights] = await rows<PostingRights>(tx, sql`select ${postingRightsColumns(agentId)} from channels c where c.id = ${channel.id}`);
  // Deleted by another transaction since this one read it (READ COMMITTED on PostgreSQL): gone, as a retry would say.
  if (!rights) throw new AppError("not_found", "channel not found");
  assertPostingRights(channel, rights);
}

/** Banned from the server, or from this channel (a moderator's or the community's auto-ban). */
export async function assertNotBanned(tx: Tx, agentId: string, channel: ChannelRow): Promise<void> {
  if (!channel.serverId) return;
  const [banned] = await tx
    .select({ one: sql`1` })
    .from(serverBans)
    .where(and(eq(serverBans.serverId, channel.serverId), eq(serverBans.agentId, agentId)));
  if (banned) throw new AppError("banned", "you are banned from this server");
  const [channelBanned] = await tx
    .select({ one: sql`1` })
    .from(channelBans)
    .where(and(eq(channelBans.channelId, channel.id), eq(channelBans.agentId, agentId)));
  if (channelBanned) throw new AppError("banned", "you are banned from this channel");
}

/**
 * The channel as `agentId` would see it, if it may read it: a DM it is party to, or a server channel it can see and is
 * banned neither from nor from its server. Asked as the platform about someone other than the caller.
 */
export async function channelReadableBy(tx: Tx, channelId: string, agentId: string): Promise<Record<string, unknown> | undefined> {
  const [channel] = await tx
    .select({ id: channels.id, server_id: channels.serverId, name: channels.name, type: channels.type })
    .from(channels)
    .leftJoin(servers, eq(servers.id, channels.serverId))
    .where(
      and(
        eq(channels.id, channelId),
        sql`case when ${channels.type} = 'dm' then app_is_dm_party(${channels.id}, ${agentId}::uuid)
                 else (${servers.isPublic} or app_is_member(${servers.id}, ${agentId}::uuid))
                      and not app_is_server_banned(${servers.id}, ${agentId}::uuid)
                      and not app_is_channel_banned(${channels.id}, ${agentId}::uuid) end`,
      ),
    );
  return channel;
}

/** What decides who may read a channel, as the platform knows it: kept by the read model (src/read-model/). */
type ChannelAccess = { type: string; serverId: string | null; isPublic: boolean; owner: string | null; parties: string[] };

export async function channelAccess(deps: Deps, channelId: string): Promise<ChannelAccess | undefined> {
  return remembered<ChannelAccess>(
    deps.readModel,
    `access:${channelId}`,
    (a) => [`channel:${channelId}`, ...(a.serverId ? [`server:${a.serverId}`] : [])],
    () =>
      inTransaction(
        deps.database,
        system,
        async (tx) => {
          const [row] = await rows<{
            type: string;
            server_id: string | null;
            is_public: boolean | null;
            owner: string | null;
            parties: string[] | null;
          }>(
            tx,
            sql`select c.type, c.server_id, s.is_public, s.owner_agent_id as owner,
                     (select array_agg(x) from friendships f, unnest(array[f.agent_a_id, f.agent_b_id]) x
                       where f.dm_channel_id = c.id) as parties
                from channels c left join servers s on s.id = c.server_id
               where c.id = ${channelId}`,
          );
          if (!row) return undefined;
          return {
            type: row.type,
            serverId: row.server_id,
            isPublic: row.is_public === true,
            owner: row.owner,
            parties: row.parties ?? [],
          };
        },
        { load: true },
      ),
  );
}

/** `agentId`'s role in the server, as the read model knows it (undefined: not a member). */
export async function roleInServer(deps: Deps, serverId: string, agentId: string): Promise<Role | undefined> {
  const role = await remembered<string>(deps.readModel, `member:${serverId}:${agentId}`, [`server:${serverId}`], () =>
    inTransaction(deps.database, system, async (tx) => (await memberRole(tx, serverId, agentId)) ?? "none", { load: true }),
  );
  return role === undefined || role === "none" ? undefined : (role as Role);
}

const isMember = async (deps: Deps, serverId: string, agentId: string) => (await roleInServer(deps, serverId, agentId)) !== undefined;

/** Who may see a server: everyone for a public one, its owner and members for a private one. */
type ServerAccess = { isPublic: boolean; owner: string | null };

/**
 * app_can_read_server answered from memory: whether the caller may see the server (false for one that does not
 * exist).
 */
export async function maySeeServer(deps: Deps, actor: Actor, serverId: string): Promise<boolean> {
  if (actor.role === "system") return true;
  const access = await remembered<ServerAccess>(deps.readModel, `server-access:${serverId}`, [`server:${serverId}`], () =>
    inTransaction(
      deps.database,
      system,
      async (tx) => {
        const [row] = await tx
          .select({ isPublic: servers.isPublic, owner: servers.ownerAgentId })
          .from(servers)
          .where(eq(servers.id, serverId));
        return row;
      },
      { load: true },
    ),
  );
  if (!access) return false;
  const agentId = actorAgentId(actor);
  if (access.isPublic) return true;
  return agentId !== undefined && (access.owner === agentId || isMember(deps, serverId, agentId));
}

/**
 * app_can_read_channel answered from memory: a DM's pair, a public server's channel for anyone, a private server's for
 * its owner and members. False for a channel that does not exist. The database answers the same under row-level
 * security (test/read-model.test.ts compares the two).
 */
export async function mayReadChannel(deps: Deps, actor: Actor, channelId: string): Promise<boolean> {
  if (actor.role === "system") return true;
  const access = await channelAccess(deps, channelId);
  if (!access) return false;
  const agentId = actorAgentId(actor);
  if (access.type === "dm") return agentId !== undefined && access.parties.includes(agentId);
  if (access.isPublic) return true;
  if (!agentId || !access.serverId) return false;
  return access.owner === agentId || isMember(deps, access.serverId, agentId);
}
