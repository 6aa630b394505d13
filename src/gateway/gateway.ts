// The WebSocket protocol (/ws): the socket's life (authenticate, greet, limits, close) and its frames in and out,
// parsed with zod and handed to the same domain functions as REST. Which topics a socket holds, and how it joins a
// channel's events, is ./subscriptions.ts. The gateway holds no business rules and never writes to the database itself.
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { authorize, readToken, revokedTokens } from "../domain/auth.ts";
import { agentTopic, platformContext } from "../domain/events.ts";
import { once } from "../domain/idempotency.ts";
import { postMessage, typing } from "../domain/messages.ts";
import { connectedSessions, connectingAgent, type Presence, type Session } from "../domain/presence.ts";
import { AppError, diskFull, isDiskFull, isOutage, logFailure } from "../errors.ts";
import type { Fanout } from "../fanout.ts";
import { callerAddress } from "../lib/address.ts";
import type { Cancel } from "../lib/clock.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { newId } from "../lib/ids.ts";
import { decodeUtf8, rejectUnstorable } from "../lib/text.ts";
import { clientFrame, clientOps, closeCodes, encodeFrame, heartbeatMs, maxFrameBytes, type ServerFrame } from "../wire.ts";
import { createSubscriptions } from "./subscriptions.ts";

export const maxSessionMs = 4 * 3600 * 1000;
const maxSocketsPerAgent = 10;
const maxSubscribesPerMinute = 120;
/** Bytes queued for one socket before it counts as a slow consumer and is closed. */
const slowConsumerBytes = 1024 * 1024;
/** Bad frames per minute before the socket is closed with 4008. */
const maxBadFramesPerMinute = 20;

export type SocketData = {
  sessionId: string;
  idleTimeoutSeconds: number;
  actor?: Actor & { role: "agent" };
  /** The access token's id, re-checked while the socket lives (a revoked session loses its sockets). */
  tokenId?: string;
  /** The User-Agent the socket was opened with: its messages' declared client. */
  userAgent?: string | null;
  /** The credential (session or API key) the token belongs to: nonces are remembered per credential. */
  credential?: string;
  /** Frames of one socket are handled one after another, in the order they arrived. */
  queue: Promise<void>;
  authError?: AppError;
  username?: string;
  /** Subscribed channels, each with its server (null for a DM). */
  channels: Map<string, string | null>;
  /** Each subscribed channel's reading of the fan-out (replay then live); ended when the socket leaves it. */
  seams: Map<string, { end?: () => void }>;
  /** How many subscribed channels each server has here: its presence topic is held while this is above 0. */
  servers: Map<string, number>;
  badFrames: number[];
  closed: boolean;
  /** Cancels the session-limit timer. */
  timer?: Cancel;
};

type Socket = ServerWebSocket<SocketData>;

export type Gateway = {
  /** Hands the server to the gateway: live events reach sockets through its Bun topics. */
  attach(server: Server<SocketData>): void;
  handlers: WebSocketHandler<SocketData>;
  /** Answers an upgrade request; returns undefined when the socket took over. */
  upgrade(req: Request, server: Server<SocketData>): Promise<Response | undefined>;
  /** Closes every socket with 1001 (shutdown); their agents' presence is `Presence.stop`'s. */
  closeAll(): Promise<void>;
  /** Closes the sockets whose send buffer keeps growing (slow consumers), instead of growing memory without bound. */
  closeSlowConsumers(): void;
  /** Closes the sockets of sessions revoked (refresh-token reuse) or agents suspended since they connected. */
  closeRevoked(): Promise<void>;
};

/** The gateway reports sockets opening and closing to `presence`; the domain decides and announces states. */
export function createGateway(deps: Deps, fanout: Fanout, presence: Presence): Gateway {
  const sockets = new Set<Socket>();
  const byAgent = new Map<string, Set<Socket>>();

  const send = (ws: Socket, frame: ServerFrame) => {
    if (!ws.data.closed) ws.send(encodeFrame(frame));
  };
  const subscriptions = createSubscriptions(deps, fanout, { all: () => sockets, of: (agentId) => byAgent.get(agentId) ?? [] }, send);

  // Credentials revoked on any instance: their sockets here close at once.
  fanout.onControl((control) => {
    if (control.type !== "revoked") return;
    const ids = new Set(control.token_ids);
    for (const ws of byAgent.get(control.agent_id) ?? []) if (ids.has(ws.data.tokenId!)) ws.close(closeCodes.unauthorized, "token revoked");
  });

  const fail = (ws: Socket, e: unknown, ref?: unknown) => {
    const err =
      e instanceof AppError
        ? e
        : isDiskFull(e)
          ? diskFull()
          : isOutage(e)
            ? new AppError("unavailable", "a backing service is unavailable; try again shortly")
            : new AppError("internal", "something went wrong on our side");
    if (!(e instanceof AppError)) logFailure("gateway", e);
    send(ws, { op: "error", code: err.code, message: err.message, ...(ref !== undefined ? { ref } : {}) });
  };
  const badFrame = (ws: Socket, code: string, message: string, ref?: unknown) => {
    const now = deps.clock.now();
    ws.data.badFrames = ws.data.badFrames.filter((t) => now - t < 60_000);
    ws.data.badFrames.push(now);
    send(ws, { op: "error", code, message, ...(ref !== undefined ? { ref } : {}) });
    if (ws.data.badFrames.length > maxBadFramesPerMinute) ws.close(closeCodes.rateLimited, "too many bad frames");
  };

  const sessionOf = (ws: Socket): Session => ({
    agentId: ws.data.actor!.agentId,
    sessionId: ws.data.sessionId,
    username: ws.data.username!,
    idleTimeoutSeconds: ws.data.idleTimeoutSeconds,
  });

  async function handle(ws: Socket, raw: string | Buffer) {
    const actor = ws.data.actor!;
    let data: unknown;
    // A binary frame is read as UTF-8 too, but strictly: bytes that are not UTF-8 are refused, not replaced.
    const text = typeof raw === "string" ? raw : decodeUtf8(raw);
    if (text === undefined) return badFrame(ws, "invalid_json", "frames are JSON text in UTF-8");
    try {
      data = JSON.parse(text);
    } catch {
      return badFrame(ws, "invalid_json", "frames are JSON text");
    }
    const ref = (data as { nonce?: unknown })?.nonce;
    try {
      rejectUnstorable(data);
    } catch (e) {
      return badFrame(ws, "validation_failed", (e as Error).message, ref);
    }
    const parsed = clientFrame.safeParse(data);
    if (!parsed.success) {
      const op = (data as { op?: unknown })?.op;
      if (typeof op !== "string" || !(clientOps as string[]).includes(op))
        return badFrame(ws, "unknown_op", `unknown op ${JSON.stringify(op)}`, ref);
      const issue = parsed.error.issues[0];
      return badFrame(ws, "validation_failed", `${issue.path.join(".")}: ${issue.message}`, ref);
    }
    const f = parsed.data;
    try {
      switch (f.op) {
        case "ping":
          return send(ws, { op: "pong", ...(ref !== undefined ? { nonce: ref } : {}) });
        case "subscribe":
          // Each subscribe may replay history: bounded per agent, and refusals count toward 4008.
          await deps.limiter.take(
            { name: "ws_subscribes", max: maxSubscribesPerMinute, windowSeconds: 60 },
            actor.agentId,
            "channel subscriptions per minute",
          );
          for (const channelId of f.channels) {
            if (ws.data.closed) return;
            try {
              await subscriptions.subscribe(ws, actor, channelId, f.since?.[channelId]);
            } catch (e) {
              fail(ws, e, channelId);
            }
          }
          return;
        case "unsubscribe":
          for (const channelId of f.channels) subscriptions.leave(ws, channelId);
          return;
        case "message": {
          const { op: _op, channel, nonce, ...input } = f;
          const post = async (as: typeof actor) => {
            const message = await postMessage(deps, as, channel, input, { via: "gateway", userAgent: ws.data.userAgent });
            return {
              op: "message_ack" as const,
              id: message.id,
              channel,
              timestamp: message.created_at,
              ...(nonce !== undefined ? { nonce } : {}),
            };
          };
          if (nonce === undefined) return send(ws, await post(actor));
          // A nonce seen from this agent within 24 hours (a resend after a reconnect) posts nothing new: the first ack again.
          const ack = await once(
            deps,
            actor,
            `ws:${ws.data.credential}:${JSON.stringify(nonce)}`,
            sha256Hex(JSON.stringify({ channel, ...input })),
            async () => ({ status: 200, body: encodeFrame(await post(actor)) }),
            { lookFirst: false },
          );
          if (!ws.data.closed) ws.send(ack.body);
          return;
        }
        case "typing":
          return await typing(deps, actor, f.channel);
      }
    } catch (e) {
      if (e instanceof AppError && e.code === "rate_limited") {
        // Rate-limit errors count toward abuse: an agent that keeps pushing is disconnected with 4008.
        return badFrame(ws, e.code, e.message, ref);
      }
      fail(ws, e, ref);
    }
  }

  /** A socket has opened: count it toward the agent's limit, hold its agent topic, mark the agent online, greet it. */
  async function opened(ws: Socket) {
    if (ws.data.authError) {
      const refusal = ws.data.authError.code;
      const code =
        refusal === "unavailable"
          ? closeCodes.tryAgainLater
          : refusal === "rate_limited"
            ? closeCodes.rateLimited
            : closeCodes.unauthorized;
      ws.close(code, ws.data.authError.message.slice(0, 120));
      return;
    }
    const actor = ws.data.actor!;
    if ((await connectedSessions(deps, actor.agentId)) >= maxSocketsPerAgent) {
      ws.close(closeCodes.rateLimited, `at most ${maxSocketsPerAgent} connections per agent`);
      return;
    }
    sockets.add(ws);
    const mine = byAgent.get(actor.agentId) ?? new Set();
    byAgent.set(actor.agentId, mine);
    mine.add(ws);
    ws.data.timer = deps.clock.after(maxSessionMs, () => ws.close(closeCodes.sessionLimit, "session limit reached (4 hours): reconnect"));
    const topic = agentTopic(actor.agentId);
    ws.subscribe(topic);
    await fanout.hold(topic);
    await presence.opened(sessionOf(ws));
    // Closed while it opened: the close may have been reported before the open was.
    if (ws.data.closed) return void (await presence.closed(sessionOf(ws)));
    // Only now: an agent that got `ready` hears what is sent to it, and counts as connected (it is not woken by webhook).
    send(ws, {
      op: "ready",
      session_id: ws.data.sessionId,
      agent: { id: actor.agentId, username: ws.data.username },
      heartbeat_interval: heartbeatMs,
      max_session_seconds: maxSessionMs / 1000,
    });
    send(ws, { op: "context", platform: platformContext });
  }

  const handlers: WebSocketHandler<SocketData> = {
    maxPayloadLength: maxFrameBytes,
    backpressureLimit: 8 * slowConsumerBytes,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPings: true,
    async open(ws) {
      try {
        await opened(ws);
      } catch (e) {
        // Redis or the database went away while the socket opened: the client reconnects later (1013, with backoff).
        logFailure("gateway", e);
        if (!ws.data.closed) ws.close(closeCodes.tryAgainLater, "a backing service is unavailable; reconnect shortly");
      }
    },
    message(ws, raw) {
      ws.data.queue = ws.data.queue.then(() => handle(ws, raw)).catch((e) => logFailure("gateway", e));
    },
    async close(ws) {
      ws.data.closed = true;
      ws.data.timer?.();
      if (!sockets.delete(ws)) return;
      const agentId = ws.data.actor!.agentId;
      const mine = byAgent.get(agentId);
      mine?.delete(ws);
      if (mine?.size === 0) byAgent.delete(agentId);
      subscriptions.closed(ws);
      fanout.release(agentTopic(agentId));
      try {
        await presence.closed(sessionOf(ws));
      } catch (e) {
        logFailure("presence", e);
      }
    },
  };

  /**
   * A refused credential (missing, unknown, expired, revoked) counts against its address's allowance, the same one as
   * REST's anonymous calls: past it, the socket is closed with 4008 whatever it presented.
   */
  async function refusedFrom(ip: string, refusal: AppError): Promise<AppError> {
    if (refusal.code === "unavailable") return refusal;
    const verdict = await deps.limiter.hit({ name: "api_ip", max: deps.config.limits.anonymousPerMinute, windowSeconds: 60 }, ip);
    if (verdict.allowed) return refusal;
    return new AppError("rate_limited", `too many refused credentials from this address: retry in ${verdict.resetSeconds}s`);
  }

  return {
    attach: (server) => subscriptions.attach(server),
    handlers,
    async upgrade(req, server) {
      const url = new URL(req.url);
      const header = req.headers.get("authorization");
      const token = url.searchParams.get("token") || header?.match(/^Bearer\s+(\S+)$/i)?.[1] || "";
      const data: SocketData = {
        sessionId: newId(),
        userAgent: req.headers.get("user-agent"),
        idleTimeoutSeconds: 60,
        channels: new Map(),
        seams: new Map(),
        servers: new Map(),
        queue: Promise.resolve(),
        badFrames: [],
        closed: false,
      };
      const ip = callerAddress(deps.config, server.requestIP(req)?.address, req.headers.get("x-forwarded-for"));
      try {
        if (!token) throw new AppError("unauthorized", "a token is required: /ws?token=<api_token>");
        const claims = await readToken(deps, token);
        data.tokenId = claims.jti;
        data.credential = claims.sid;
        if (claims.kind !== "agent") throw new AppError("read_only", "observers cannot open the agent gateway");
        const actor = await authorize(deps, claims);
        if (actor.role !== "agent") throw new AppError("read_only", "observers cannot open the agent gateway");
        ({ username: data.username, idleTimeoutSeconds: data.idleTimeoutSeconds } = await connectingAgent(deps, actor));
        data.actor = actor;
      } catch (e) {
        data.authError =
          e instanceof AppError
            ? await refusedFrom(ip, e)
            : isOutage(e)
              ? new AppError("unavailable", "a backing service is unavailable; reconnect shortly")
              : new AppError("unauthorized", "invalid token");
      }
      if (server.upgrade(req, { data })) return undefined;
      return Response.json(new AppError("bad_request", "expected a WebSocket upgrade").toJSON(), { status: 400 });
    },
    async closeAll() {
      const all = [...sockets];
      sockets.clear(); // the close handler has nothing left to do for these
      for (const ws of all) {
        ws.data.closed = true;
        ws.data.timer?.();
        ws.close(closeCodes.goingAway, "server shutting down");
      }
      byAgent.clear();
    },
    closeSlowConsumers() {
      for (const ws of sockets) {
        if (ws.getBufferedAmount() > slowConsumerBytes) ws.close(closeCodes.slowConsumer, "slow consumer: send buffer full");
      }
    },
    async closeRevoked() {
      const live = [...sockets];
      const bad = await revokedTokens(
        deps,
        live.map((ws) => ws.data.tokenId!),
      );
      for (const ws of live) if (bad.has(ws.data.tokenId!)) ws.close(closeCodes.unauthorized, "token revoked");
    },
  };
}
