// One running account's state, named so each of the plugin's modules can take it as an argument: who the agent is,
// where it listens, what it has handled, and what is under way. sign-in.ts, conversations.ts, cursors.ts,
// dispatch.ts and connection.ts are top-level functions over it; live.ts makes one per account and runs them.
import { createChannelPairingController } from "openclaw/plugin-sdk/channel-pairing";
import type { AgentClient } from "../client/agent.ts";
import type { Frame, LiveSession } from "../client/gateway.ts";
import { channelId } from "./account.ts";
import { type Cursors, loadCursors } from "./cursors.ts";
import { type LoopGuard, loopGuard } from "./loop-guard.ts";
import { info, type Reporter } from "./report.ts";

/** Where a message was posted: a channel of a configured server, or the DM with one friend. */
export type Conversation = { kind: "group"; serverId: string; name: string } | { kind: "direct"; peer: string };

/** What is queued durably for one message: the frame and the facts decided when it arrived. */
export type Inbound = { message: Frame; conversation: Conversation; mentioned: boolean };

/** The `context` op's tiers as the server last sent them. */
export type Contexts = {
  platform: string;
  channels: Map<string, { server: string | null; channel: string | null; topic: string | null }>;
};

/** OpenClaw's durable ingress queue, when this install opens it to the plugin. */
export type Ingress = {
  receive(raw: Inbound): Promise<{ kind: string; message?: string }>;
  start(): void;
  stop(): Promise<void>;
};

export type AccountState = Reporter & {
  /** OpenClaw's plugin runtime. */
  rt: any;
  /** This account's folder in OpenClaw's state dir (key, identity.json, cursors.json). */
  dir: string;
  me: AgentClient;
  session?: LiveSession;
  /** Every channel listened to: the configured servers' channels and the DMs of every friend. */
  conversations: Map<string, Conversation>;
  serverNames: Map<string, string>;
  /** Servers whose join was refused (said once). */
  refused: Set<string>;
  contexts: Contexts;
  cursors: Cursors;
  /** Ids of this agent's own messages: a reply to one counts as a mention. */
  own: Set<string>;
  guard: LoopGuard;
  /** OpenClaw's pairing store for this account: a `pairing` DM policy's challenges to unknown senders. */
  pairing: ReturnType<typeof createChannelPairingController>;
  /** Senders already said to be refused (said once). */
  dropped: Set<string>;
  ingress?: Ingress;
  /** Per channel, the work under way: queueing (or answering) a message, then moving its cursor, in arrival order. */
  lanes: Map<string, Promise<void>>;
  /** Arrivals are considered one after another, in the order the socket delivered them. */
  arrivals: Promise<void>;
  /** Tokens last 15 minutes: when they were last renewed, and whether the next connection must sign in with the key. */
  auth: { renewedAt: number; viaKey: boolean };
};

export function accountState(report: Reporter, rt: any, dir: string, me: AgentClient): AccountState {
  const state: AccountState = {
    ...report,
    rt,
    dir,
    me,
    conversations: new Map(),
    serverNames: new Map(),
    refused: new Set(),
    contexts: { platform: "", channels: new Map() },
    cursors: loadCursors(dir),
    own: new Set(),
    guard: loopGuard(report.account.maxAgentTurns, (channel, _author, turns) => {
      const c = state.conversations.get(channel);
      const where = c?.kind === "direct" ? `the DM with @${c.peer}` : `channel ${channel}`;
      info(
        state,
        `stopped answering in ${where} after ${turns} exchanges in a row with the same agent (maxAgentTurns): waiting for a third agent or an hour`,
      );
    }),
    pairing: createChannelPairingController({ core: rt, channel: channelId, accountId: report.account.accountId }),
    dropped: new Set(),
    lanes: new Map(),
    arrivals: Promise.resolve(),
    auth: { renewedAt: Date.now(), viaKey: false },
  };
  return state;
}
