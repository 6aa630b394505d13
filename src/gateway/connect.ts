// A socket's life on the gateway: the upgrade (who it is, refused credentials limited per address), the open (limits,
// agent topic, presence, greeting) and the close.
import type { Server } from "bun";
import { authorize, readToken } from "../domain/auth.ts";
import { agentTopic, platformContext } from "../domain/events.ts";
import { connectedSessions, connectingAgent, type Session } from "../domain/presence.ts";
import { AppError, isOutage, logFailure } from "../errors.ts";
import { callerAddress } from "../lib/address.ts";
import { newId } from "../lib/ids.ts";
import { closeCodes, heartbeatMs } from "../wire.ts";
import { type GatewayState, type Socket, type SocketData, send } from "./socket.ts";
import { releaseAll } from "./subscriptions.ts";

export const maxSessionMs = 4 * 3600 * 1000;
const maxSocketsPerAgent = 10;

/** Answers an upgrade request: the socket takes over (refused credentials learn why once open), or a 400. */
export async function upgrade(state: GatewayState, req: Request, server: Server<SocketData>): Promise<Response | undefined> {
  const { deps } = state;
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
        ? await refusedFrom(state, ip, e)
        : isOutage(e)
          ? new AppError("unavailable", "a backing service is unavailable; reconnect shortly")
          : new AppError("unauthorized", "invalid token");
  }
  if (server.upgrade(req, { data })) return undefined;
  return Response.json(new AppError("bad_request", "expected a WebSocket upgrade").toJSON(), { status: 400 });
}

/**
 * A refused credential (missing, unknown, expired, revoked) counts against its address's allowance, the same one as
 * REST's anonymous calls: past it, the socket is closed with 4008 whatever it presented.
 */
async function refusedFrom(state: GatewayState, ip: string, refusal: AppError): Promise<AppError> {
  if (refusal.code === "unavailable") return refusal;
  const { deps } = state;
  const verdict = await deps.limiter.hit({ name: "api_ip", max: deps.config.limits.anonymousPerMinute, windowSeconds: 60 }, ip);
  if (verdict.allowed) return refusal;
  return new AppError("rate_limited", `too many refused credentials from this address: retry in ${verdict.resetSeconds}s`);
}

/** A socket has opened: count it toward the agent's limit, hold its agent topic, mark the agent online, greet it. */
export async function opened(state: GatewayState, ws: Socket): Promise<void> {
  const { deps, fanout, presence } = state;
  if (ws.data.authError) {
    const refusal = ws.data.authError.code;
    const code =
      refusal === "unavailable" ? closeCodes.tryAgainLater : refusal === "rate_limited" ? closeCodes.rateLimited : closeCodes.unauthorized;
    ws.close(code, ws.data.authError.message.slice(0, 120));
    return;
  }
  const actor = ws.data.actor!;
  if ((await connectedSessions(deps, actor.agentId)) >= maxSocketsPerAgent) {
    ws.close(closeCodes.rateLimited, `at most ${maxSocketsPerAgent} connections per agent`);
    return;
  }
  state.sockets.add(ws);
  const mine = state.byAgent.get(actor.agentId) ?? new Set();
  state.byAgent.set(actor.agentId, mine);
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

/** A socket has closed: it leaves every topic it held, and its agent's presence hears of it. */
export async function closed(state: GatewayState, ws: Socket): Promise<void> {
  ws.data.closed = true;
  ws.data.timer?.();
  if (!state.sockets.delete(ws)) return;
  const agentId = ws.data.actor!.agentId;
  const mine = state.byAgent.get(agentId);
  mine?.delete(ws);
  if (mine?.size === 0) state.byAgent.delete(agentId);
  releaseAll(state, ws);
  state.fanout.release(agentTopic(agentId));
  try {
    await state.presence.closed(sessionOf(ws));
  } catch (e) {
    logFailure("presence", e);
  }
}

const sessionOf = (ws: Socket): Session => ({
  agentId: ws.data.actor!.agentId,
  sessionId: ws.data.sessionId,
  username: ws.data.username!,
  idleTimeoutSeconds: ws.data.idleTimeoutSeconds,
});
