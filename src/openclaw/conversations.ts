// Where the agent listens: the configured servers' channels (joined at start, and looked at again every minute for
// new ones) and the DMs of every friend; friend requests its DM policy allows are accepted. Also which messages are
// its own (a reply to one counts as a mention) and the `context` op's instructions, as the server last sent them.
import type { Frame } from "../client/gateway.ts";
import { mayDm } from "./account.ts";
import type { AccountState } from "./account-state.ts";
import { beginning, startAt } from "./cursors.ts";
import { info, warn } from "./report.ts";

/**
 * Joins each configured server and lists its channels; answers the channels not listened to before. A server joined
 * for the first time resumes each channel from the join's own point (the `since` the join answers): a mention posted
 * the moment the agent shows in the member list is replayed to it, and nothing posted before it joined. A channel
 * that appears later was made while the agent was a member: all of it is news.
 */
export async function joinServers(state: AccountState): Promise<string[]> {
  const found: string[] = [];
  for (const serverId of state.account.servers) {
    const firstJoin = !state.serverNames.has(serverId);
    const joined = await state.me.post(`/api/v1/servers/${serverId}/join`);
    if (joined.status >= 300) {
      if (!state.refused.has(serverId))
        warn(state, `cannot join server ${serverId}: ${joined.status} ${joined.body?.error?.message ?? ""}`);
      state.refused.add(serverId);
      continue;
    }
    state.serverNames.set(serverId, joined.body.name);
    const since: Record<string, string> = (firstJoin && joined.body.since) || {};
    const list = await state.me.get(`/api/v1/servers/${serverId}/channels`);
    for (const c of list.status === 200 ? list.body.data : []) {
      if (!state.conversations.has(c.id)) found.push(c.id);
      state.conversations.set(c.id, { kind: "group", serverId, name: c.name });
      startAt(state.cursors, c.id, since[c.id] ?? beginning);
    }
  }
  return found;
}

/** The DMs of every friend, including friendships made elsewhere (another client of the same agent accepted). */
export async function findDms(state: AccountState): Promise<string[]> {
  const friends = await state.me.get("/api/v1/friends?limit=100");
  const found: string[] = [];
  for (const f of friends.status === 200 ? friends.body.data : []) {
    if (!f.dm_channel_id) continue;
    if (!state.conversations.has(f.dm_channel_id)) found.push(f.dm_channel_id);
    state.conversations.set(f.dm_channel_id, { kind: "direct", peer: f.agent.username });
  }
  return found;
}

export function addDm(state: AccountState, channel: string | null | undefined, peer: string) {
  if (!channel) return;
  state.conversations.set(channel, { kind: "direct", peer });
  state.session?.add([channel]);
}

/** Accepts a friend request when the DM policy lets the sender open a DM; otherwise leaves it pending. */
export async function answerFriendRequest(state: AccountState, from: string) {
  if (!mayDm(state.account, from)) {
    info(state, `left the friend request from @${from} pending (dmPolicy ${state.account.dmPolicy})`);
    return;
  }
  const res = await state.me.post("/api/v1/friends/accept", { username: from });
  if (res.status === 200 || res.status === 201) addDm(state, res.body.dm_channel_id, from);
  else if (res.status !== 404) warn(state, `could not accept the friend request from @${from}: ${res.status}`);
}

/** The friend requests that arrived while the account was not running. */
export async function pendingFriendRequests(state: AccountState): Promise<string[]> {
  const requests = await state.me.get("/api/v1/friends/requests").catch(() => undefined);
  return (requests?.status === 200 ? requests.body.incoming : []).map((r: { from: { username: string } }) => r.from.username);
}

export function rememberOwn(state: AccountState, id: string) {
  state.own.add(id);
  if (state.own.size > 5000) for (const old of [...state.own].slice(0, 2500)) state.own.delete(old);
}

/** Whether a message is this agent's own (looked up in the channel's recent history when not remembered). */
export async function isOwn(state: AccountState, channel: string, id: string): Promise<boolean> {
  if (state.own.has(id)) return true;
  const page = await state.me.get(`/api/v1/channels/${channel}/messages?limit=100`);
  for (const m of page.status === 200 ? page.body.data : []) if (m.agent?.id === state.me.id) rememberOwn(state, m.id);
  return state.own.has(id);
}

/** A `context` frame: the platform's guidelines, or one channel's server and channel instructions and topic. */
export function rememberContext(state: AccountState, f: Frame) {
  if (typeof f.platform === "string") state.contexts.platform = f.platform;
  else if (typeof f.channel_id === "string")
    state.contexts.channels.set(f.channel_id, { server: f.server ?? null, channel: f.channel ?? null, topic: f.topic ?? null });
}
