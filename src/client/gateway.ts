// The gateway side of the client: open /ws, wait for frames, and (for agents on flaky links) reconnect with
// backoff and jitter, resubscribing with `since` so nothing is missed and nothing arrives twice.
import type { ClientFrame, ServerFrame } from "../wire.ts";

/** A frame as received: one the server's union allows (fields are read loosely), or text that did not parse. */
export type Frame = (ServerFrame | { op: "unparsable"; data: string }) & { [key: string]: any };

export type GatewaySocket = {
  ws: WebSocket;
  /** Every frame received so far, in order. */
  frames: Frame[];
  send(frame: ClientFrame): void;
  /** The first frame (already received or still to come, after `from`) that matches. */
  next(match: (f: Frame) => boolean, timeoutMs?: number, from?: number): Promise<Frame>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  close(code?: number): void;
};

export function wsUrl(baseUrl: string, token: string): string {
  const url = new URL("/ws", baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", token);
  return url.toString();
}

/** Opens the gateway; resolves once the socket is open (the `ready` frame may still be on its way). */
export function openSocket(url: string): Promise<GatewaySocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    let closedResolve!: (v: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (closedResolve = r));
    ws.onmessage = (ev) => {
      try {
        frames.push(JSON.parse(String(ev.data)));
      } catch {
        frames.push({ op: "unparsable", data: String(ev.data) });
      }
      for (const w of [...waiters]) w();
    };
    ws.onclose = (ev) => {
      closedResolve({ code: ev.code, reason: ev.reason });
      for (const w of [...waiters]) w();
    };
    ws.onerror = () => reject(new Error(`could not open ${url.replace(/token=[^&]+/, "token=…")}`));
    const socket: GatewaySocket = {
      ws,
      frames,
      send: (frame) => ws.send(JSON.stringify(frame)),
      next(match, timeoutMs = 5000, from = 0) {
        return new Promise((res, rej) => {
          let i = from;
          const check = () => {
            for (; i < frames.length; i++) {
              if (match(frames[i])) {
                waiters.delete(check);
                clearTimeout(timer);
                res(frames[i]);
                return;
              }
            }
            if (ws.readyState === WebSocket.CLOSED) {
              waiters.delete(check);
              clearTimeout(timer);
              rej(new Error(`socket closed while waiting; frames: ${JSON.stringify(frames.slice(-5))}`));
            }
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            rej(new Error(`timed out waiting for a frame; last frames: ${JSON.stringify(frames.slice(-5))}`));
          }, timeoutMs);
          waiters.add(check);
          check();
        });
      },
      closed,
      close: (code = 1000) => ws.close(code),
    };
    ws.onopen = () => resolve(socket);
  });
}

/** Delay before reconnect attempt `n` (0-based): exponential, capped at 30 s, with full jitter. */
export function backoff(n: number, baseMs = 500, capMs = 30_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** n);
}

/** Waits `ms`, or less if `signal` aborts first (then it resolves early rather than throwing). Bun and Node alike. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export type LiveSession = {
  /** Every message frame delivered, once each, in order per channel (empty when `keepMessages` is false). */
  messages: Frame[];
  /** How many times the session has (re)connected. */
  connections: number;
  /** The socket currently open, if any. */
  socket(): GatewaySocket | undefined;
  /** The last message id seen in each channel: what a restart passes back as `since`. */
  cursors(): Record<string, string>;
  /** Listens to more channels, now and after every reconnect. */
  add(channels: string[]): void;
  close(): void;
};

export type LiveSessionOptions = {
  /** Resume points from an earlier run (channel id -> last message id seen); the server replays what came after. */
  since?: Record<string, string>;
  /** Keep every message in `messages` (tests); a long-running agent turns this off and uses `onFrame`. */
  keepMessages?: boolean;
  /** Called after each failed connection attempt, before the backoff. */
  onError?: (error: unknown, failures: number) => void;
};

/**
 * A session that survives flaky links and restarts: it remembers the last message id seen in each channel,
 * reconnects with exponential backoff and full jitter, and resubscribes with `since` so the server replays what was
 * missed. Messages are deduplicated by id, so a replay can never deliver one twice. `connect` is called for every
 * attempt, so it can fetch a fresh token first.
 */
export function liveSession(
  connect: () => Promise<GatewaySocket>,
  channels: string[],
  onFrame: (frame: Frame) => void = () => {},
  options: LiveSessionOptions = {},
): LiveSession {
  // Channels with nothing seen yet resume from when the session began, by this machine's clock (ids are UUID v7,
  // ordered by time): on reconnect, `since` is the last id seen or that moment.
  const start = uuidv7At(Date.now());
  const last = new Map<string, string>();
  /** Where each channel's session began: its first `since`. */
  const from = new Map<string, string>();
  const listening = new Set<string>();
  // Ids delivered recently, to drop the one a replay and the live topic may both carry at the seam; bounded.
  const seen = new Set<string>();
  const remember = (id: string) => {
    seen.add(id);
    if (seen.size > 10_000) for (const old of [...seen].slice(0, 5_000)) seen.delete(old);
  };
  // A reconnect resumes a little before the newest id seen: a message committed just before it may have been
  // published just after the link broke. What is replayed twice is dropped by `seen`; a fresh session (restart) has
  // no `seen`, so it resumes exactly where its saved cursors say.
  // Never before where the channel's session began (what came earlier was never this session's to deliver).
  const resumeFrom = (channel: string) => {
    const id = last.get(channel)!;
    if (!seen.size) return id;
    const early = uuidv7At(timeOf(id) - reorderMarginMs);
    const floor = from.get(channel)!;
    return early > floor ? early : floor;
  };
  let current: GatewaySocket | undefined;
  let stopped = false;
  let wake = () => {};
  const subscribe = (socket: GatewaySocket, ids: string[], resume: boolean) => {
    for (let i = 0; i < ids.length; i += 50) {
      const batch = ids.slice(i, i + 50);
      const since = Object.fromEntries(batch.filter((c) => last.has(c)).map((c) => [c, resumeFrom(c)]));
      socket.send({ op: "subscribe", channels: batch, ...(resume && Object.keys(since).length ? { since } : {}) });
    }
  };
  const add = (ids: string[], resume: boolean) => {
    const fresh = ids.filter((c) => !listening.has(c));
    for (const c of fresh) {
      listening.add(c);
      if (!last.has(c)) last.set(c, options.since?.[c] ?? start);
      if (!from.has(c)) from.set(c, last.get(c)!);
    }
    if (current && fresh.length) subscribe(current, fresh, resume);
  };
  const session: LiveSession = {
    messages: [],
    connections: 0,
    socket: () => current,
    cursors: () => Object.fromEntries(last),
    add: (ids) => add(ids, true),
    close() {
      stopped = true;
      current?.close();
      wake();
    },
  };
  add(channels, true);
  (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const socket = await connect();
        if (stopped) {
          socket.close();
          break;
        }
        current = socket;
        session.connections++;
        let handled = 0;
        const drain = () => {
          for (; handled < socket.frames.length; handled++) {
            const f = socket.frames[handled];
            if (f.op === "subscribed") failures = 0;
            // The server could not subscribe for now (Redis or the database is down): reconnect with backoff and
            // resubscribe with `since` rather than sit on a socket that hears nothing.
            if (f.op === "error" && f.code === "unavailable" && listening.has(f.ref as string)) socket.close();
            if (f.op === "message" && typeof f.id === "string") {
              // Dropped only when seen: two posters' messages can be published in the other order than their ids
              // (each is published after its own commit), so an older id arriving after a newer one is still news.
              if (seen.has(f.id)) continue;
              remember(f.id);
              if (f.id > (last.get(f.channel) ?? "")) last.set(f.channel, f.id);
              if (options.keepMessages !== false) session.messages.push(f);
            }
            onFrame(f);
          }
        };
        socket.ws.addEventListener("message", drain);
        // The first connection of a fresh session only resumes channels given an explicit `since`.
        subscribe(socket, [...listening], session.connections > 1 || Boolean(options.since));
        drain();
        await socket.closed;
        drain();
      } catch (e) {
        // could not connect (or was refused before `ready`)
        options.onError?.(e, failures + 1);
      }
      current = undefined;
      if (!stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, backoff(failures));
        });
      }
      failures++; // back to 0 once a subscription succeeds
    }
  })();
  return session;
}

/** How far apart in time two messages of one channel can be published out of their id order (after their commits). */
const reorderMarginMs = 5_000;

/** The moment a UUID v7 was made (its first 48 bits). */
function timeOf(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The smallest UUID v7 of a moment: a cursor that means "from then on". */
export function uuidv7At(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
