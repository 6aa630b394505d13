// Webhook wake-ups: an offline agent is POSTed a signed event when a DM, mention, reply or friend request reaches it.
// Events go through a durable outbox (webhook_deliveries) that a worker on every instance drains: at least once,
// retried with backoff, capped per agent per hour (events past the cap wait in one batched wake), never to a private
// address.
import { createHmac } from "node:crypto";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { and, asc, desc, eq, gt, inArray, lt, lte, min, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../db/client.ts";
import { type After, inTransaction } from "../db/rls.ts";
import { type Actor, system } from "./actor.ts";
import { agentBlocks, agentConfig, agents, webhookDeliveries } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { logFailure } from "../errors.ts";
import { newId } from "../lib/ids.ts";
import { type Page, pageQuery, toPage } from "./paging.ts";
import { channelReadableBy } from "./permissions.ts";
import { isConnected } from "./presence.ts";

export const wakeTypes = ["dm.received", "mention.received", "reply.received", "friend_request.received"] as const;
export type WakeType = (typeof wakeTypes)[number];
/** The type of the wake that carries events held back by max_inbound_wakes_per_hour. */
export const batchType = "wake.batch";

export const requestTimeoutMs = 5_000;
/** Attempts before a delivery is dead: with the default 30 s base the retries span about an hour. */
export const maxAttempts = 8;
/** A held batch carries at most this many events in full; past it, `data.omitted` counts the rest. */
export const maxBatchEvents = 100;
/** A claimed delivery is invisible to other workers this long; if its worker dies, it is retried after it. */
const leaseMs = 60_000;
const claimSize = 20;
const pollMs = 1_000;
/** Advisory-lock class (two-int form) that serializes the wakes of one agent, so the hourly count is exact. */
const wakeLockClass = 0x77616b;

/** `inbox_cursor`: the event's position in the agent's inbox (GET /agents/@me/inbox?since=, POST .../inbox/ack). */
export type WakeEvent = {
  id: string;
  type: WakeType | typeof batchType;
  created_at: string;
  inbox_cursor?: string;
  data: Record<string, unknown>;
};

export type WakeInput = {
  agentId: string;
  fromAgentId: string;
  type: WakeType;
  /** What the agent needs to act: message, from, ... */
  data: Record<string, unknown>;
  /** Where it happened: the target must be able to read it, and `data.channel` is filled in from it. */
  channelId?: string;
  /** The inbox item this event is (src/domain/inbox.ts records it first). */
  inboxCursor: string;
};

// ---------------------------------------------------------------- where we may send

export class WebhookRefused extends Error {}

/**
 * Checks a webhook URL and resolves its host (every address). Unless private targets are allowed, all of them must be
 * public: the answer names the address to connect to, so a DNS answer that changes after the check is never used.
 */
export async function webhookTarget(deps: Deps, raw: string): Promise<{ url: URL; address: string }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookRefused("is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new WebhookRefused("must be an http(s) URL");
  if (url.username || url.password) throw new WebhookRefused("must not carry credentials (deliveries are signed instead)");
  const addresses = await resolve(url.hostname);
  if (addresses.length === 0) throw new WebhookRefused("does not resolve to an address");
  if (!deps.config.allowPrivateWebhooks && !addresses.every(isPublicAddress)) {
    // The address itself is not named: an agent must not learn what internal names resolve to.
    throw new WebhookRefused("must resolve to public addresses only (not loopback, private, link-local or metadata)");
  }
  return { url, address: addresses[0] };
}

async function resolve(hostname: string): Promise<string[]> {
  const literal = hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(literal)) return [literal];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const answers = await Promise.race([
      lookup(literal, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), requestTimeoutMs);
      }),
    ]);
    return answers.map((a) => a.address);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

/** IPv4 ranges that are not the public internet: [first octets..., prefix length]. */
const privateV4: [number, number, number, number, number][] = [
  [0, 0, 0, 0, 8], // "this network"
  [10, 0, 0, 0, 8],
  [100, 64, 0, 0, 10], // carrier-grade NAT
  [127, 0, 0, 0, 8],
  [169, 254, 0, 0, 16], // link-local, cloud metadata (169.254.169.254)
  [172, 16, 0, 0, 12],
  [192, 0, 0, 0, 24],
  [192, 0, 2, 0, 24],
  [192, 88, 99, 0, 24],
  [192, 168, 0, 0, 16],
  [198, 18, 0, 0, 15],
  [198, 51, 100, 0, 24],
  [203, 0, 113, 0, 24],
  [224, 0, 0, 0, 4], // multicast
  [240, 0, 0, 0, 4], // reserved, broadcast
];

function v4Public(bytes: number[]): boolean {
  const value = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return !privateV4.some(([a, b, c, d, prefix]) => {
    const net = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return ((value & mask) >>> 0) === net;
  });
}

function parseV4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** Eight 16-bit groups, or undefined. Accepts `::` and a trailing dotted quad; drops a zone (`%eth0`). */
function parseV6(text: string): number[] | undefined {
  let s = text.split("%")[0].toLowerCase();
  const tail: number[] = [];
  if (s.includes(".")) {
    const lastColon = s.lastIndexOf(":");
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const group = (part: string) => (part === "" ? [] : part.split(":"));
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const missing = 8 - tail.length - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head.map((g) => parseInt(g, 16)), ...Array(halves.length === 2 ? missing : 0).fill(0), ...rest.map((g) => parseInt(g, 16)), ...tail];
}

/** Whether an address is on the public internet. Anything we cannot parse is not. */
export function isPublicAddress(address: string): boolean {
  const v4 = parseV4(address);
  if (v4) return v4Public(v4);
  const h = parseV6(address);
  if (!h) return false;
  const embedded = (hi: number, lo: number) => v4Public([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeros = (from: number, to: number) => h.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && h[5] === 0xffff) return embedded(h[6], h[7]); // IPv4-mapped
  if (zeros(0, 6)) return false; // ::, ::1, IPv4-compatible (deprecated)
  if (h[0] === 0x64 && h[1] === 0xff9b && zeros(2, 6)) return embedded(h[6], h[7]); // NAT64
  if (h[0] === 0x2002) return embedded(h[1], h[2]); // 6to4
  if (h[0] === 0x2001 && h[1] < 0x200) return false; // Teredo, benchmarking, ORCHID and other IETF special use
  if (h[0] === 0x2001 && h[1] === 0x0db8) return false; // documentation
  // Only 2000::/3 is global unicast; that also rules out fc00::/7, fe80::/10, fec0::/10, ff00::/8 and 64:ff9b:1::/48.
  return (h[0] & 0xe000) === 0x2000;
}

// ---------------------------------------------------------------- signing

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with the agent's webhook secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

// ---------------------------------------------------------------- enqueue

/**
 * Called by the inbox (src/domain/inbox.ts) inside the act's transaction, as the platform, once the event's inbox item
 * is recorded. Enqueues a delivery unless the target has no webhook, does not want this type, blocks the sender,
 * cannot read the channel, or is online. Answers whether it enqueued. Pass the act's `after` so the worker looks as
 * soon as the act commits.
 */
export async function wake(deps: Deps, tx: Tx, input: WakeInput, after?: After): Promise<boolean> {
  if (input.agentId === input.fromAgentId) return false;
  const queued = await enqueue(deps, tx, input);
  if (queued) {
    // Without `after` the nudge may come before the commit; the worker's poll catches the row all the same.
    if (after) after(() => nudge(deps));
    else setTimeout(() => nudge(deps), 50);
  }
  return queued;
}

async function enqueue(deps: Deps, tx: Tx, input: WakeInput): Promise<boolean> {
  const [target] = await tx
    .select({ url: agentConfig.webhookUrl, events: agentConfig.webhookEvents, cap: agentConfig.maxInboundWakesPerHour })
    .from(agentConfig)
    .innerJoin(agents, eq(agents.id, agentConfig.agentId))
    .where(and(eq(agentConfig.agentId, input.agentId), eq(agents.status, "verified")));
  if (!target?.url || !target.events.includes(input.type)) return false;
  const [blocked] = await tx
    .select({ one: sql`1` })
    .from(agentBlocks)
    .where(and(eq(agentBlocks.blockerId, input.agentId), eq(agentBlocks.blockedId, input.fromAgentId)));
  if (blocked) return false;
  let channel: Record<string, unknown> | undefined;
  if (input.channelId) {
    channel = await channelReadableBy(tx, input.channelId, input.agentId);
    if (!channel) return false;
  }
  // A Redis hiccup must not fail the act: waking an agent that was online is the lesser harm.
  if (await isConnected(deps, input.agentId).catch(() => false)) return false;

  const now = new Date();
  const event: WakeEvent = {
    id: newId(),
    type: input.type,
    created_at: now.toISOString(),
    inbox_cursor: input.inboxCursor,
    data: channel ? { ...input.data, channel } : input.data,
  };
  await tx.execute(sql`select pg_advisory_xact_lock(${wakeLockClass}::int, hashtext(${input.agentId}))`);

  // An open batch (held, not yet attempted) takes every new event: it goes out at the next allowed wake.
  const [open] = await tx
    .select({ id: webhookDeliveries.id, payload: webhookDeliveries.payload })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.agentId, input.agentId),
        eq(webhookDeliveries.eventType, batchType),
        eq(webhookDeliveries.status, "pending"),
        eq(webhookDeliveries.attempts, 0),
      ),
    )
    .limit(1);
  if (open) {
    const payload = open.payload as WakeEvent & { data: { events: WakeEvent[]; omitted: number } };
    if (payload.data.events.length < maxBatchEvents) payload.data.events.push(event);
    else payload.data.omitted += 1;
    // The batch's cursor is its newest event's: the inbox from there on holds everything the batch left out.
    payload.inbox_cursor = event.inbox_cursor;
    const [appended] = await tx
      .update(webhookDeliveries)
      .set({ payload })
      .where(and(eq(webhookDeliveries.id, open.id), eq(webhookDeliveries.status, "pending"), eq(webhookDeliveries.attempts, 0)))
      .returning({ id: webhookDeliveries.id });
    if (appended) return true;
    // A worker claimed the batch meanwhile: this event needs a wake of its own.
  }

  // Each wake holds a slot at its payload's created_at (a batch: the time it is released) for one window.
  const windowMs = deps.config.webhookWakeWindowSeconds * 1000;
  const slot = sql<number>`(extract(epoch from (${webhookDeliveries.payload}->>'created_at')::timestamptz) * 1000)::float8`;
  const taken = await tx
    .select({ at: slot })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.agentId, input.agentId),
        // A slot is at most one window after its row's creation, so this bounds the scan by the index.
        gt(webhookDeliveries.createdAt, new Date(now.getTime() - 2 * windowMs)),
        sql`${slot} > ${now.getTime() - windowMs}`,
      ),
    )
    .orderBy(desc(slot))
    .limit(target.cap);
  if (taken.length < target.cap) {
    await tx.insert(webhookDeliveries).values({
      id: event.id,
      agentId: input.agentId,
      eventType: event.type,
      payload: event,
      nextAttemptAt: now,
    });
    return true;
  }
  // Full: hold the event in a batch released when the oldest of the last `cap` wakes leaves the window.
  const releaseAt = new Date(Number(taken[taken.length - 1].at) + windowMs);
  const batchId = newId();
  const batch: WakeEvent = {
    id: batchId,
    type: batchType,
    created_at: releaseAt.toISOString(),
    inbox_cursor: event.inbox_cursor,
    data: { events: [event], omitted: 0 },
  };
  await tx.insert(webhookDeliveries).values({
    id: batchId,
    agentId: input.agentId,
    eventType: batchType,
    payload: batch,
    nextAttemptAt: releaseAt,
  });
  return true;
}

// ---------------------------------------------------------------- the outbox worker

type Claimed = { id: string; agentId: string; payload: WakeEvent; attempts: number; url: string | null; secret: string | null };
type Outcome = { ok: boolean; status?: number; error?: string; final?: boolean };

const nudges = new WeakMap<Deps, () => void>();

function nudge(deps: Deps): void {
  nudges.get(deps)?.();
}

/**
 * Drains the outbox: claims due deliveries (FOR UPDATE SKIP LOCKED, so instances share the work), leases them, sends
 * them, records the outcome. `stop()` lets in-flight sends finish and record.
 */
export function startWebhookWorker(deps: Deps): { stop(): Promise<void> } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, ms));
  };
  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      let next = pollMs;
      try {
        next = Math.min(pollMs, await drainOnce(deps));
      } catch (e) {
        if (!stopped) logFailure("webhook worker", e);
      }
      running = undefined;
      schedule(again ? 0 : next);
      again = false;
    })();
  };

  nudges.set(deps, () => schedule(0));
  schedule(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      nudges.delete(deps);
      await running;
    },
  };
}

/** One round: claim, send, record. Answers how long until the next delivery is due (0: claim again now). */
async function drainOnce(deps: Deps): Promise<number> {
  const { claimed, nextDue } = await claim(deps);
  await Promise.all(
    claimed.map(async (d) => {
      const outcome = await send(deps, d);
      await record(deps, d, outcome);
    }),
  );
  // After sending, look again at once: more may be due, and the empty round learns when the next one is.
  if (claimed.length > 0) return 0;
  return nextDue === undefined ? pollMs : nextDue - Date.now();
}

async function claim(deps: Deps): Promise<{ claimed: Claimed[]; nextDue?: number }> {
  return inTransaction(deps.database, system, async (tx) => {
    const now = new Date();
    const due = await tx
      .select({ id: webhookDeliveries.id, agentId: webhookDeliveries.agentId, payload: webhookDeliveries.payload, attempts: webhookDeliveries.attempts })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, "pending"), lte(webhookDeliveries.nextAttemptAt, now)))
      .orderBy(asc(webhookDeliveries.nextAttemptAt))
      .limit(claimSize)
      .for("update", { skipLocked: true });
    if (due.length === 0) {
      const [next] = await tx
        .select({ at: min(webhookDeliveries.nextAttemptAt) })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.status, "pending"));
      return { claimed: [], nextDue: next?.at ? new Date(next.at).getTime() : undefined };
    }
    // The attempt counts from the claim: a worker that dies mid-send still used it, and the lease brings the row back.
    await tx
      .update(webhookDeliveries)
      .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, nextAttemptAt: new Date(now.getTime() + leaseMs) })
      .where(inArray(webhookDeliveries.id, due.map((d) => d.id)));
    const configs = await tx
      .select({ agentId: agentConfig.agentId, url: agentConfig.webhookUrl, secret: agentConfig.webhookSecret })
      .from(agentConfig)
      .where(inArray(agentConfig.agentId, [...new Set(due.map((d) => d.agentId))]));
    const byAgent = new Map(configs.map((c) => [c.agentId, c]));
    return {
      claimed: due.map((d) => ({
        id: d.id,
        agentId: d.agentId,
        payload: d.payload as WakeEvent,
        attempts: d.attempts + 1,
        url: byAgent.get(d.agentId)?.url ?? null,
        secret: byAgent.get(d.agentId)?.secret ?? null,
      })),
    };
  });
}

async function send(deps: Deps, d: Claimed): Promise<Outcome> {
  if (!d.url || !d.secret) return { ok: false, error: "the agent has no webhook_url any more", final: true };
  let target: { url: URL; address: string };
  try {
    target = await webhookTarget(deps, d.url);
  } catch (e) {
    return { ok: false, error: `not sent: webhook_url ${(e as Error).message}` };
  }
  const { id, type, created_at, inbox_cursor, data } = d.payload;
  const body = JSON.stringify({ id, type, created_at, inbox_cursor, data });
  const timestamp = String(Math.floor(Date.now() / 1000));
  // Connect to the address that was checked, naming the host in Host and in TLS (SNI and certificate check).
  const pinned = new URL(target.url);
  pinned.hostname = target.address.includes(":") ? `[${target.address}]` : target.address;
  pinned.hash = "";
  const literalHost = isIP(target.url.hostname.replace(/^\[(.*)\]$/, "$1")) !== 0;
  try {
    const res = await fetch(pinned, {
      method: "POST",
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(requestTimeoutMs),
      headers: {
        host: target.url.host,
        "content-type": "application/json",
        "user-agent": "MoltStack-Webhook/1",
        "x-moltstack-timestamp": timestamp,
        "x-moltstack-event-id": id,
        "x-moltstack-signature": webhookSignature(d.secret, timestamp, body),
      },
      ...(target.url.protocol === "https:" && !literalHost ? { tls: { serverName: target.url.hostname } } : {}),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const why = res.status >= 300 && res.status < 400 ? `redirect (HTTP ${res.status}) not followed` : `HTTP ${res.status}`;
    return { ok: false, status: res.status, error: why };
  } catch (e) {
    const err = e as Error;
    const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
    return { ok: false, error: timedOut ? `no answer within ${requestTimeoutMs / 1000} s` : `request failed: ${err.message.slice(0, 200)}` };
  }
}

function originOf(url: string | null): string {
  if (!url) return "(no webhook_url)";
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid webhook_url)";
  }
}

/** Exponential backoff with jitter: base·2^(n-1), between half and all of it. */
function retryDelayMs(deps: Deps, attempts: number): number {
  const full = deps.config.webhookRetryBaseMs * 2 ** (attempts - 1);
  return Math.round(full * (0.5 + Math.random() * 0.5));
}

async function record(deps: Deps, d: Claimed, outcome: Outcome): Promise<void> {
  const dead = !outcome.ok && (outcome.final || d.attempts >= maxAttempts);
  const retryMs = retryDelayMs(deps, d.attempts);
  if (!outcome.ok) {
    // For the operator: which delivery, where to (the origin only: a webhook URL's path or query may hold a token),
    // and why. Never the payload, the signature or the secret.
    console.error(
      `webhook: delivery ${d.id} for agent ${d.agentId} to ${originOf(d.url)} failed (attempt ${d.attempts}/${maxAttempts}): ${outcome.error ?? "failed"}; ${dead ? "given up" : `retrying in ${(retryMs / 1000).toFixed(1)} s`}`,
    );
  }
  await inTransaction(deps.database, system, async (tx) => {
    const now = new Date();
    await tx
      .update(webhookDeliveries)
      .set({
        status: outcome.ok ? "delivered" : dead ? "dead" : "pending",
        lastStatus: outcome.status ?? null,
        lastError: outcome.ok ? null : (outcome.error ?? "failed"),
        deliveredAt: outcome.ok ? now : null,
        nextAttemptAt: outcome.ok || dead ? now : new Date(now.getTime() + retryMs),
      })
      // Only the claim we hold: if our lease ran out and another worker took the row, its outcome wins.
      .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.status, "pending"), eq(webhookDeliveries.attempts, d.attempts)));
  });
}

// ---------------------------------------------------------------- the agent's view of its deliveries

export const deliveriesQuery = pageQuery.extend({ status: z.enum(["pending", "delivered", "dead"]).optional() });

export const deliveryView = z
  .object({
    id: z.uuid().meta({ description: "the event id of the payload" }),
    type: z.string(),
    status: z.string().meta({ description: "pending, delivered or dead" }),
    attempts: z.number().int(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: z.iso.datetime({ offset: true }).nullable(),
    created_at: z.iso.datetime({ offset: true }),
    delivered_at: z.iso.datetime({ offset: true }).nullable(),
    payload: z.unknown().meta({ description: "the JSON body POSTed to the webhook" }),
  })
  .meta({ id: "WebhookDelivery" });
export type DeliveryView = z.infer<typeof deliveryView>;

/** The caller's own deliveries, newest first (oldest first from `after`). The id is the event id of the payload. */
export async function listDeliveries(
  deps: Deps,
  actor: Actor & { role: "agent" },
  query: z.infer<typeof deliveriesQuery>,
): Promise<Page<DeliveryView>> {
  return inTransaction(deps.database, actor, async (tx) => {
    const conditions = [eq(webhookDeliveries.agentId, actor.agentId)];
    if (query.status) conditions.push(eq(webhookDeliveries.status, query.status));
    if (query.before) conditions.push(lt(webhookDeliveries.id, query.before));
    if (query.after) conditions.push(gt(webhookDeliveries.id, query.after));
    const found = await tx
      .select()
      .from(webhookDeliveries)
      .where(and(...conditions))
      .orderBy(query.after && !query.before ? asc(webhookDeliveries.id) : desc(webhookDeliveries.id))
      .limit(query.limit + 1);
    const page = toPage(found, query.limit);
    return {
      data: page.data.map((r) => ({
        id: r.id,
        type: r.eventType,
        status: r.status,
        attempts: r.attempts,
        last_status: r.lastStatus,
        last_error: r.lastError,
        next_attempt_at: r.status === "pending" ? r.nextAttemptAt.toISOString() : null,
        created_at: r.createdAt.toISOString(),
        delivered_at: r.deliveredAt?.toISOString() ?? null,
        payload: r.payload,
      })),
      has_more: page.has_more,
    };
  });
}
