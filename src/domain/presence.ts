// Presence, per agent (never per socket), shared by every instance through Redis (ioredis-mock when embedded):
//   sockets:<agent>   sorted set of live session ids, scored by when they lapse (an instance that dies stops renewing)
//   outbound:<agent>  time of the agent's last outbound act (send, react, type); connecting counts as one
//   state:<agent>     the published state (online | idle), which lapses to offline
// ONLINE on connect; IDLE after timeout/2 without an outbound act; OFFLINE after timeout. Receiving does not count.
import { eq, inArray, ne, or } from "drizzle-orm";
import { inTransaction } from "../db/rls.ts";
import { type Actor, system } from "./actor.ts";
import { agents, friendships, serverMembers } from "../db/schema.ts";
import { getAgentConfig } from "./agent-settings.ts";
import type { Deps } from "../deps.ts";
import { readableChannel } from "./permissions.ts";

export type PresenceState = "online" | "idle" | "offline";

/** How long a session stays counted without renewal; instances renew theirs well within it. */
export const sessionLeaseMs = 60_000;

const key = (deps: Deps, kind: string, agentId: string) => `${deps.config.redisPrefix}presence:${kind}:${agentId}`;

/** True while the agent has a live socket on any instance. */
export async function isConnected(deps: Deps, agentId: string): Promise<boolean> {
  return (await deps.redis.zcount(key(deps, "sockets", agentId), Date.now(), "+inf")) > 0;
}

export async function sessionOpened(deps: Deps, agentId: string, sessionId: string): Promise<void> {
  const now = Date.now();
  await deps.redis
    .multi()
    .zadd(key(deps, "sockets", agentId), now + sessionLeaseMs, sessionId)
    .pexpire(key(deps, "sockets", agentId), sessionLeaseMs * 2)
    .set(key(deps, "outbound", agentId), String(now), "PX", 24 * 3600 * 1000)
    .exec();
}

/** Renews the leases of this instance's live sessions. */
export async function renewSessions(deps: Deps, sessions: { agentId: string; sessionId: string }[]): Promise<void> {
  if (sessions.length === 0) return;
  const until = Date.now() + sessionLeaseMs;
  const tx = deps.redis.multi();
  for (const s of sessions) {
    tx.zadd(key(deps, "sockets", s.agentId), until, s.sessionId).pexpire(key(deps, "sockets", s.agentId), sessionLeaseMs * 2);
  }
  await tx.exec();
}

export async function sessionClosed(deps: Deps, agentId: string, sessionId: string): Promise<void> {
  await deps.redis.multi().zrem(key(deps, "sockets", agentId), sessionId).zremrangebyscore(key(deps, "sockets", agentId), "-inf", Date.now()).exec();
}

/** An outbound act (send, react, type) resets the idle timer, wherever it came from (REST or WebSocket). */
export async function recordOutbound(deps: Deps, agentId: string): Promise<void> {
  await deps.redis.set(key(deps, "outbound", agentId), String(Date.now()), "PX", 24 * 3600 * 1000);
}

/** The state the clock says an agent is in, from its last outbound act and its idle timeout. */
export function stateAt(now: number, lastOutbound: number | undefined, timeoutSeconds: number, connected: boolean): PresenceState {
  if (!connected || lastOutbound === undefined) return "offline";
  const quiet = now - lastOutbound;
  if (quiet < (timeoutSeconds * 1000) / 2) return "online";
  if (quiet < timeoutSeconds * 1000) return "idle";
  return "offline";
}

export async function lastOutbound(deps: Deps, agentIds: string[]): Promise<(number | undefined)[]> {
  if (agentIds.length === 0) return [];
  const values = await deps.redis.mget(agentIds.map((id) => key(deps, "outbound", id)));
  return values.map((v) => (v ? Number(v) : undefined));
}

/** Records the published state of agents (so snapshots on other instances agree); offline removes it. */
export async function publishState(deps: Deps, agentId: string, state: PresenceState, timeoutSeconds: number): Promise<void> {
  if (state === "offline") await deps.redis.del(key(deps, "state", agentId));
  else await deps.redis.set(key(deps, "state", agentId), state, "PX", timeoutSeconds * 1000 + sessionLeaseMs);
}

/** The current state of many agents at once (one round trip): a snapshot for a new subscriber. */
export async function statesOf(deps: Deps, agentIds: string[]): Promise<PresenceState[]> {
  if (agentIds.length === 0) return [];
  const values = await deps.redis.mget(agentIds.map((id) => key(deps, "state", id)));
  return values.map((v) => (v === "online" || v === "idle" ? v : "offline"));
}

/** Who is online or idle among the agents who can be in a channel (its server's members, or a DM's pair). */
export async function presenceSnapshot(deps: Deps, actor: Actor, channelId: string): Promise<{ online: string[]; idle: string[] }> {
  const people = await inTransaction(deps.database, actor, async (tx) => {
    const channel = await readableChannel(tx, channelId);
    if (channel.serverId) {
      return tx
        .select({ id: agents.id, username: agents.username })
        .from(serverMembers)
        .innerJoin(agents, eq(agents.id, serverMembers.agentId))
        .where(eq(serverMembers.serverId, channel.serverId))
        .limit(5000);
    }
    return tx
      .select({ id: agents.id, username: agents.username })
      .from(friendships)
      .innerJoin(agents, or(eq(agents.id, friendships.agentAId), eq(agents.id, friendships.agentBId)))
      .where(eq(friendships.dmChannelId, channel.id));
  });
  const states = await statesOf(deps, people.map((p) => p.id));
  return {
    online: people.filter((_, i) => states[i] === "online").map((p) => p.username),
    idle: people.filter((_, i) => states[i] === "idle").map((p) => p.username),
  };
}

/**
 * Keeps the agents.presence column (profiles, member lists) in step with the published state, and answers the
 * servers the agent belongs to (where the change is announced).
 */
export async function storePresence(deps: Deps, agentId: string, state: PresenceState): Promise<string[]> {
  return inTransaction(deps.database, system, async (tx) => {
    await tx.update(agents).set({ presence: state, lastSeenAt: new Date() }).where(eq(agents.id, agentId));
    const rows = await tx.select({ id: serverMembers.serverId }).from(serverMembers).where(eq(serverMembers.agentId, agentId)).limit(1000);
    return rows.map((r) => r.id);
  });
}

/** The agent's idle timeout, read when it connects. */
export async function idleTimeoutOf(deps: Deps, actor: Actor & { role: "agent" }): Promise<number> {
  return (await inTransaction(deps.database, actor, (tx) => getAgentConfig(tx, actor.agentId))).idleTimeoutSeconds;
}

/** How many live sessions the agent has across all instances. */
export async function connectedSessions(deps: Deps, agentId: string): Promise<number> {
  return deps.redis.zcount(key(deps, "sockets", agentId), Date.now(), "+inf");
}

/**
 * Agents still shown online or idle whose published state has lapsed (their instance died without saying goodbye)
 * are set offline. Any instance may do this; it only writes what Redis already says.
 */
export async function settleStalePresence(deps: Deps): Promise<void> {
  await inTransaction(deps.database, system, async (tx) => {
    const shown = await tx.select({ id: agents.id }).from(agents).where(ne(agents.presence, "offline")).limit(1000);
    const states = await statesOf(deps, shown.map((a) => a.id));
    const lapsed = shown.filter((_, i) => states[i] === "offline").map((a) => a.id);
    if (lapsed.length) await tx.update(agents).set({ presence: "offline" }).where(inArray(agents.id, lapsed));
  });
}
