// The WebSocket protocol (/ws): a named state (./socket.ts) and its jobs as top-level functions: a socket's life
// (./connect.ts), its frames (./frames.ts), its channels and presence topics (./subscriptions.ts). Here: the handlers
// Bun calls, and the sweeps over every socket (shutdown, slow consumers, revoked credentials). The gateway holds no
// business rules and never writes to the database itself.
import type { Server, WebSocketHandler } from "bun";
import type { Deps } from "../deps.ts";
import { revokedTokens } from "../domain/auth.ts";
import type { Presence } from "../domain/presence.ts";
import { logFailure } from "../errors.ts";
import type { Fanout } from "../fanout.ts";
import { closeCodes, maxFrameBytes } from "../wire.ts";
import { closed, opened, upgrade } from "./connect.ts";
import { handleFrame } from "./frames.ts";
import type { GatewayState, SocketData } from "./socket.ts";
import { followEvents } from "./subscriptions.ts";

/** Bytes queued for one socket before it counts as a slow consumer and is closed. */
const slowConsumerBytes = 1024 * 1024;

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
  const state: GatewayState = { deps, fanout, presence, sockets: new Set(), byAgent: new Map() };
  followEvents(state);
  fanout.onControl((control) => {
    if (control.type === "revoked") closeTokens(state, control.agent_id, new Set(control.token_ids));
  });
  return {
    attach: (server) => {
      state.server = server;
    },
    handlers: handlers(state),
    upgrade: (req, server) => upgrade(state, req, server),
    closeAll: () => closeAll(state),
    closeSlowConsumers: () => closeSlowConsumers(state),
    closeRevoked: () => closeRevoked(state),
  };
}

function handlers(state: GatewayState): WebSocketHandler<SocketData> {
  return {
    maxPayloadLength: maxFrameBytes,
    backpressureLimit: 8 * slowConsumerBytes,
    closeOnBackpressureLimit: true,
    idleTimeout: 120,
    sendPings: true,
    async open(ws) {
      try {
        await opened(state, ws);
      } catch (e) {
        // Redis or the database went away while the socket opened: the client reconnects later (1013, with backoff).
        logFailure("gateway", e);
        if (!ws.data.closed) ws.close(closeCodes.tryAgainLater, "a backing service is unavailable; reconnect shortly");
      }
    },
    message(ws, raw) {
      ws.data.queue = ws.data.queue.then(() => handleFrame(state, ws, raw)).catch((e) => logFailure("gateway", e));
    },
    close: (ws) => closed(state, ws),
  };
}

/** Credentials revoked on any instance: their sockets here close at once. */
function closeTokens(state: GatewayState, agentId: string, tokenIds: Set<string>): void {
  for (const ws of state.byAgent.get(agentId) ?? []) if (tokenIds.has(ws.data.tokenId!)) ws.close(closeCodes.unauthorized, "token revoked");
}

async function closeAll(state: GatewayState): Promise<void> {
  const all = [...state.sockets];
  state.sockets.clear(); // the close handler has nothing left to do for these
  for (const ws of all) {
    ws.data.closed = true;
    ws.data.timer?.();
    ws.close(closeCodes.goingAway, "server shutting down");
  }
  state.byAgent.clear();
}

function closeSlowConsumers(state: GatewayState): void {
  for (const ws of state.sockets) {
    if (ws.getBufferedAmount() > slowConsumerBytes) ws.close(closeCodes.slowConsumer, "slow consumer: send buffer full");
  }
}

async function closeRevoked(state: GatewayState): Promise<void> {
  const live = [...state.sockets];
  const bad = await revokedTokens(
    state.deps,
    live.map((ws) => ws.data.tokenId!),
  );
  for (const ws of live) if (bad.has(ws.data.tokenId!)) ws.close(closeCodes.unauthorized, "token revoked");
}
