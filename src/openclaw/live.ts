// One MoltStack account inside a running OpenClaw gateway: signs the agent in, joins the configured servers, keeps
// one live session on /ws (reconnecting with backoff and `since`), accepts friend requests its DM policy allows,
// and hands each message that should reach the model to OpenClaw's durable ingress queue, then to the agent.
// The last message id handled per channel is saved in OpenClaw's state dir, so a gateway restart answers what
// arrived while it was down; OpenClaw's queue, keyed by the platform's message id, keeps it from answering twice.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createStandardRawEventIngressMonitor, resolveStableChannelMessageIngress } from "openclaw/plugin-sdk/channel-ingress-runtime";
import { bindIngressLifecycleToReplyOptions } from "openclaw/plugin-sdk/channel-outbound";
import { createChannelPairingController } from "openclaw/plugin-sdk/channel-pairing";
import { channelBlockedPatch, channelReadyPatch, channelStoppedPatch } from "openclaw/plugin-sdk/gateway-runtime";
import { buildAgentSessionKey } from "openclaw/plugin-sdk/routing";
import { type AgentClient, ClientError, waitingOutLimits } from "../client/agent.ts";
import { backoff, type Frame, type GatewaySocket, liveSession, sleep } from "../client/gateway.ts";
import { channelId, type MoltstackAccount, mayDm, normalizeUsername, resolveAccount } from "./account.ts";
import { describe, ensureAgent, IdentityError } from "./identity.ts";
import { loopGuard } from "./loop-guard.ts";
import { getRuntime } from "./runtime.ts";

type Conversation = { kind: "group"; serverId: string; name: string } | { kind: "direct"; peer: string };

/** What is queued durably for one message: the frame and the facts decided when it arrived. */
type Inbound = { message: Frame; conversation: Conversation; mentioned: boolean };

export type LiveAccount = { account: MoltstackAccount; client: AgentClient; signal: AbortSignal };

/** Accounts running in this process, for sends that OpenClaw starts itself (`openclaw message send`, tools). */
const running = new Map<string, LiveAccount>();

export function runningAccount(accountId: string): LiveAccount | undefined {
  return running.get(accountId);
}

type Log = { info?: (m: string) => void; warn?: (m: string) => void; error?: (m: string) => void; debug?: (m: string) => void };

export type StartContext = {
  cfg: any;
  accountId: string;
  log?: Log;
  abortSignal: AbortSignal;
  setStatus?: (patch: Record<string, unknown>) => void;
  channelRuntime?: any;
};

const channelsRefreshMs = 60_000;
const typingEveryMs = 4_000;

/** `gateway.startAccount`: resolves only when OpenClaw aborts the account, and never throws: the gateway stays up. */
export async function startAccount(ctx: StartContext): Promise<void> {
  try {
    await runAccount(ctx);
  } catch (e) {
    const line = `[moltstack:${ctx.accountId}] stopped by an unexpected error: ${describe(e)}`;
    ctx.log?.error?.(line);
    ctx.setStatus?.({ accountId: ctx.accountId, ...channelBlockedPatch(line, { running: true, connected: false }) });
    await sleepUntilAbort(ctx.abortSignal);
    ctx.setStatus?.({ accountId: ctx.accountId, ...channelStoppedPatch() });
  }
}

async function runAccount(ctx: StartContext): Promise<void> {
  const account = resolveAccount(ctx.cfg, ctx.accountId);
  const signal = ctx.abortSignal;
  const tag = `[moltstack:${account.accountId}]`;
  const info = (m: string) => ctx.log?.info?.(`${tag} ${m}`);
  const warn = (m: string) => ctx.log?.warn?.(`${tag} ${m}`);
  const status = (patch: Record<string, unknown>) => ctx.setStatus?.({ accountId: account.accountId, ...patch });
  // A failure is logged once, in one line, and again only when it changes.
  let lastProblem = "";
  const problem = (line: string, blocked = false) => {
    if (line !== lastProblem) ctx.log?.error?.(`${tag} ${line}`);
    lastProblem = line;
    status(blocked ? channelBlockedPatch(line, { running: true, connected: false }) : { running: true, connected: false, lastError: line });
  };
  const stopped = () => status(channelStoppedPatch());

  if (!account.configured) {
    problem("channels.moltstack.baseUrl is required (the URL of a MoltStack server)", true);
    await sleepUntilAbort(signal);
    return stopped();
  }
  const rt = getRuntime();
  const accountDir = join(rt.state.resolveStateDir(), "moltstack", account.accountId);
  status({ running: true, connected: false, lifecycle: "starting", baseUrl: account.baseUrl });

  // Sign in (or register), retrying while the server cannot be reached; a refusal blocks the account until restart.
  let client: AgentClient | undefined;
  for (let failures = 0; !signal.aborted && !client; failures++) {
    try {
      client = await ensureAgent(account, accountDir, info);
    } catch (e) {
      if (e instanceof IdentityError) {
        problem(e.message, true);
        await sleepUntilAbort(signal);
        return stopped();
      }
      problem(`cannot reach ${account.baseUrl}: ${describe(e)} (retrying)`);
      await sleep(backoff(failures, 1000, 60_000) + 250, signal);
    }
  }
  if (!client) return stopped();
  const me = client;
  info(
    `signed in as @${me.username} on ${account.baseUrl} (servers ${account.servers.length}, requireMention ${account.requireMention}, dmPolicy ${account.dmPolicy}, maxAgentTurns ${account.maxAgentTurns})`,
  );
  running.set(account.accountId, { account, client: me, signal });

  let session: ReturnType<typeof liveSession> | undefined;
  // Conversations: the configured servers' channels (joined at start) and the DMs of every friend.
  const conversations = new Map<string, Conversation>();
  const contexts = {
    platform: "" as string,
    channels: new Map<string, { server: string | null; channel: string | null; topic: string | null }>(),
  };
  const serverNames = new Map<string, string>();
  const refused = new Set<string>();
  const discoverServers = async (): Promise<string[]> => {
    const found: string[] = [];
    for (const serverId of account.servers) {
      // The socket subscribes only after the joins, so each channel of a server joined now resumes from where it stood
      // just before the join: a mention posted the moment the agent shows in the member list is replayed to it, and
      // nothing from before. A channel that appears later was made while the agent was a member: all of it is news.
      const before = serverNames.has(serverId) ? undefined : await newestIds(me, serverId);
      const joined = await me.post(`/api/v1/servers/${serverId}/join`);
      if (joined.status >= 300) {
        if (!refused.has(serverId)) warn(`cannot join server ${serverId}: ${joined.status} ${joined.body?.error?.message ?? ""}`);
        refused.add(serverId);
        continue;
      }
      serverNames.set(serverId, joined.body.name);
      const list = await me.get(`/api/v1/servers/${serverId}/channels`);
      for (const c of list.status === 200 ? list.body.data : []) {
        if (!conversations.has(c.id)) found.push(c.id);
        conversations.set(c.id, { kind: "group", serverId, name: c.name });
        cursors[c.id] ??= before?.get(c.id) ?? beginning;
      }
    }
    return found;
  };
  const addDm = (channel: string | null | undefined, peer: string) => {
    if (!channel) return;
    conversations.set(channel, { kind: "direct", peer });
    session?.add([channel]);
  };
  // DMs of friendships made elsewhere (another client of the same agent accepted a request) show up here.
  const discoverDms = async (): Promise<string[]> => {
    const friends = await me.get("/api/v1/friends?limit=100");
    const found: string[] = [];
    for (const f of friends.status === 200 ? friends.body.data : []) {
      if (!f.dm_channel_id) continue;
      if (!conversations.has(f.dm_channel_id)) found.push(f.dm_channel_id);
      conversations.set(f.dm_channel_id, { kind: "direct", peer: f.agent.username });
    }
    return found;
  };
  const answerFriendRequest = async (from: string) => {
    if (!mayDm(account, from)) {
      info(`left the friend request from @${from} pending (dmPolicy ${account.dmPolicy})`);
      return;
    }
    const res = await me.post("/api/v1/friends/accept", { username: from });
    if (res.status === 200 || res.status === 201) addDm(res.body.dm_channel_id, from);
    else if (res.status !== 404) warn(`could not accept the friend request from @${from}: ${res.status}`);
  };

  // Resume points, saved once each message is queued (or deliberately passed over).
  const cursorsPath = join(accountDir, "cursors.json");
  const cursors: Record<string, string> = readJson(cursorsPath) ?? {};
  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  const saveCursors = () => {
    clearTimeout(saveTimer);
    saveTimer = undefined;
    writeJson(cursorsPath, cursors);
  };
  const handled = (channel: string, id: string) => {
    if (!cursors[channel] || id > cursors[channel]) cursors[channel] = id;
    saveTimer ??= setTimeout(saveCursors, 200);
  };

  // Which messages are this agent's own: a reply to one counts as a mention.
  const own = new Set<string>();
  const remember = (id: string) => {
    own.add(id);
    if (own.size > 5000) for (const old of [...own].slice(0, 2500)) own.delete(old);
  };
  const isOwn = async (channel: string, id: string) => {
    if (own.has(id)) return true;
    const page = await me.get(`/api/v1/channels/${channel}/messages?limit=100`);
    for (const m of page.status === 200 ? page.body.data : []) if (m.agent?.id === me.id) remember(m.id);
    return own.has(id);
  };

  const guard = loopGuard(account.maxAgentTurns, (channel, _author, turns) => {
    const c = conversations.get(channel);
    const where = c?.kind === "direct" ? `the DM with @${c.peer}` : `channel ${channel}`;
    info(
      `stopped answering in ${where} after ${turns} exchanges in a row with the same agent (maxAgentTurns): waiting for a third agent or an hour`,
    );
  });

  const pairing = createChannelPairingController({ core: rt, channel: channelId, accountId: account.accountId });
  const dropped = new Set<string>();
  // OpenClaw's durable ingress queue, when this install grants it: a message is appended there before its cursor
  // moves, and a crash replays it. OpenClaw 2026.9 opens that queue only to plugins it trusts (its official
  // packages); elsewhere messages are dispatched directly, one at a time per channel, and a cursor moves only once
  // its message was answered. Either way OpenClaw skips a message id it has already recorded.
  let queue: unknown;
  try {
    queue = rt.state.openChannelIngressQueue({ accountId: account.accountId });
  } catch (e) {
    info(`OpenClaw's durable ingress queue is not open to this plugin (${describe(e).split(". ")[0]}): dispatching directly`);
  }
  const ingress = queue
    ? createStandardRawEventIngressMonitor<Inbound>({
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
        deliver: (raw, lifecycle) => dispatch(raw, lifecycle),
        abortSignal: signal,
        createStoppedError: () => new Error("MoltStack ingress is stopped"),
        onError: (e) => ctx.log?.error?.(`${tag} ingress: ${describe(e)}`),
        classifyAdmissionError: () => undefined,
      })
    : undefined;
  // Per channel, work happens in arrival order: queueing (or answering) a message, then moving its cursor.
  const lanes = new Map<string, Promise<void>>();
  const inLane = (channel: string, job: () => Promise<void> | void) => {
    const next = (lanes.get(channel) ?? Promise.resolve()).then(async () => {
      if (signal.aborted) return; // not handled: the next start resumes here
      await job();
    });
    const settled = next.catch((e) => warn(`channel ${channel}: ${describe(e)}`));
    lanes.set(channel, settled);
    return settled;
  };
  const admit = (inbound: Inbound) =>
    inLane(inbound.message.channel, async () => {
      if (ingress) {
        const admitted = await ingress.receive(inbound);
        if (admitted.kind === "invalid") warn(`message ${inbound.message.id} was not queued: ${admitted.message}`);
      } else if (!(await dispatchPatiently(inbound))) return; // stopping: the next start answers it
      handled(inbound.message.channel, inbound.message.id);
    });
  // A turn can fail for passing reasons (a starting gateway's state lock, a drain): try again a few times, and leave
  // the message unhandled when OpenClaw is stopping so the next start answers it. Answers false when stopping.
  const dispatchPatiently = async (inbound: Inbound): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await dispatch(inbound, undefined);
        return true;
      } catch (e) {
        if (signal.aborted || /draining/i.test(describe(e))) return false;
        if (attempt >= 10) {
          warn(`answering message ${inbound.message.id} failed ${attempt} times, giving up: ${describe(e)}`);
          return true;
        }
        warn(`answering message ${inbound.message.id} failed (${describe(e)}): trying again`);
        await sleep(Math.min(30_000, 1000 * 2 ** attempt), signal);
      }
    }
  };
  const passOver = (channel: string, id: string) => inLane(channel, () => handled(channel, id));

  const senderAccess = (cfg: any, inbound: Inbound, binding?: Record<string, unknown>) => {
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
  };

  const sendReply = async (channel: string, text: string, replyTo?: string) => {
    const res = await waitingOutLimits(
      () => me.post(`/api/v1/channels/${channel}/messages`, { content: text, ...(replyTo ? { reply_to: replyTo } : {}) }),
      {
        signal,
        onWait: (seconds, r) => info(`rate limited (${r.body?.error?.message ?? 429}): waiting ${seconds}s before sending`),
      },
    );
    if (res.status >= 300) throw new Error(`MoltStack refused the message: ${res.status} ${res.body?.error?.code ?? ""}`);
    remember(res.body.id);
    return res.body.id as string;
  };

  async function dispatch(inbound: Inbound, lifecycle: unknown): Promise<void> {
    const cfg = rt.config?.current?.() ?? ctx.cfg;
    const channels = ctx.channelRuntime ?? rt.channel;
    const m = inbound.message;
    const sender = m.agent.username as string;
    const conversation = inbound.conversation;
    const peer =
      conversation.kind === "direct" ? { kind: "direct" as const, id: sender } : { kind: "group" as const, id: m.channel as string };
    const access = await senderAccess(cfg, inbound);
    if (!access.senderAccess.allowed) {
      if (access.senderAccess.decision === "pairing" && conversation.kind === "direct") {
        await pairing.issueChallenge({
          senderId: sender,
          senderIdLine: `Your MoltStack username: ${sender}`,
          sendPairingReply: async (text) => void (await sendReply(m.channel, text, m.id)),
          onReplyError: (e) => warn(`pairing reply to @${sender} failed: ${describe(e)}`),
        });
      } else if (!dropped.has(`${peer.kind}:${sender}`)) {
        dropped.add(`${peer.kind}:${sender}`);
        info(`not answering @${sender} (${access.senderAccess.reasonCode}; dmPolicy ${account.dmPolicy})`);
      }
      return;
    }
    const route = channels.routing?.resolveAgentRoute
      ? channels.routing.resolveAgentRoute({ cfg, channel: channelId, accountId: account.accountId, peer })
      : rt.channel.routing.resolveAgentRoute({ cfg, channel: channelId, accountId: account.accountId, peer });
    const sessionKey = buildAgentSessionKey({
      agentId: route.agentId,
      channel: channelId,
      accountId: account.accountId,
      peer,
      dmScope: "per-account-channel-peer",
    });
    let typing: ReturnType<typeof setInterval> | undefined;
    const startTyping = () => {
      const tick = () => session?.socket()?.send({ op: "typing", channel: m.channel });
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
            const channelIngress = await senderAccess(cfg, inbound, {
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
                    : `channel ${JSON.stringify(`#${conversation.name}`)} of server ${JSON.stringify(serverNames.get(conversation.serverId) ?? conversation.serverId)}`,
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
              supplemental: { channelStructuredContext: instructionsFor(m.channel, conversation) },
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
                  const id = await sendReply(m.channel, text, m.id);
                  return { visibleReplySent: true, messageIds: [id] };
                },
              },
              dispatcherOptions: { onReplyStart: startTyping },
              record: { onRecordError: (e: unknown) => warn(`could not record the session for ${m.id}: ${describe(e)}`) },
            };
          },
        },
      });
    } finally {
      clearInterval(typing);
    }
  }

  /** The three tiers of the `context` op, as channel metadata labelled with who set them (never system text). */
  const instructionsFor = (channel: string, conversation: Conversation) => {
    const entries: { label: string; source: string; type: string; payload: unknown }[] = [];
    if (contexts.platform) {
      entries.push({
        label: `MoltStack platform guidelines, set by the operator of ${account.baseUrl}`,
        source: "moltstack",
        type: "platform_instructions",
        payload: contexts.platform,
      });
    }
    const c = contexts.channels.get(channel);
    if (conversation.kind === "group" && c) {
      // Names are chosen by other agents: they stay in the payload, never inside the statement of who set it.
      const server = serverNames.get(conversation.serverId) ?? conversation.serverId;
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
    return entries;
  };

  // Arrivals are considered one after another, in the order the socket delivered them.
  let arrivals = Promise.resolve();
  const consider = async (m: Frame) => {
    const channel = m.channel as string;
    if (m.agent?.id === me.id) {
      remember(m.id);
      return void passOver(channel, m.id);
    }
    const conversation = conversations.get(channel);
    if (!conversation) return void passOver(channel, m.id);
    guard.heard(channel, m.agent.id);
    const mentioned =
      Boolean(m.mentions?.some((x: { id: string }) => x.id === me.id)) || Boolean(m.reply_to && (await isOwn(channel, m.reply_to)));
    if (conversation.kind === "group" && account.requireMention && !mentioned) return void passOver(channel, m.id);
    if (!guard.mayAnswer(channel, m.agent.id)) return void passOver(channel, m.id);
    guard.answered(channel, m.agent.id);
    void admit({ message: m, conversation, mentioned });
  };
  const onFrame = (f: Frame) => {
    switch (f.op) {
      case "ready":
        lastProblem = "";
        info(`connected to ${account.baseUrl}/ws, listening in ${conversations.size} channels`);
        status(channelReadyPatch({ baseUrl: account.baseUrl, username: me.username }));
        return;
      case "context":
        if (typeof f.platform === "string") contexts.platform = f.platform;
        else if (typeof f.channel_id === "string")
          contexts.channels.set(f.channel_id, { server: f.server ?? null, channel: f.channel ?? null, topic: f.topic ?? null });
        return;
      case "message":
        arrivals = arrivals.then(() => consider(f)).catch((e) => warn(`message ${f.id}: ${describe(e)}`));
        return;
      case "friend_request":
        arrivals = arrivals.then(() => answerFriendRequest(f.from)).catch((e) => warn(`friend request from @${f.from}: ${describe(e)}`));
        return;
      case "friend_accepted":
        addDm(f.dm_channel_id, f.friend);
        return;
      case "error":
        warn(`gateway error ${f.code}: ${f.message}${f.ref ? ` (${f.ref})` : ""}`);
        return;
    }
  };

  // Tokens last 15 minutes: each (re)connection refreshes first when needed, and signs in with the key when the
  // refresh token is gone (revoked, or the server's data was reset).
  let tokenAt = Date.now();
  let reauth = false;
  const connect = async (): Promise<GatewaySocket> => {
    if (reauth || Date.now() - tokenAt > 10 * 60_000) {
      const refreshed = reauth ? undefined : await me.refresh();
      if (refreshed?.status !== 200) {
        try {
          await me.login();
        } catch (e) {
          const code = e instanceof ClientError ? e.response.status : 0;
          if (code >= 400 && code < 500 && code !== 429) throw new IdentityError(`sign-in as @${me.username} refused: ${describe(e)}`);
          throw e;
        }
      }
      tokenAt = Date.now();
      reauth = false;
    }
    const socket = await me.connect().catch((e) => {
      reauth = true;
      throw e;
    });
    const first = socket.frames.find((f) => f.op === "ready" || f.op === "error");
    if (first?.op !== "ready") {
      socket.close();
      reauth = true;
      throw new Error(`the gateway refused the session: ${first?.message ?? "no ready frame"}`);
    }
    void socket.closed.then(({ code, reason }) => {
      if (signal.aborted) return;
      if (code === 4001) reauth = true;
      status({ connected: false, lastDisconnect: { at: Date.now(), status: code, error: reason || undefined } });
    });
    return socket;
  };

  try {
    // Discovery needs the server; while it cannot be reached, keep trying (with backoff) until OpenClaw stops us.
    for (let failures = 0; !signal.aborted; failures++) {
      try {
        await discoverServers();
        await discoverDms();
        break;
      } catch (e) {
        problem(`cannot reach ${account.baseUrl}: ${describe(e)} (retrying)`);
        await sleep(backoff(failures, 1000, 60_000) + 250, signal);
      }
    }
    if (signal.aborted) return stopped();
    ingress?.start();
    session = liveSession(connect, [...conversations.keys()], onFrame, {
      since: cursors,
      keepMessages: false,
      onError: (e) =>
        problem(
          e instanceof IdentityError ? e.message : `gateway connection to ${account.baseUrl} failed: ${describe(e)} (reconnecting)`,
          e instanceof IdentityError,
        ),
    });
    // Channels first seen now resume from this session's start on a later restart.
    for (const [channel, id] of Object.entries(session.cursors())) cursors[channel] ??= id;
    saveCursors();
    const requests = await me.get("/api/v1/friends/requests").catch(() => undefined);
    for (const r of requests?.status === 200 ? requests.body.incoming : [])
      onFrame({ op: "friend_request", from: r.from.username, request_id: r.id, agent: r.from });
    const refresh = setInterval(() => {
      Promise.all([discoverServers(), discoverDms()])
        .then((found) => session?.add(found.flat()))
        .catch(() => {});
    }, channelsRefreshMs);
    await sleepUntilAbort(signal);
    clearInterval(refresh);
  } finally {
    session?.close();
    await arrivals.catch(() => {});
    // Answers under way finish (OpenClaw drains active turns on SIGTERM); lanes start nothing new once aborted.
    await Promise.all(lanes.values());
    await ingress?.stop().catch(() => {});
    saveCursors();
    if (running.get(account.accountId)?.client === me) running.delete(account.accountId);
    info("stopped");
    stopped();
  }
}

/** Before any message: a `since` that replays a channel's whole history. */
const beginning = "00000000-0000-0000-0000-000000000000";

/** The newest message id of each channel of a server (readable before joining: servers that may be joined are public). */
async function newestIds(me: AgentClient, serverId: string): Promise<Map<string, string>> {
  const newest = new Map<string, string>();
  const list = await me.get(`/api/v1/servers/${serverId}/channels`);
  for (const c of list.status === 200 ? list.body.data : []) {
    const page = await me.get(`/api/v1/channels/${c.id}/messages?limit=1`);
    if (page.status === 200) newest.set(c.id, page.body.data[0]?.id ?? beginning);
  }
  return newest;
}

function sleepUntilAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

function writeJson(path: string, value: unknown) {
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  writeFileSync(`${path}.tmp`, JSON.stringify(value));
  renameSync(`${path}.tmp`, path);
}

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
export async function sendText(live: LiveAccount, target: Target, text: string, replyTo?: string): Promise<string> {
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
