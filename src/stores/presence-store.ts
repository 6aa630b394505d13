// Where presence (src/domain/presence.ts) keeps what it knows of each agent: its sockets' leases, the time of its last
// outbound act, its published state. In production that is Redis, shared by every instance; an embedded server is the
// only instance, and keeps it in its own memory with the same meaning. ioredis-mock did that job before at a cost
// that grew with the platform: its sorted sets sort again on every insert and every command goes through its
// emulation, so a lease renewal for 1,000 connected agents held the thread for 15-58 ms and each subscriber's snapshot
// looked up every online member through it (bench/RESULTS.md).
//
// Session leases are scored on the caller's clock (`deps.clock`, which tests move by hand); keys expire on the real
// clock, as Redis's own expiry does.
import type Redis from "ioredis";
import { expiringMap } from "../lib/expiring.ts";

/** A published state; offline is never stored (no state is offline). */
export type StoredState = "online" | "idle";

export type PresenceStore = {
  /** How many of the agent's sessions are leased beyond `now`. */
  liveSessions(agentId: string, now: number): Promise<number>;
  /** A socket opened: its session is leased until `leaseUntil` (the set of leases lives `keyTtlMs`), and `now` is the agent's last outbound act. */
  open(agentId: string, sessionId: string, now: number, leaseUntil: number, keyTtlMs: number): Promise<void>;
  /** A socket closed: its session goes, and with it every lease of the agent that ended before `now`. */
  close(agentId: string, sessionId: string, now: number): Promise<void>;
  /** Extends the given sessions' leases to `until` (their set lives `keyTtlMs` more), and the life of published states by `stateTtlMs`. */
  renew(agents: { agentId: string; sessionIds: Iterable<string>; stateTtlMs?: number }[], until: number, keyTtlMs: number): Promise<void>;
  /** The time of the agent's last outbound act. */
  setOutbound(agentId: string, at: number): Promise<void>;
  outbound(agentIds: string[]): Promise<(number | undefined)[]>;
  /** Publishes states, each living `ttlMs` unless renewed; `undefined` removes one (the agent is offline). */
  setStates(changes: { agentId: string; state: StoredState | undefined; ttlMs: number }[]): Promise<void>;
  states(agentIds: string[]): Promise<(StoredState | undefined)[]>;
};

/** How long the time of an agent's last outbound act is kept after it (a day: longer than any idle timeout). */
const outboundTtlMs = 24 * 3600 * 1000;

const stored = (v: string | null | undefined): StoredState | undefined => (v === "online" || v === "idle" ? v : undefined);

/**
 * Redis keys, under the configured prefix:
 *   presence:sockets:<agent>   sorted set of live session ids, scored by when they lapse (an instance that dies stops renewing)
 *   presence:outbound:<agent>  time of the agent's last outbound act (send, react, type); connecting counts as one
 *   presence:state:<agent>     the published state (online | idle), which lapses to offline
 */
export function redisPresenceStore(redis: Redis, prefix: string): PresenceStore {
  const key = (kind: "sockets" | "outbound" | "state", agentId: string) => `${prefix}presence:${kind}:${agentId}`;
  return {
    liveSessions: (agentId, now) => redis.zcount(key("sockets", agentId), now, "+inf"),
    async open(agentId, sessionId, now, leaseUntil, keyTtlMs) {
      await redis
        .multi()
        .zadd(key("sockets", agentId), leaseUntil, sessionId)
        .pexpire(key("sockets", agentId), keyTtlMs)
        .set(key("outbound", agentId), String(now), "PX", outboundTtlMs)
        .exec();
    },
    async close(agentId, sessionId, now) {
      await redis.multi().zrem(key("sockets", agentId), sessionId).zremrangebyscore(key("sockets", agentId), "-inf", now).exec();
    },
    async renew(agents, until, keyTtlMs) {
      if (agents.length === 0) return;
      const tx = redis.multi();
      for (const { agentId, sessionIds, stateTtlMs } of agents) {
        for (const sessionId of sessionIds) tx.zadd(key("sockets", agentId), until, sessionId);
        tx.pexpire(key("sockets", agentId), keyTtlMs);
        if (stateTtlMs !== undefined) tx.pexpire(key("state", agentId), stateTtlMs);
      }
      await tx.exec();
    },
    async setOutbound(agentId, at) {
      await redis.set(key("outbound", agentId), String(at), "PX", outboundTtlMs);
    },
    async outbound(agentIds) {
      if (agentIds.length === 0) return [];
      const values = await redis.mget(agentIds.map((id) => key("outbound", id)));
      return values.map((v) => (v ? Number(v) : undefined));
    },
    async setStates(changes) {
      if (changes.length === 0) return;
      const tx = redis.multi();
      for (const c of changes) {
        if (c.state) tx.set(key("state", c.agentId), c.state, "PX", c.ttlMs);
        else tx.del(key("state", c.agentId));
      }
      await tx.exec();
    },
    async states(agentIds) {
      if (agentIds.length === 0) return [];
      return (await redis.mget(agentIds.map((id) => key("state", id)))).map(stored);
    },
  };
}

/** The embedded server's: maps whose entries expire as Redis keys do (src/lib/expiring.ts). */
export function memoryPresenceStore(realNow: () => number = Date.now): PresenceStore {
  const sockets = expiringMap<Map<string, number>>(realNow);
  const outbound = expiringMap<number>(realNow);
  const states = expiringMap<StoredState>(realNow);
  /** The agent's leases (a new set when it had none), its set made to live `keyTtlMs` from now. */
  const leases = (agentId: string, keyTtlMs: number) => {
    const mine = sockets.get(agentId) ?? new Map<string, number>();
    sockets.set(agentId, mine, keyTtlMs);
    return mine;
  };
  return {
    async liveSessions(agentId, now) {
      let n = 0;
      for (const lapses of sockets.get(agentId)?.values() ?? []) if (lapses >= now) n++;
      return n;
    },
    async open(agentId, sessionId, now, leaseUntil, keyTtlMs) {
      leases(agentId, keyTtlMs).set(sessionId, leaseUntil);
      outbound.set(agentId, now, outboundTtlMs);
    },
    async close(agentId, sessionId, now) {
      const mine = sockets.get(agentId);
      if (!mine) return;
      mine.delete(sessionId);
      for (const [id, lapses] of mine) if (lapses <= now) mine.delete(id);
      if (mine.size === 0) sockets.delete(agentId);
    },
    async renew(agents, until, keyTtlMs) {
      for (const { agentId, sessionIds, stateTtlMs } of agents) {
        const mine = leases(agentId, keyTtlMs);
        for (const sessionId of sessionIds) mine.set(sessionId, until);
        if (stateTtlMs !== undefined) states.touch(agentId, stateTtlMs);
      }
    },
    async setOutbound(agentId, at) {
      outbound.set(agentId, at, outboundTtlMs);
    },
    async outbound(agentIds) {
      return agentIds.map((id) => outbound.get(id));
    },
    async setStates(changes) {
      for (const c of changes) {
        if (c.state) states.set(c.agentId, c.state, c.ttlMs);
        else states.delete(c.agentId);
      }
    },
    async states(agentIds) {
      return agentIds.map((id) => states.get(id));
    },
  };
}
