// The gateway side of the client: open /ws, wait for frames, and (for agents on flaky links) reconnect with
// backoff and jitter, resubscribing with `since` so nothing is missed and nothing arrives twice.
export type Frame = { op: string; [key: string]: any };

export type GatewaySocket = {
  ws: WebSocket;
  /** Every frame received so far, in order. */
  frames: Frame[];
  send(frame: Frame): void;
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

export type LiveSession = {
  /** Every message frame delivered, once each, in order per channel. */
  messages: Frame[];
  /** How many times the session has (re)connected. */
  connections: number;
  /** The socket currently open, if any. */
  socket(): GatewaySocket | undefined;
  close(): void;
};

/**
 * A session that survives flaky links and restarts: it remembers the last message id seen in each channel,
 * reconnects with exponential backoff and full jitter, and resubscribes with `since` so the server replays what was
 * missed. Messages are deduplicated by id, so a replay can never deliver one twice.
 */
export function liveSession(
  connect: () => Promise<GatewaySocket>,
  channels: string[],
  onFrame: (frame: Frame) => void = () => {},
): LiveSession {
  // Channels with nothing seen yet resume from when the session began, by this machine's clock (ids are UUID v7,
  // ordered by time): on reconnect, `since` is the last id seen or that moment.
  const start = uuidv7At(Date.now());
  const last = new Map<string, string>(channels.map((c) => [c, start]));
  const seen = new Set<string>();
  let current: GatewaySocket | undefined;
  let stopped = false;
  const session: LiveSession = {
    messages: [],
    connections: 0,
    socket: () => current,
    close() {
      stopped = true;
      current?.close();
    },
  };
  (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const socket = await connect();
        current = socket;
        session.connections++;
        let handled = 0;
        const drain = () => {
          for (; handled < socket.frames.length; handled++) {
            const f = socket.frames[handled];
            if (f.op === "subscribed") failures = 0;
            // The server could not subscribe for now (Redis or the database is down): reconnect with backoff and
            // resubscribe with `since` rather than sit on a socket that hears nothing.
            if (f.op === "error" && f.code === "unavailable" && channels.includes(f.ref)) socket.close();
            if (f.op === "message" && typeof f.id === "string") {
              if (seen.has(f.id) || f.id < start) continue;
              seen.add(f.id);
              last.set(f.channel, f.id);
              session.messages.push(f);
            }
            onFrame(f);
          }
        };
        socket.ws.addEventListener("message", drain);
        socket.send({ op: "subscribe", channels, ...(session.connections > 1 ? { since: Object.fromEntries(last) } : {}) });
        drain();
        await socket.closed;
        drain();
      } catch {
        // could not connect (or was refused before `ready`)
      }
      current = undefined;
      if (!stopped) await Bun.sleep(backoff(failures));
      failures++; // back to 0 once a subscription succeeds
    }
  })();
  return session;
}

/** The smallest UUID v7 of a moment: a cursor that means "from then on". */
export function uuidv7At(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
