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
