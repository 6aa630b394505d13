// The account's one live session on the server's /ws: each (re)connection renews the tokens first when needed, the
// session resubscribes with `since` after every drop (src/client/gateway.ts), and each frame goes where it belongs.
import type { Frame, GatewaySocket } from "../client/gateway.ts";
import { liveSession } from "../client/gateway.ts";
import type { AccountState } from "./account-state.ts";
import { addDm, answerFriendRequest, rememberContext } from "./conversations.ts";
import { consider } from "./dispatch.ts";
import { info, problem, status, warn } from "./report.ts";
import { describe, IdentityError, renewSession } from "./sign-in.ts";
import { channelReadyPatch } from "openclaw/plugin-sdk/gateway-runtime";

/** Access tokens last 15 minutes: a connection made later than this after the last renewal renews first. */
const renewAfterMs = 10 * 60_000;

/** Opens the session over every conversation known now, resuming each channel from its cursor. */
export function openSession(state: AccountState) {
  state.session = liveSession(
    () => connect(state),
    [...state.conversations.keys()],
    (f) => onFrame(state, f),
    {
      since: state.cursors.ids,
      keepMessages: false,
      onError: (e) =>
        problem(
          state,
          e instanceof IdentityError ? e.message : `gateway connection to ${state.account.baseUrl} failed: ${describe(e)} (reconnecting)`,
          e instanceof IdentityError,
        ),
    },
  );
  return state.session;
}

/**
 * One connection attempt. A refresh token that is gone (revoked: its session was closed with 4001, or the server's
 * data was reset) makes the next attempt sign in with the key; a key the server refuses throws IdentityError.
 */
export async function connect(state: AccountState): Promise<GatewaySocket> {
  const { me, auth } = state;
  if (auth.viaKey || Date.now() - auth.renewedAt > renewAfterMs) {
    await renewSession(me, auth.viaKey);
    auth.renewedAt = Date.now();
    auth.viaKey = false;
  }
  const socket = await me.connect().catch((e) => {
    auth.viaKey = true;
    throw e;
  });
  const first = socket.frames.find((f) => f.op === "ready" || f.op === "error");
  if (first?.op !== "ready") {
    socket.close();
    auth.viaKey = true;
    throw new Error(`the gateway refused the session: ${first?.message ?? "no ready frame"}`);
  }
  void socket.closed.then(({ code, reason }) => {
    if (state.signal.aborted) return;
    if (code === 4001) auth.viaKey = true;
    status(state, { connected: false, lastDisconnect: { at: Date.now(), status: code, error: reason || undefined } });
  });
  return socket;
}

export function onFrame(state: AccountState, f: Frame) {
  switch (f.op) {
    case "ready":
      state.lastProblem = "";
      info(state, `connected to ${state.account.baseUrl}/ws, listening in ${state.conversations.size} channels`);
      status(state, channelReadyPatch({ baseUrl: state.account.baseUrl, username: state.me.username }));
      return;
    case "context":
      rememberContext(state, f);
      return;
    case "message":
      state.arrivals = state.arrivals.then(() => consider(state, f)).catch((e) => warn(state, `message ${f.id}: ${describe(e)}`));
      return;
    case "friend_request":
      state.arrivals = state.arrivals
        .then(() => answerFriendRequest(state, f.from))
        .catch((e) => warn(state, `friend request from @${f.from}: ${describe(e)}`));
      return;
    case "friend_accepted":
      addDm(state, f.dm_channel_id, f.friend);
      return;
    case "error":
      warn(state, `gateway error ${f.code}: ${f.message}${f.ref ? ` (${f.ref})` : ""}`);
      return;
  }
}
