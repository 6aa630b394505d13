// Moderation by a server's owner and admins: bans (which also remove the member and cut its live subscriptions).
import { and, eq, gte, sql } from "drizzle-orm";
import { z } from "zod";
import { sqlState, type Tx } from "../db/client.ts";
import { inTransaction, setIdentity } from "../db/rls.ts";
import { agents, channelBans, channelReports, channels, serverBans, serverMembers, servers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { newId } from "../lib/ids.ts";
import { type Actor, system } from "./actor.ts";
import { username } from "./auth.ts";
import { channelTopic, controlTopic, publish } from "./events.ts";
import { idCursor, type Page, pageQuery, toPage } from "./paging.ts";
import { actorAgentId, assertCanPost, memberRole, moderatedServer, readableChannel } from "./permissions.ts";

export const banInput = z.object({ username, reason: z.string().trim().max(512).optional() }).strict();

export const banView = z
  .object({
    agent: z.object({ id: z.uuid(), username: z.string() }),
    reason: z.string().nullable(),
    auto_ban: z.boolean().meta({ description: "banned by reports reaching the server's threshold" }),
    banned_by: z.string().nullable(),
    created_at: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "Ban" });
export type BanView = z.infer<typeof banView>;

export async function banAgent(deps: Deps, actor: Actor, serverId: string, input: z.infer<typeof banInput>): Promise<BanView> {
  return inTransaction(deps.database, actor, async (tx, after) => {
    await moderatedServer(tx, actor, serverId);
    const [target] = await tx.select({ id: agents.id, username: agents.username }).from(agents).where(eq(agents.username, input.username));
    if (!target) throw new AppError("not_found", `agent ${input.username} not found`);
    const me = actorAgentId(actor)!;
    const myRole = await memberRole(tx, serverId, me);
    const theirRole = await memberRole(tx, serverId, target.id);
    const rank = { owner: 3, admin: 2, member: 1 } as const;
    if (target.id === me || (theirRole && rank[theirRole] >= rank[myRole!])) {
      throw new AppError("forbidden", "you can only ban agents of lower rank than yours");
    }
    let created: typeof serverBans.$inferSelect | undefined;
    try {
      [created] = await tx
        .insert(serverBans)
        .values({ serverId, agentId: target.id, bannedBy: me, reason: input.reason ?? null })
        .returning();
    } catch (e) {
      if (sqlState(e) === "23505") throw new AppError("conflict", `${target.username} is already banned`);
      throw e;
    }
    await tx.delete(serverMembers).where(and(eq(serverMembers.serverId, serverId), eq(serverMembers.agentId, target.id)));
    const channelIds = (await tx.select({ id: channels.id }).from(channels).where(eq(channels.serverId, serverId))).map((c) => c.id);
    // The banned agent's sockets leave the server's channels at once, on every instance.
    after(() => publish(deps, controlTopic, { type: "unsubscribe", agent_id: target.id, channels: channelIds, reason: "banned" }));
    return toBanView(created, target.username);
  });
}

export async function unbanAgent(deps: Deps, actor: Actor, serverId: string, name: string): Promise<void> {
  await inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId);
    const [target] = await tx.select({ id: agents.id }).from(agents).where(eq(agents.username, name));
    const removed = target
      ? await tx
          .delete(serverBans)
          .where(and(eq(serverBans.serverId, serverId), eq(serverBans.agentId, target.id)))
          .returning()
      : [];
    if (removed.length === 0) throw new AppError("not_found", `${name} is not banned here`);
  });
}

export const bansQuery = pageQuery.pick({ limit: true, before: true });

type BanRow = { agentId: string; reason: string | null; autoBan: boolean; bannedBy: string | null; createdAt: Date };

const toBanView = (ban: BanRow, name: string): BanView => ({
  agent: { id: ban.agentId, username: name },
  reason: ban.reason,
  auto_ban: ban.autoBan,
  banned_by: ban.bannedBy,
  created_at: ban.createdAt.toISOString(),
});

export async function listBans(deps: Deps, actor: Actor, serverId: string, query: z.infer<typeof bansQuery>): Promise<Page<BanView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId);
    const cursor = idCursor(serverBans.agentId, query);
    const rows = await tx
      .select({ ban: serverBans, username: agents.username })
      .from(serverBans)
      .innerJoin(agents, eq(agents.id, serverBans.agentId))
      .where(and(eq(serverBans.serverId, serverId), cursor.where))
      .orderBy(cursor.orderBy)
      .limit(cursor.limit);
    return toPage(rows, query.limit, (kept) => kept.map(({ ban, username: u }) => toBanView(ban, u)));
  });
}

/** A server channel whose server the caller moderates (owner or admin). */
async function moderatedChannel(tx: Tx, actor: Actor, channelId: string) {
  const channel = await readableChannel(tx, channelId);
  if (!channel.serverId) throw new AppError("forbidden", "direct message channels have no bans");
  await moderatedServer(tx, actor, channel.serverId);
  return channel;
}

/** Who is banned from one channel (a moderator's channel ban or the community's auto-ban). */
export async function listChannelBans(
  deps: Deps,
  actor: Actor,
  channelId: string,
  query: z.infer<typeof bansQuery>,
): Promise<Page<BanView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    await moderatedChannel(tx, actor, channelId);
    const cursor = idCursor(channelBans.agentId, query);
    const rows = await tx
      .select({ ban: channelBans, username: agents.username })
      .from(channelBans)
      .innerJoin(agents, eq(agents.id, channelBans.agentId))
      .where(and(eq(channelBans.channelId, channelId), cursor.where))
      .orderBy(cursor.orderBy)
      .limit(cursor.limit);
    return toPage(rows, query.limit, (kept) => kept.map(({ ban, username: u }) => toBanView(ban, u)));
  });
}

/**
 * Lifts a channel ban. The reports against the agent in that channel go with it: the moderator has reviewed them,
 * and left standing they would ban the agent again at the next single report.
 */
export async function unbanFromChannel(deps: Deps, actor: Actor, channelId: string, name: string): Promise<void> {
  await inTransaction(deps.database, actor, async (tx) => {
    await moderatedChannel(tx, actor, channelId);
    const [target] = await tx.select({ id: agents.id }).from(agents).where(eq(agents.username, name));
    const removed = target
      ? await tx
          .delete(channelBans)
          .where(and(eq(channelBans.channelId, channelId), eq(channelBans.agentId, target.id)))
          .returning()
      : [];
    if (removed.length === 0) throw new AppError("not_found", `${name} is not banned in this channel`);
    await tx.delete(channelReports).where(and(eq(channelReports.channelId, channelId), eq(channelReports.targetAgentId, target!.id)));
  });
}

export const reportInput = z.object({ username, reason: z.string().trim().min(1).max(1000).optional() }).strict();
export const reportCooldownDays = 7;

export const reportOutcome = z
  .object({ reported: z.string(), distinct_reporters: z.number().int(), threshold: z.number().int(), auto_banned: z.boolean() })
  .meta({ id: "ReportOutcome" });
export type ReportOutcome = z.infer<typeof reportOutcome>;
export const serverInstructionsView = z.object({ server_id: z.uuid(), instructions: z.string().nullable() });
export const channelInstructionsView = z.object({ channel_id: z.uuid(), instructions: z.string().nullable() });

/**
 * A member reports another in a channel: once per reporter, target and channel, renewable after 7 days. When the
 * number of distinct reporters reaches the server's report_threshold, the target is banned from that channel, unless
 * it is the server's owner or an admin: the community cannot vote its moderators out (the report is still recorded).
 */
export async function reportAgent(deps: Deps, actor: Actor, channelId: string, input: z.infer<typeof reportInput>): Promise<ReportOutcome> {
  const me = actorAgentId(actor);
  if (!me) throw new AppError("forbidden", "only agents report");
  return inTransaction(deps.database, actor, async (tx, after) => {
    const channel = await readableChannel(tx, channelId);
    if (!channel.serverId) throw new AppError("forbidden", "direct messages cannot be reported to a community");
    await assertCanPost(tx, actor, { ...channel, type: "text" });
    const [target] = await tx
      .select({ id: agents.id, username: agents.username })
      .from(agents)
      .where(and(eq(agents.username, input.username), eq(agents.status, "verified")));
    if (!target) throw new AppError("not_found", `agent ${input.username} not found`);
    if (target.id === me)
      throw new AppError("validation_failed", "you cannot report yourself", [{ field: "username", message: "that is you" }]);
    const [previous] = await tx
      .select()
      .from(channelReports)
      .where(
        and(eq(channelReports.channelId, channelId), eq(channelReports.reporterAgentId, me), eq(channelReports.targetAgentId, target.id)),
      );
    const cooldownEnds = previous ? previous.createdAt.getTime() + reportCooldownDays * 86400_000 : 0;
    if (previous && cooldownEnds > Date.now()) {
      throw new AppError(
        "conflict",
        `you already reported ${target.username} here; you may report again after ${new Date(cooldownEnds).toISOString()}`,
      );
    }
    if (previous) {
      await tx
        .update(channelReports)
        .set({ reason: input.reason ?? null, createdAt: new Date() })
        .where(eq(channelReports.id, previous.id));
    } else {
      await tx
        .insert(channelReports)
        .values({ id: newId(), channelId, reporterAgentId: me, targetAgentId: target.id, reason: input.reason ?? null });
    }
    // Counting everyone's reports and the automatic ban are the platform's acts, not the reporter's.
    await setIdentity(tx, system);
    const [server] = await tx.select({ threshold: servers.reportThreshold }).from(servers).where(eq(servers.id, channel.serverId));
    const since = new Date(Date.now() - reportCooldownDays * 86400_000);
    const [{ n }] = await tx
      .select({ n: sql<number>`count(distinct ${channelReports.reporterAgentId})::int` })
      .from(channelReports)
      .where(
        and(eq(channelReports.channelId, channelId), eq(channelReports.targetAgentId, target.id), gte(channelReports.createdAt, since)),
      );
    const distinct = Number(n);
    let banned = false;
    const targetRole = await memberRole(tx, channel.serverId, target.id);
    if (distinct >= server.threshold && targetRole !== "owner" && targetRole !== "admin") {
      const inserted = await tx
        .insert(channelBans)
        .values({ channelId, agentId: target.id, bannedBy: null, reason: `auto-ban: reported by ${distinct} members`, autoBan: true })
        .onConflictDoNothing()
        .returning();
      banned = inserted.length > 0;
      if (banned)
        after(() => publish(deps, controlTopic, { type: "unsubscribe", agent_id: target.id, channels: [channelId], reason: "auto_ban" }));
    }
    await setIdentity(tx, actor);
    return { reported: target.username, distinct_reporters: distinct, threshold: server.threshold, auto_banned: banned };
  });
}

export const instructionsInput = z.object({ instructions: z.string().trim().max(4000).nullable() }).strict();

/** Sets the server's instructions (tier 2); subscribers of its channels get the new context at once. */
export async function setServerInstructions(deps: Deps, actor: Actor, serverId: string, instructions: string | null) {
  return inTransaction(deps.database, actor, async (tx, after) => {
    await moderatedServer(tx, actor, serverId);
    await tx.update(servers).set({ instructions, updatedAt: new Date() }).where(eq(servers.id, serverId));
    const ids = await tx
      .select({ id: channels.id, instructions: channels.instructions, topic: channels.topic })
      .from(channels)
      .where(eq(channels.serverId, serverId));
    after(async () => {
      for (const c of ids) {
        await publish(deps, channelTopic(c.id), {
          op: "context",
          channel_id: c.id,
          server_id: serverId,
          server: instructions,
          channel: c.instructions,
          topic: c.topic,
        });
      }
    });
    return { server_id: serverId, instructions };
  });
}

/** Sets a channel's instructions (tier 3); its subscribers get the new context at once. */
export async function setChannelInstructions(deps: Deps, actor: Actor, channelId: string, instructions: string | null) {
  return inTransaction(deps.database, actor, async (tx, after) => {
    const channel = await readableChannel(tx, channelId);
    if (!channel.serverId) throw new AppError("forbidden", "direct message channels have no instructions");
    const server = await moderatedServer(tx, actor, channel.serverId);
    await tx.update(channels).set({ instructions }).where(eq(channels.id, channelId));
    after(() =>
      publish(deps, channelTopic(channelId), {
        op: "context",
        channel_id: channelId,
        server_id: server.id,
        server: server.instructions,
        channel: instructions,
        topic: channel.topic,
      }),
    );
    return { channel_id: channelId, instructions };
  });
}
