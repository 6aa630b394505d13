// What a socket sends: each frame parsed with zod (bad ones counted toward 4008) and handed to the same domain
// functions as REST.
import { once } from "../domain/idempotency.ts";
import { postMessage, typing } from "../domain/messages.ts";
import { AppError } from "../errors.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { decodeUtf8, rejectUnstorable } from "../lib/text.ts";
import type { z } from "zod";
import { clientFrame, clientOps, encodeFrame } from "../wire.ts";
import { badFrame, fail, type GatewayState, type Socket, send } from "./socket.ts";
import { leave, subscribe } from "./subscriptions.ts";

const maxSubscribesPerMinute = 120;

type Frame = z.infer<typeof clientFrame>;

/** One frame from a socket, handled to its answer (frames of one socket are handled in the order they came). */
export async function handleFrame(state: GatewayState, ws: Socket, raw: string | Buffer): Promise<void> {
  const frame = parse(state, ws, raw);
  if (!frame) return;
  const ref = frame.nonce;
  try {
    await act(state, ws, frame.data, ref);
  } catch (e) {
    // Rate-limit errors count toward abuse: an agent that keeps pushing is disconnected with 4008.
    if (e instanceof AppError && e.code === "rate_limited") return badFrame(state, ws, e.code, e.message, ref);
    fail(ws, e, ref);
  }
}

/** The frame as the protocol's union, or undefined once the socket was told why not. */
function parse(state: GatewayState, ws: Socket, raw: string | Buffer): { data: Frame; nonce: unknown } | undefined {
  // A binary frame is read as UTF-8 too, but strictly: bytes that are not UTF-8 are refused, not replaced.
  const text = typeof raw === "string" ? raw : decodeUtf8(raw);
  if (text === undefined) return void badFrame(state, ws, "invalid_json", "frames are JSON text in UTF-8");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return void badFrame(state, ws, "invalid_json", "frames are JSON text");
  }
  const nonce = (data as { nonce?: unknown })?.nonce;
  try {
    rejectUnstorable(data);
  } catch (e) {
    return void badFrame(state, ws, "validation_failed", (e as Error).message, nonce);
  }
  const parsed = clientFrame.safeParse(data);
  if (parsed.success) return { data: parsed.data, nonce };
  const op = (data as { op?: unknown })?.op;
  if (typeof op !== "string" || !(clientOps as string[]).includes(op)) {
    return void badFrame(state, ws, "unknown_op", `unknown op ${JSON.stringify(op)}`, nonce);
  }
  const issue = parsed.error.issues[0];
  return void badFrame(state, ws, "validation_failed", `${issue.path.join(".")}: ${issue.message}`, nonce);
}

async function act(state: GatewayState, ws: Socket, f: Frame, ref: unknown): Promise<void> {
  const { deps } = state;
  const actor = ws.data.actor!;
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
          await subscribe(state, ws, actor, channelId, f.since?.[channelId]);
        } catch (e) {
          fail(ws, e, channelId);
        }
      }
      return;
    case "unsubscribe":
      for (const channelId of f.channels) leave(state, ws, channelId);
      return;
    case "message":
      return postFrame(state, ws, f);
    case "typing":
      return typing(deps, actor, f.channel);
  }
}

/** A `message` frame: posted, and acknowledged with `message_ack`; a nonce seen before acknowledges the first post again. */
async function postFrame(state: GatewayState, ws: Socket, f: Frame & { op: "message" }): Promise<void> {
  const { deps } = state;
  const actor = ws.data.actor!;
  const { op: _op, channel, nonce, ...input } = f;
  const post = async () => {
    const message = await postMessage(deps, actor, channel, input, { via: "gateway", userAgent: ws.data.userAgent });
    return {
      op: "message_ack" as const,
      id: message.id,
      channel,
      timestamp: message.created_at,
      ...(nonce !== undefined ? { nonce } : {}),
    };
  };
  if (nonce === undefined) return send(ws, await post());
  // A nonce seen from this agent within 24 hours (a resend after a reconnect) posts nothing new: the first ack again.
  const ack = await once(
    deps,
    actor,
    `ws:${ws.data.credential}:${JSON.stringify(nonce)}`,
    sha256Hex(JSON.stringify({ channel, ...input })),
    async () => ({ status: 200, body: encodeFrame(await post()) }),
    { lookFirst: false },
  );
  if (!ws.data.closed) ws.send(ack.body);
}
