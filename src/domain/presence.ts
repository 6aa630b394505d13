// Presence, per agent (never per socket), shared by every instance through its store (Redis in production, process
// memory when embedded: src/domain/presence-store.ts): the leases of the agent's sockets, its last outbound act, its
// published state (online | idle; none is offline, and a state lapses with the instance that stops renewing it).
// ONLINE on connect; IDLE after timeout/2 without an outbound act; OFFLINE after timeout or when the last socket
// closes. Receiving does not count. Time is `deps.clock`'s. Changes are announced once per tick, one frame per server
// listing every change since its last frame, and less often while the server keeps changing: a thousand agents
// connecting at once cost each listener a handful of frames, not a thousand.
import { eq, inArray, ne, sql } from "drizzle-orm";
import { rows } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { agentConfig, agents, serverMembers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError, logFailure } from "../errors.ts";
import type { PresenceChange } from "../wire.ts";
import { type Actor, system } from "./actor.ts";
import { defaultSettings } from "./agent-settings.ts";
import { presenceTopic, publish } from "./events.ts";

export type PresenceState = "online" | "idle" | "offline";

/** How long a session stays counted without renewal; instances renew theirs well within it. */
export const sessionLeaseMs = 60_000;
/** How often an instance renews the leases of its sessions (and the lifetime of their published states). */
export const sessionRenewMs = 10_000;
/** How often states are re-read and changes announced: the granularity of presence, and at most one frame per server. */
export const presenceTickMs = 1_000;
/** The longest a server's changes wait while its members keep changing (see `outbox` below). */
export const maxPresenceGapMs = 15_000;
/** How often an instance looks for agents still shown present whose instance died without saying goodbye. */
export const stalePresenceMs = 60_000;

const stateTtlMs = (timeoutSeconds: number) => timeoutSeconds * 1000 + sessionLeaseMs;

/** True while the agent has a live socket on any instance. */
export async function isConnected(deps: Deps, agentId: string): Promise<boolean> {
  return (await connectedSessions(deps, agentId)) > 0;
}

/** How many live sessions the agent has across all instances. */
export async function connectedSessions(deps: Deps, agentId: string): Promise<number> {
  return deps.presenceStore.liveSessions(agentId, deps.clock.now());
}

/** An outbound act (send, react, type) resets the idle timer, wherever it came from (REST or WebSocket). */
export async function recordOutbound(deps: Deps, agentId: string): Promise<void> {
  await deps.presenceStore.setOutbound(agentId, deps.clock.now());
}

/** The state the clock says an agent is in, from its last outbound act and its idle timeout. */
export function stateAt(now: number, lastOutbound: number | undefined, timeoutSeconds: number, connected: boolean): PresenceState {
  if (!connected || lastOutbound === undefined) return "offline";
  const quiet = now - lastOutbound;
  if (quiet < (timeoutSeconds * 1000) / 2) return "online";
  if (quiet < timeoutSeconds * 1000) return "idle";
  return "offline";
}

/** The current state of many agents at once (one round trip): a snapshot for a new subscriber. */
export async function statesOf(deps: Deps, agentIds: string[]): Promise<PresenceState[]> {
  return (await deps.presenceStore.states(agentIds)).map((state) => state ?? "offline");
}

/**
 * Who is online or idle among the agents who can be in a channel (its server's members, or a DM's pair), in one
 * statement. Candidates are those the agents table shows online or idle; Redis, which holds the states, decides among
 * them (a state that lapsed with its instance). The table trails Redis by at most one presence tick, and a change is
 * announced only once the table has it: a subscriber, who watches its server before asking, hears of anyone the
 * table did not show yet.
 */
export async function presenceSnapshot(deps: Deps, actor: Actor, channelId: string): Promise<{ online: string[]; idle: string[] }> {
  const people = await inTransaction(deps.database, actor, async (tx) => {
    const found = await rows<{ id: string | null; username: string | null }>(
      tx,
      sql`select a.id, a.username
            from channels c
            left join lateral (
              select a.id, a.username from server_members m join agents a on a.id = m.agent_id
               where m.server_id = c.server_id and a.presence <> 'offline'
              union all
              select a.id, a.username from friendships f join agents a on a.id in (f.agent_a_id, f.agent_b_id)
               where f.dm_channel_id = c.id and a.presence <> 'offline'
              limit 5000) a on true
           where c.id = ${channelId} and app_can_read_channel(c.id)`,
    );
    if (found.length === 0) throw new AppError("not_found", "channel not found");
    return found.filter((p): p is { id: string; username: string } => p.id !== null && p.username !== null);
  });
  const states = await statesOf(
    deps,
    people.map((p) => p.id),
  );
  return {
    online: people.filter((_, i) => states[i] === "online").map((p) => p.username),
    idle: people.filter((_, i) => states[i] === "idle").map((p) => p.username),
  };
}

/** What presence needs of an agent opening a socket, in one read: its username and its idle timeout. */
export async function connectingAgent(
  deps: Deps,
  actor: Actor & { role: "agent" },
): Promise<{ username: string; idleTimeoutSeconds: number }> {
  return inTransaction(deps.database, actor, async (tx) => {
    const [row] = await tx
      .select({ username: agents.username, idleTimeoutSeconds: agentConfig.idleTimeoutSeconds })
      .from(agents)
      .leftJoin(agentConfig, eq(agentConfig.agentId, agents.id))
      .where(eq(agents.id, actor.agentId));
    if (!row) throw new AppError("not_found", "agent not found");
    return { username: row.username, idleTimeoutSeconds: row.idleTimeoutSeconds ?? defaultSettings.idleTimeoutSeconds };
  });
}

/**
 * Agents still shown online or idle whose published state has lapsed (their instance died without saying goodbye)
 * are set offline. Any instance may do this; it only writes what Redis already says.
 */
export async function settleStalePresence(deps: Deps): Promise<void> {
  await inTransaction(deps.database, system, async (tx) => {
    const shown = await tx.select({ id: agents.id }).from(agents).where(ne(agents.presence, "offline")).limit(1000);
    const states = await statesOf(
      deps,
      shown.map((a) => a.id),
    );
    const lapsed = shown.filter((_, i) => states[i] === "offline").map((a) => a.id);
    if (lapsed.length) await tx.update(agents).set({ presence: "offline" }).where(inArray(agents.id, lapsed));
  });
}

// ---------------------------------------------------------------- the sessions of one instance

/** One socket of an agent on this instance, as the gateway reports it. */
export type Session = { agentId: string; sessionId: string; username: string; idleTimeoutSeconds: number };

/** The presence of the agents connected to one instance: the gateway reports sockets, the clock moves states along. */
export type Presence = {
  /** A socket opened: the agent is online (announced at the next tick). */
  opened(session: Session): Promise<void>;
  /** A socket closed: the agent goes offline with its last socket anywhere. */
  closed(session: Session): Promise<void>;
  /** Moves each agent connected here to the state the clock says, and announces the changes: one frame per server. */
  tick(): Promise<void>;
  /** Renews the leases of this instance's sessions and of the states it published. */
  renew(): Promise<void>;
  /** Shutdown: agents connected only here go offline now, announced before this resolves. */
  stop(): Promise<void>;
};

type Local = { username: string; idleTimeoutSeconds: number; sessions: Set<string> };
type Change = { agentId: string; username: string; state: PresenceState; idleTimeoutSeconds: number };

export function createPresence(deps: Deps): Presence {
  const local = new Map<string, Local>();
  /** The state this instance last announced for an agent (none: nothing yet, or offline and gone from here). */
  const published = new Map<string, PresenceState>();
  /** What the next tick announces, per agent: the last change wins, a change back to what was announced cancels. */
  const pending = new Map<string, Change>();

  const change = (c: Change) => {
    if (published.get(c.agentId) === c.state) pending.delete(c.agentId);
    else pending.set(c.agentId, c);
  };

  /**
   * Per server: the changes not sent yet and when the next frame may go. A server whose members keep changing (a
   * wave of agents connecting) gets frames further and further apart, 1, 2, 4, 8 then every 15 s; once a gap passes
   * with nothing to say, it is back to the first pace.
   */
  const outbox = new Map<string, { changes: Map<string, PresenceChange>; nextAt: number; gapMs: number }>();

  const send = async (all: boolean) => {
    const now = deps.clock.now();
    for (const [serverId, o] of outbox) {
      if (o.changes.size === 0) {
        if (now >= o.nextAt) outbox.delete(serverId);
        continue;
      }
      if (now < o.nextAt && !all) continue;
      const changes = [...o.changes.values()];
      o.changes.clear();
      o.nextAt = now + o.gapMs;
      o.gapMs = Math.min(o.gapMs * 2, maxPresenceGapMs);
      await publish(deps, presenceTopic(serverId), { op: "presence", server_id: serverId, changes });
    }
  };

  const announce = async (all = false) => {
    await store();
    await send(all);
  };

  /** Records the changes of this tick (Redis, the agents table) and files them under their servers. */
  const store = async () => {
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending.clear();
    try {
      await deps.presenceStore.setStates(
        batch.map((c) => ({
          agentId: c.agentId,
          state: c.state === "offline" ? undefined : c.state,
          ttlMs: stateTtlMs(c.idleTimeoutSeconds),
        })),
      );
      const servers = await storePresence(deps, batch);
      for (const c of batch) {
        if (c.state === "offline" && !local.has(c.agentId)) published.delete(c.agentId);
        else published.set(c.agentId, c.state);
      }
      for (const [serverId, changes] of servers) {
        const o = outbox.get(serverId) ?? { changes: new Map(), nextAt: 0, gapMs: presenceTickMs };
        outbox.set(serverId, o);
        for (const c of changes) o.changes.set(c.agent_id, c);
      }
    } catch (e) {
      // Not announced: the next tick tries again, unless a newer change came meanwhile.
      for (const c of batch) if (!pending.has(c.agentId)) change(c);
      throw e;
    }
  };

  const closed = async (s: Session) => {
    const mine = local.get(s.agentId);
    mine?.sessions.delete(s.sessionId);
    if (mine?.sessions.size === 0) local.delete(s.agentId);
    await deps.presenceStore.close(s.agentId, s.sessionId, deps.clock.now());
    if (local.has(s.agentId)) return;
    const elsewhere = await isConnected(deps, s.agentId);
    if (local.has(s.agentId)) return; // it connected here again meanwhile
    // The last socket anywhere: the agent goes offline now rather than when its timer runs out.
    if (!elsewhere) change({ ...s, state: "offline" });
    // This instance no longer speaks for the agent: it forgets what it announced (once its offline has gone out).
    if (!pending.has(s.agentId)) published.delete(s.agentId);
  };

  return {
    closed,
    async opened(s) {
      const mine = local.get(s.agentId) ?? { username: s.username, idleTimeoutSeconds: s.idleTimeoutSeconds, sessions: new Set() };
      local.set(s.agentId, mine);
      mine.sessions.add(s.sessionId);
      const now = deps.clock.now();
      await deps.presenceStore.open(s.agentId, s.sessionId, now, now + sessionLeaseMs, sessionLeaseMs * 2);
      change({ ...s, state: "online" });
    },

    async tick() {
      const ids = [...local.keys()];
      const last = await deps.presenceStore.outbound(ids);
      const now = deps.clock.now();
      for (let i = 0; i < ids.length; i++) {
        const mine = local.get(ids[i]);
        if (!mine) continue; // closed meanwhile
        change({
          agentId: ids[i],
          username: mine.username,
          idleTimeoutSeconds: mine.idleTimeoutSeconds,
          state: stateAt(now, last[i], mine.idleTimeoutSeconds, true),
        });
      }
      await announce();
    },

    async renew() {
      if (local.size === 0) return;
      await deps.presenceStore.renew(
        [...local].map(([agentId, mine]) => {
          // A state stays published while its agent is connected, however long that is.
          const state = published.get(agentId);
          const stateTtl = state && state !== "offline" ? stateTtlMs(mine.idleTimeoutSeconds) : undefined;
          return { agentId, sessionIds: mine.sessions, stateTtlMs: stateTtl };
        }),
        deps.clock.now() + sessionLeaseMs,
        sessionLeaseMs * 2,
      );
    },

    async stop() {
      for (const [agentId, mine] of [...local]) {
        local.delete(agentId);
        const session = { agentId, username: mine.username, idleTimeoutSeconds: mine.idleTimeoutSeconds };
        for (const sessionId of mine.sessions) await closed({ ...session, sessionId }).catch((e) => logFailure("presence", e));
      }
      await announce(true);
    },
  };
}

/**
 * Keeps the agents.presence column (profiles, member lists) in step with the announced states, in one transaction
 * for a whole tick, and answers each server's share of the changes (its members' changes, announced on its topic).
 */
async function storePresence(deps: Deps, batch: Change[]): Promise<Map<string, PresenceChange[]>> {
  return inTransaction(deps.database, system, async (tx) => {
    const seenAt = new Date(deps.clock.now());
    for (const state of ["online", "idle", "offline"] as const) {
      const ids = batch.filter((c) => c.state === state).map((c) => c.agentId);
      if (ids.length) await tx.update(agents).set({ presence: state, lastSeenAt: seenAt }).where(inArray(agents.id, ids));
    }
    const rows = await tx
      .select({ serverId: serverMembers.serverId, agentId: serverMembers.agentId })
      .from(serverMembers)
      .where(
        inArray(
          serverMembers.agentId,
          batch.map((c) => c.agentId),
        ),
      );
    const byAgent = new Map(batch.map((c) => [c.agentId, { agent: c.username, agent_id: c.agentId, status: c.state }]));
    const servers = new Map<string, PresenceChange[]>();
    for (const r of rows) {
      const changes = servers.get(r.serverId) ?? [];
      servers.set(r.serverId, changes);
      changes.push(byAgent.get(r.agentId)!);
    }
    return servers;
  });
}
