// Writes in groups: plain posts that arrive while a batch of posts is committing wait, and all of them go together in
// the next transaction: one statement that takes every channel's lock, one multi-row insert (row-level security checks
// each row as its own author: migrations/0008_post_batches.sql). A post with nobody waiting goes at once,
// alone. Each caller gets its own answer once the batch has committed; if the batch fails, each of its posts is tried
// again alone, so one post's failure is never another's.
import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import { rows, sqlState } from "../db/client.ts";
import { inTransaction, raceStates } from "../db/rls.ts";
import { messages } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { isOutage, logFailure } from "../errors.ts";
import { newIdAfter } from "../lib/ids.ts";
import type { MessageInput, MessageView } from "../wire.ts";
import type { Actor } from "./actor.ts";
import { channelTopic, publish } from "./events.ts";
import { expectMessage } from "./history-window.ts";
import { declaredClient, messageFrame, type Origin, view } from "./message-view.ts";
import { recordOutbound } from "./presence.ts";

/** A post whose checks and limits have passed, waiting for its batch. */
export type QueuedPost = {
  actor: Actor;
  agentId: string;
  channelId: string;
  input: MessageInput;
  origin: Origin;
  author: { username: string; display_name: string | null; avatar_url: string | null } | null;
  /** Posts it in a transaction of its own, checked by the database: what a post its batch failed gets. */
  alone(): Promise<MessageView>;
};

type Waiting = QueuedPost & {
  resolve(answer: Batched): void;
  reject(e: unknown): void;
  /** Runs work in the poster's own async context (what its request counts, MOLTSTACK_COUNT_ROUND_TRIPS). */
  inContext: <R>(fn: () => R) => R;
};

/** A post's answer: its message, and how many posts its batch committed together. */
export type Batched = { message: MessageView; batchSize: number };

/** One running server's queue of posts. */
type PostQueue = { waiting: Waiting[]; inFlight: number; batches: number; posts: number; largest: number; failed: number };

/** Posts in one transaction at most (a bound on the statement and on each caller's wait). */
const maxBatch = 64;
/**
 * Batches in flight at once, per instance: one. A batch takes every post waiting (across channels), and the posts that
 * arrive while it commits make the next one: as PostgreSQL's group commit, but with one transaction, one lock per
 * channel and one insert. More batches at once would only be smaller, and wait on each other's channel locks.
 */
const maxInFlight = 1;

const queues = new WeakMap<Deps, PostQueue>();

function queueOf(deps: Deps): PostQueue {
  const known = queues.get(deps);
  if (known) return known;
  const queue: PostQueue = { waiting: [], inFlight: 0, batches: 0, posts: 0, largest: 0, failed: 0 };
  queues.set(deps, queue);
  return queue;
}

/** Batches taken, posts in them, the largest, and batches that failed (their posts went alone) so far. */
export const batchStats = (deps: Deps) => {
  const { batches, posts, largest, failed } = queueOf(deps);
  return { batches, posts, largest, failed };
};

/** Queues a checked post; answers its view once its batch has committed. */
export function enqueuePost(deps: Deps, post: QueuedPost): Promise<Batched> {
  const queue = queueOf(deps);
  const inContext = AsyncLocalStorage.snapshot();
  const answer = new Promise<Batched>((resolve, reject) => queue.waiting.push({ ...post, resolve, reject, inContext }));
  if (queue.inFlight < maxInFlight) void drain(deps, queue);
  return answer;
}

/**
 * The embedded engine runs a statement without giving the event loop a turn: requests that came in meanwhile are
 * only read once it yields. One turn (no timer, no waiting for company) before a batch is taken lets them join it.
 */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function drain(deps: Deps, queue: PostQueue): Promise<void> {
  queue.inFlight++;
  try {
    for (;;) {
      await turn();
      if (queue.waiting.length === 0) break;
      const batch = queue.waiting.splice(0, maxBatch);
      queue.batches++;
      queue.posts += batch.length;
      queue.largest = Math.max(queue.largest, batch.length);
      if (!(await commitBatch(deps, batch))) queue.failed++;
    }
  } finally {
    queue.inFlight--;
  }
}

/** Commits a batch and answers its posts; false when it failed and its posts went alone. */
async function commitBatch(deps: Deps, batch: Waiting[]): Promise<boolean> {
  let forget: (() => void)[] = [];
  try {
    // The batch runs in its first poster's context: its statements count as that request's.
    const views = await batch[0].inContext(() =>
      inTransaction(deps.database, batch[0].actor, async (tx, after) => {
        for (const f of forget) f();
        forget = [];
        // The batch's agents named for row-level security, and each channel's lock (held to the commit) with its newest
        // id: ids ascend in commit order per channel. One statement for the whole batch.
        // Each post's channel beside its poster: the database checks one poster per channel before it locks it.
        const agents = uuidArray(batch.map((p) => p.agentId));
        const channels = uuidArray(
          batch.map((p) => p.channelId),
          false,
        );
        const posters = uuidArray(
          batch.map((p) => p.agentId),
          false,
        );
        const locked = await rows<{ channel: string; newest: string | null }>(
          tx,
          sql`select channel, newest from app_open_post_batch(${agents}::uuid[], ${channels}::uuid[], ${posters}::uuid[])`,
        );
        const newest = new Map(locked.map((l) => [l.channel, l.newest ?? undefined]));
        const values = batch.map((p) => {
          const id = newIdAfter(newest.get(p.channelId));
          newest.set(p.channelId, id);
          return {
            id,
            channelId: p.channelId,
            agentId: p.agentId,
            content: p.input.content,
            contentType: p.input.content_type,
            replyTo: null,
            mentions: [],
            metadata: p.input.metadata ?? null,
            via: p.origin.via,
            client: declaredClient(p.origin.userAgent),
            replyDepth: 0,
            createdAt: new Date(),
          };
        });
        const inserted = new Map((await tx.insert(messages).values(values).returning()).map((row) => [row.id, row]));
        const out = new Map<Waiting, MessageView>();
        batch.forEach((p, i) => {
          const author = {
            id: p.agentId,
            username: p.author?.username ?? "unknown",
            displayName: p.author?.display_name ?? null,
            avatarUrl: p.author?.avatar_url ?? null,
          };
          const m = view(inserted.get(values[i].id)!, author, []);
          out.set(p, m);
          forget.push(expectMessage(deps, m));
          after(() => publish(deps, channelTopic(p.channelId), messageFrame(m)));
        });
        for (const agentId of new Set(batch.map((p) => p.agentId))) after(() => recordOutbound(deps, agentId));
        return out;
      }),
    );
    for (const p of batch) p.resolve({ message: views.get(p)!, batchSize: batch.length });
    return true;
  } catch (e) {
    // Whatever failed the batch (a ban or a delete committed since the checks, a constraint), each post is answered
    // on its own: posted alone, or refused with its own reason. A failure that is no such race is worth a log line.
    if (!raceStates.has(sqlState(e) ?? "") && !isOutage(e)) logFailure("post batch", e);
    for (const p of batch) await p.alone().then((message) => p.resolve({ message, batchSize: 1 }), p.reject);
    return false;
  } finally {
    for (const f of forget) f();
  }
}

/** A list of ids as one PostgreSQL array literal (a parameter: both drivers take it as text), each once unless not `distinct`. */
const uuidArray = (ids: string[], distinct = true) => `{${(distinct ? [...new Set(ids)] : ids).join(",")}}`;
