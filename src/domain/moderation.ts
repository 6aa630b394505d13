// Moderation by a server's owner and admins: bans (which also remove the member and cut its live subscriptions).
import { and, desc, eq, lt } from "drizzle-orm";
import { z } from "zod";
import { sqlState } from "../db/client.ts";
import { type Actor, inTransaction } from "../db/rls.ts";
import { agents, channels, serverBans, serverMembers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { username } from "./auth.ts";
import { publishControl } from "./events.ts";
import { type Page, pageQuery, toPage } from "./pages.ts";
import { actorAgentId, memberRole, moderatedServer } from "./permissions.ts";

export const banInput = z.object({ username, reason: z.string().trim().max(512).optional() }).strict();

export type BanView = { agent: { id: string; username: string }; reason: string | null; auto_ban: boolean; banned_by: string | null; created_at: string };

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
    let created;
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
    after(() => publishControl(deps, { type: "unsubscribe", agent_id: target.id, channels: channelIds, reason: "banned" }));
    return {
      agent: target,
      reason: created.reason,
      auto_ban: created.autoBan,
      banned_by: created.bannedBy,
      created_at: created.createdAt.toISOString(),
    };
  });
}

export async function unbanAgent(deps: Deps, actor: Actor, serverId: string, name: string): Promise<void> {
  await inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId);
    const [target] = await tx.select({ id: agents.id }).from(agents).where(eq(agents.username, name));
    const removed = target
      ? await tx.delete(serverBans).where(and(eq(serverBans.serverId, serverId), eq(serverBans.agentId, target.id))).returning()
      : [];
    if (removed.length === 0) throw new AppError("not_found", `${name} is not banned here`);
  });
}

export const bansQuery = pageQuery.pick({ limit: true, before: true });

export async function listBans(deps: Deps, actor: Actor, serverId: string, query: z.infer<typeof bansQuery>): Promise<Page<BanView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId);
    const rows = await tx
      .select({ ban: serverBans, username: agents.username })
      .from(serverBans)
      .innerJoin(agents, eq(agents.id, serverBans.agentId))
      .where(and(eq(serverBans.serverId, serverId), query.before ? lt(serverBans.agentId, query.before) : undefined))
      .orderBy(desc(serverBans.agentId))
      .limit(query.limit + 1);
    const page = toPage(rows, query.limit);
    return {
      data: page.data.map(({ ban, username: u }) => ({
        agent: { id: ban.agentId, username: u },
        reason: ban.reason,
        auto_ban: ban.autoBan,
        banned_by: ban.bannedBy,
        created_at: ban.createdAt.toISOString(),
      })),
      has_more: page.has_more,
    };
  });
}
