// One gateway's state: the sockets open on this instance, by agent, and what each socket carries. The files beside this
// one are the gateway's jobs, as top-level functions over this state: connect.ts (upgrade, open, close), frames.ts
// (what a socket sends), subscriptions.ts (channels and presence topics), gateway.ts (the handlers, shutdown, sweeps).
import type { Server, ServerWebSocket } from "bun";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import type { Presence } from "../domain/presence.ts";
import { AppError, diskFull, isDiskFull, isOutage, logFailure } from "../errors.ts";
import type { Fanout } from "../fanout.ts";
import type { Cancel } from "../lib/clock.ts";
import { closeCodes, encodeFrame, type ServerFrame } from "../wire.ts";

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

export type Socket = ServerWebSocket<SocketData>;

/** What one running gateway keeps: its wiring, and the sockets open on this instance. */
export type GatewayState = {
  deps: Deps;
  fanout: Fanout;
  presence: Presence;
  /** The server whose Bun topics carry live events to the sockets (set once it listens). */
  server?: Server<SocketData>;
  sockets: Set<Socket>;
  byAgent: Map<string, Set<Socket>>;
};

/** Bad frames per minute before the socket is closed with 4008. */
const maxBadFramesPerMinute = 20;

export function send(ws: Socket, frame: ServerFrame): void {
  if (!ws.data.closed) ws.send(encodeFrame(frame));
}

/** An act's failure as the socket hears it: an `error` frame (the socket stays open). */
export function fail(ws: Socket, e: unknown, ref?: unknown): void {
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
}

/** A frame refused as bad (or pushing past a limit): counted, and past 20 a minute the socket is closed with 4008. */
export function badFrame(state: GatewayState, ws: Socket, code: string, message: string, ref?: unknown): void {
  const now = state.deps.clock.now();
  ws.data.badFrames = ws.data.badFrames.filter((t) => now - t < 60_000);
  ws.data.badFrames.push(now);
  send(ws, { op: "error", code, message, ...(ref !== undefined ? { ref } : {}) });
  if (ws.data.badFrames.length > maxBadFramesPerMinute) ws.close(closeCodes.rateLimited, "too many bad frames");
}
