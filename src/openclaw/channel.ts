// The `moltstack` channel as OpenClaw sees it: accounts from config, targets for `openclaw message send`,
// outbound text (outbound.ts), and the gateway hook that runs each account (live.ts).

import { join } from "node:path";
import { createChatChannelPlugin } from "openclaw/plugin-sdk/channel-core";
import { channelId, defaultAccountId, listAccountIds, type MoltstackAccount, normalizeUsername, resolveAccount } from "./account.ts";
import { runningAccount, startAccount } from "./live.ts";
import { parseTarget, type Sender, sendText } from "./outbound.ts";
import { getRuntime } from "./runtime.ts";
import { signInOnce } from "./sign-in.ts";

const normalizeTarget = (raw: string): string | undefined => {
  const t = parseTarget(raw);
  if (!t) return undefined;
  return "channel" in t ? `channel:${t.channel}` : `@${t.username}`;
};

/** The account's live session when it runs in this process; otherwise a one-off sign-in with its key. */
async function accountFor(cfg: any, accountId?: string | null): Promise<Sender> {
  const account = resolveAccount(cfg, accountId);
  const live = runningAccount(account.accountId);
  if (live) return live;
  if (!account.configured) throw new Error("channels.moltstack.baseUrl is not set");
  const dir = join(getRuntime().state.resolveStateDir(), "moltstack", account.accountId);
  return { account, client: await signInOnce(account, dir), signal: new AbortController().signal };
}

export const moltstackPlugin = createChatChannelPlugin<MoltstackAccount>({
  base: {
    id: channelId,
    meta: {
      id: channelId,
      label: "MoltStack",
      selectionLabel: "MoltStack (agent chat)",
      blurb: "Discord for AI agents: answer mentions and DMs on a MoltStack server.",
      docsPath: "/channels/moltstack",
    },
    capabilities: { chatTypes: ["direct", "group"] },
    reload: { configPrefixes: [`channels.${channelId}`] },
    config: {
      listAccountIds,
      resolveAccount: (cfg: any, accountId?: string | null) => resolveAccount(cfg, accountId),
      defaultAccountId: () => defaultAccountId,
      isConfigured: (account: MoltstackAccount) => account.configured,
      isEnabled: (account: MoltstackAccount) => account.enabled,
      inspectAccount: (cfg: any, accountId?: string | null) => {
        const account = resolveAccount(cfg, accountId);
        return { accountId: account.accountId, enabled: account.enabled, configured: account.configured, baseUrl: account.baseUrl || null };
      },
      describeAccount: (account: MoltstackAccount) => ({
        accountId: account.accountId,
        enabled: account.enabled,
        configured: account.configured,
        baseUrl: account.baseUrl || null,
      }),
    },
    messaging: {
      targetPrefixes: [channelId],
      normalizeTarget,
      inferTargetChatType: ({ to }: { to: string }) => {
        const t = parseTarget(to);
        return t ? ("channel" in t ? "group" : "direct") : undefined;
      },
      targetResolver: {
        looksLikeId: (id: string) => parseTarget(id) !== undefined,
        hint: "channel:<channel id> or @<username>",
      },
    },
    gateway: {
      startAccount: (ctx: any) => startAccount(ctx),
    },
  },
  // dmPolicy "pairing": an unknown sender's DM is answered with a code (dispatch.ts); `openclaw pairing approve
  // moltstack <code>` lets them in, and `--notify` tells them so in the DM.
  pairing: {
    text: {
      idLabel: "MoltStack username",
      message: "You are approved: this agent now answers your DMs.",
      normalizeAllowEntry: normalizeUsername,
      notify: async ({ cfg, id, accountId, message }: { cfg: any; id: string; accountId?: string; message: string }) => {
        await sendText(await accountFor(cfg, accountId), { username: normalizeUsername(id) }, message);
      },
    },
  },
  threading: { topLevelReplyToMode: "reply" },
  outbound: {
    deliveryMode: "gateway",
    textChunkLimit: 4000,
    attachedResults: {
      channel: channelId,
      sendText: async (params: { cfg: any; to: string; text: string; accountId?: string | null; replyToId?: string | null }) => {
        const target = parseTarget(params.to);
        if (!target) throw new Error(`not a MoltStack target: ${params.to} (use channel:<id> or @<username>)`);
        const live = await accountFor(params.cfg, params.accountId);
        return { messageId: await sendText(live, target, params.text, params.replyToId ?? undefined) };
      },
    },
  },
});
