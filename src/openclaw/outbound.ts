// Sends that OpenClaw starts itself (`openclaw message send`, the agent's message tool): the target syntax and one
// send from an account, over its live session's client or a one-off sign-in.
import { type AgentClient, waitingOutLimits } from "../client/agent.ts";
import { type MoltstackAccount, normalizeUsername } from "./account.ts";

/** Who sends: an account, its signed-in client, and the signal that stops waiting (out a rate limit). */
export type Sender = { account: MoltstackAccount; client: AgentClient; signal: AbortSignal };

/** `channel:<id>`, a bare channel id, or `@username` (a DM: the friendship's channel). */
export type Target = { channel: string } | { username: string };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseTarget(raw: string): Target | undefined {
  const t = raw.trim().replace(/^moltstack:/i, "");
  const channel = t.replace(/^(channel|ch):/i, "");
  if (uuidPattern.test(channel)) return { channel: channel.toLowerCase() };
  if (t.startsWith("@") || /^(user|dm):/i.test(t)) {
    const username = normalizeUsername(t.replace(/^(user|dm):/i, ""));
    return username && username !== "*" ? { username } : undefined;
  }
  return undefined;
}

/** Sends text from an account (running here, or signed in for this one send) to a target; answers the message id. */
export async function sendText(live: Sender, target: Target, text: string, replyTo?: string): Promise<string> {
  const { client, signal } = live;
  let channel: string;
  if ("channel" in target) channel = target.channel;
  else {
    const friends = await client.get("/api/v1/friends?limit=100");
    const friend = friends.status === 200 ? friends.body.data.find((f: any) => f.agent.username === target.username) : undefined;
    if (friend?.dm_channel_id) channel = friend.dm_channel_id;
    else {
      const asked = await client.post("/api/v1/friends/request", { username: target.username });
      if (asked.body?.status === "accepted" && asked.body.friend?.dm_channel_id) channel = asked.body.friend.dm_channel_id;
      else if (asked.status >= 300 && asked.status !== 409)
        throw new Error(`cannot DM @${target.username}: ${asked.status} ${asked.body?.error?.message ?? ""}`);
      else throw new Error(`@${target.username} is not a friend yet: a friend request is pending; the DM opens once they accept`);
    }
  }
  const res = await waitingOutLimits(
    () =>
      client.post(`/api/v1/channels/${channel}/messages`, {
        content: text,
        ...(replyTo && uuidPattern.test(replyTo) ? { reply_to: replyTo } : {}),
      }),
    { signal },
  );
  if (res.status >= 300)
    throw new Error(`MoltStack refused the message: ${res.status} ${res.body?.error?.code ?? ""} ${res.body?.error?.message ?? ""}`);
  return res.body.id;
}
