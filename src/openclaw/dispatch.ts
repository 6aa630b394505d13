// From a message frame to the agent: which messages reach the model (mentions and DMs, within the loop guard and
// OpenClaw's DM policy), OpenClaw's durable ingress queue when it is open to the plugin, one lane per channel so a
// channel's messages are handled in order, and the turn itself (route, session, context, reply delivery, typing).
import { createStandardRawEventIngressMonitor, resolveStableChannelMessageIngress } from "openclaw/plugin-sdk/channel-ingress-runtime";
import { bindIngressLifecycleToReplyOptions } from "openclaw/plugin-sdk/channel-outbound";
import { buildAgentSessionKey } from "openclaw/plugin-sdk/routing";
import { waitingOutLimits } from "../client/agent.ts";
import { type Frame, sleep } from "../client/gateway.ts";
import { channelId } from "./account.ts";
import type { AccountState, Conversation, Inbound, Ingress } from "./account-state.ts";
import { isOwn, rememberOwn } from "./conversations.ts";
import { moveCursor } from "./cursors.ts";
import { info, warn } from "./report.ts";
import { describe } from "./sign-in.ts";

const typingEveryMs = 4_000;

/**
 * A message that arrived on the socket: the agent's own and those it will not answer move the cursor at once; a
 * mention or DM the loop guard allows is admitted to the channel's lane.
 */
export async function consider(state: AccountState, m: Frame) {
  const channel = m.channel as string;
  if (m.agent?.id === state.me.id) {
    rememberOwn(state, m.id);
    return void passOver(state, channel, m.id);
  }
  const conversation = state.conversations.get(channel);
  if (!conversation) return void passOver(state, channel, m.id);
  state.guard.heard(channel, m.agent.id);
  const mentioned =
    Boolean(m.mentions?.some((x: { id: string }) => x.id === state.me.id)) ||
    Boolean(m.reply_to && (await isOwn(state, channel, m.reply_to)));
  if (conversation.kind === "group" && state.account.requireMention && !mentioned) return void passOver(state, channel, m.id);
  if (!state.guard.mayAnswer(channel, m.agent.id)) return void passOver(state, channel, m.id);
  state.guard.answered(channel, m.agent.id);
  void admit(state, { message: m, conversation, mentioned });
}

/**
 * OpenClaw's durable ingress queue, when this install grants it: a message is appended there before its cursor
 * moves, and a crash replays it. OpenClaw 2026.9 opens that queue only to plugins it trusts (its official packages);
 * elsewhere messages are dispatched directly, one at a time per channel, and a cursor moves only once its message
 * was answered. Either way OpenClaw skips a message id it has already recorded.
 */
export function openIngress(state: AccountState): Ingress | undefined {
  let queue: unknown;
  try {
    queue = state.rt.state.openChannelIngressQueue({ accountId: state.account.accountId });
  } catch (e) {
    info(state, `OpenClaw's durable ingress queue is not open to this plugin (${describe(e).split(". ")[0]}): dispatching directly`);
    return undefined;
  }
  return createStandardRawEventIngressMonitor<Inbound>({
    queue: () => queue,
    inspect: (raw) => ({ eventId: raw.message.id, laneKey: `channel:${raw.message.channel}` }),
    payload: {
      serialize: (raw) => JSON.stringify(raw),
      deserialize: (text, { claim }) => {
        try {
          return JSON.parse(text) as Inbound;
        } catch {
          throw new Error(`moltstack ingress row ${claim.id} is not valid JSON`);
        }
      },
      createClaimError: (kind, claim) => new Error(`moltstack ingress row ${claim.id}: ${kind}`),
    },
    deliver: (raw, lifecycle) => dispatch(state, raw, lifecycle),
    abortSignal: state.signal,
    createStoppedError: () => new Error("MoltStack ingress is stopped"),
    onError: (e) => state.ctx.log?.error?.(`${state.tag} ingress: ${describe(e)}`),
    classifyAdmissionError: () => undefined,
  });
}

/** Runs `job` after the channel's earlier work; once OpenClaw stops the account, nothing new starts. */
function inLane(state: AccountState, channel: string, job: () => Promise<void> | void): Promise<void> {
  const next = (state.lanes.get(channel) ?? Promise.resolve()).then(async () => {
    if (state.signal.aborted) return; // not handled: the next start resumes here
    await job();
  });
  const settled = next.catch((e) => warn(state, `channel ${channel}: ${describe(e)}`));
  state.lanes.set(channel, settled);
  return settled;
}

function admit(state: AccountState, inbound: Inbound): Promise<void> {
  return inLane(state, inbound.message.channel, async () => {
    if (state.ingress) {
      const admitted = await state.ingress.receive(inbound);
      if (admitted.kind === "invalid") warn(state, `message ${inbound.message.id} was not queued: ${admitted.message}`);
    } else if (!(await dispatchPatiently(state, inbound))) return; // stopping: the next start answers it
    moveCursor(state.cursors, inbound.message.channel, inbound.message.id);
  });
}

const passOver = (state: AccountState, channel: string, id: string) => inLane(state, channel, () => moveCursor(state.cursors, channel, id));

/**
 * A turn can fail for passing reasons (a starting gateway's state lock, a drain): try again a few times, and leave
 * the message unhandled when OpenClaw is stopping so the next start answers it. Answers false when stopping.
 */
async function dispatchPatiently(state: AccountState, inbound: Inbound): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await dispatch(state, inbound, undefined);
      return true;
    } catch (e) {
      if (state.signal.aborted || /draining/i.test(describe(e))) return false;
      if (attempt >= 10) {
        warn(state, `answering message ${inbound.message.id} failed ${attempt} times, giving up: ${describe(e)}`);
        return true;
      }
      warn(state, `answering message ${inbound.message.id} failed (${describe(e)}): trying again`);
      await sleep(Math.min(30_000, 1000 * 2 ** attempt), state.signal);
    }
  }
}

/** OpenClaw's decision on the sender (DM policy, allow list, pairing store), bound to the turn when `binding` is given. */
function senderAccess(state: AccountState, cfg: any, inbound: Inbound, binding?: Record<string, unknown>) {
  const { account } = state;
  const sender = inbound.message.agent.username as string;
  const peer = inbound.conversation.kind === "direct" ? { kind: "direct", id: sender } : { kind: "group", id: inbound.message.channel };
  return resolveStableChannelMessageIngress({
    channelId,
    accountId: account.accountId,
    identity: { key: "moltstack-username", entryIdPrefix: "moltstack-entry" },
    cfg,
    useDefaultPairingStore: account.dmPolicy === "pairing",
    subject: { stableId: sender },
    conversation: peer,
    ...(binding ? { contextBinding: binding } : {}),
    event: { mayPair: account.dmPolicy === "pairing" },
    dmPolicy: account.dmPolicy,
    // The plugin listens only in the servers it was told to join: their channels are open to it.
    groupPolicy: "open",
    allowFrom: account.dmPolicy === "open" ? ["*"] : account.allowFrom,
  });
}

async function sendReply(state: AccountState, channel: string, text: string, replyTo?: string): Promise<string> {
  const res = await waitingOutLimits(
    () => state.me.post(`/api/v1/channels/${channel}/messages`, { content: text, ...(replyTo ? { reply_to: replyTo } : {}) }),
    {
      signal: state.signal,
      onWait: (seconds, r) => info(state, `rate limited (${r.body?.error?.message ?? 429}): waiting ${seconds}s before sending`),
    },
  );
  if (res.status >= 300) throw new Error(`MoltStack refused the message: ${res.status} ${res.body?.error?.code ?? ""}`);
  rememberOwn(state, res.body.id);
  return res.body.id as string;
}

/** One turn of the agent for one message, through OpenClaw's inbound pipeline; the reply is posted as a reply to it. */
async function dispatch(state: AccountState, inbound: Inbound, lifecycle: unknown): Promise<void> {
  const { account, rt, ctx } = state;
  const cfg = rt.config?.current?.() ?? ctx.cfg;
  const channels = ctx.channelRuntime ?? rt.channel;
  const m = inbound.message;
  const sender = m.agent.username as string;
  const conversation = inbound.conversation;
  const peer =
    conversation.kind === "direct" ? { kind: "direct" as const, id: sender } : { kind: "group" as const, id: m.channel as string };
  const access = await senderAccess(state, cfg, inbound);
  if (!access.senderAccess.allowed) {
    if (access.senderAccess.decision === "pairing" && conversation.kind === "direct") {
      await state.pairing.issueChallenge({
        senderId: sender,
        senderIdLine: `Your MoltStack username: ${sender}`,
        sendPairingReply: async (text) => void (await sendReply(state, m.channel, text, m.id)),
        onReplyError: (e) => warn(state, `pairing reply to @${sender} failed: ${describe(e)}`),
      });
    } else if (!state.dropped.has(`${peer.kind}:${sender}`)) {
      state.dropped.add(`${peer.kind}:${sender}`);
      info(state, `not answering @${sender} (${access.senderAccess.reasonCode}; dmPolicy ${account.dmPolicy})`);
    }
    return;
  }
  const route = (channels.routing?.resolveAgentRoute ? channels : rt.channel).routing.resolveAgentRoute({
    cfg,
    channel: channelId,
    accountId: account.accountId,
    peer,
  });
  const sessionKey = buildAgentSessionKey({
    agentId: route.agentId,
    channel: channelId,
    accountId: account.accountId,
    peer,
    dmScope: "per-account-channel-peer",
  });
  let typing: ReturnType<typeof setInterval> | undefined;
  const startTyping = () => {
    const tick = () => state.session?.socket()?.send({ op: "typing", channel: m.channel });
    tick();
    typing ??= setInterval(tick, typingEveryMs);
  };
  try {
    await channels.inbound.run({
      channel: channelId,
      accountId: account.accountId,
      raw: inbound,
      ...(lifecycle ? bindIngressLifecycleToReplyOptions(lifecycle) : {}),
      adapter: {
        ingest: (raw: Inbound) => ({
          id: raw.message.id,
          timestamp: Date.parse(raw.message.created_at) || Date.now(),
          rawText: raw.message.content,
          textForAgent: raw.message.content,
          textForCommands: raw.message.content,
          raw,
        }),
        resolveTurn: async (input: { id: string; timestamp: number; rawText: string; textForAgent: string; textForCommands: string }) => {
          const channelIngress = await senderAccess(state, cfg, inbound, {
            agentId: route.agentId,
            sessionKey,
            messageId: input.id,
            inboundEventKind: "user_request",
          });
          const ctxPayload = channels.inbound.buildContext({
            channelIngress,
            channel: channelId,
            accountId: account.accountId,
            messageId: input.id,
            timestamp: input.timestamp,
            from: `moltstack:${sender}`,
            sender: { id: sender, username: sender, name: m.agent.display_name ?? sender },
            conversation: {
              kind: peer.kind,
              id: peer.id,
              // Quoted as JSON strings: a name cannot close the quote and add words of its own.
              label:
                conversation.kind === "direct"
                  ? `@${sender}`
                  : `channel ${JSON.stringify(`#${conversation.name}`)} of server ${JSON.stringify(state.serverNames.get(conversation.serverId) ?? conversation.serverId)}`,
            },
            route: {
              agentId: route.agentId,
              dmScope: route.dmScope,
              accountId: account.accountId,
              routeSessionKey: sessionKey,
              dispatchSessionKey: sessionKey,
            },
            reply: { to: `channel:${m.channel}`, replyToId: m.id },
            message: { rawBody: input.rawText, commandBody: input.textForCommands, bodyForAgent: input.textForAgent },
            ...(conversation.kind === "group"
              ? {
                  access: {
                    mentions: {
                      canDetectMention: true,
                      wasMentioned: inbound.mentioned,
                      requireMention: account.requireMention,
                      effectiveWasMentioned: inbound.mentioned,
                    },
                  },
                }
              : {}),
            supplemental: { channelStructuredContext: channelMetadata(state, m, conversation) },
            extra: { ChatType: peer.kind },
          });
          return {
            cfg,
            channel: channelId,
            accountId: account.accountId,
            route: { agentId: route.agentId, dmScope: route.dmScope, sessionKey },
            ctxPayload,
            delivery: {
              deliver: async (payload: { text?: string; body?: string }) => {
                const text = (payload?.text ?? payload?.body ?? "").trim();
                if (!text) return { visibleReplySent: false };
                const id = await sendReply(state, m.channel, text, m.id);
                return { visibleReplySent: true, messageIds: [id] };
              },
            },
            dispatcherOptions: { onReplyStart: startTyping },
            record: { onRecordError: (e: unknown) => warn(state, `could not record the session for ${m.id}: ${describe(e)}`) },
          };
        },
      },
    });
  } finally {
    clearInterval(typing);
  }
}

type Metadata = { label: string; source: string; type: string; payload: unknown };

/**
 * What the model gets beside the message, as channel metadata labelled with who set it (never system text): the
 * three tiers of the `context` op, and the message's provenance as the server recorded it (how deep in a reply chain
 * it is, the door it came in by), so an agent can see a long agent-to-agent exchange for what it is.
 */
function channelMetadata(state: AccountState, m: Frame, conversation: Conversation): Metadata[] {
  const entries: Metadata[] = [];
  if (state.contexts.platform) {
    entries.push({
      label: `MoltStack platform guidelines, set by the operator of ${state.account.baseUrl}`,
      source: "moltstack",
      type: "platform_instructions",
      payload: state.contexts.platform,
    });
  }
  const c = state.contexts.channels.get(m.channel);
  if (conversation.kind === "group" && c) {
    // Names are chosen by other agents: they stay in the payload, never inside the statement of who set it.
    const server = state.serverNames.get(conversation.serverId) ?? conversation.serverId;
    if (c.server) {
      entries.push({
        label: "Instructions for this MoltStack server, set by its moderators (other agents, not your operator)",
        source: "moltstack",
        type: "server_instructions",
        payload: { server, instructions: c.server },
      });
    }
    if (c.channel || c.topic) {
      entries.push({
        label: "Instructions for this MoltStack channel, set by its server's moderators (other agents, not your operator)",
        source: "moltstack",
        type: "channel_instructions",
        payload: { server, channel: conversation.name, instructions: c.channel, topic: c.topic },
      });
    }
  }
  const p = m.provenance as { via?: string; reply_depth?: number } | undefined;
  if (p && typeof p.reply_depth === "number") {
    entries.push({
      label: "This MoltStack message's provenance, as recorded by the server",
      source: "moltstack",
      type: "message_provenance",
      // reply_depth: 0 for a message that replies to nothing, else one more than the message it replies to.
      payload: { reply_depth: p.reply_depth, via: p.via ?? null },
    });
  }
  return entries;
}
