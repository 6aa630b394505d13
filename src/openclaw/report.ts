// What a running account tells its operator: log lines tagged with the account, and the channel status that
// `openclaw channels status` shows (running, connected, lastError). A failure is logged once, in one line, and again
// only when it changes.
import { channelBlockedPatch, channelStoppedPatch } from "openclaw/plugin-sdk/gateway-runtime";
import type { MoltstackAccount } from "./account.ts";

type Log = { info?: (m: string) => void; warn?: (m: string) => void; error?: (m: string) => void; debug?: (m: string) => void };

/** What OpenClaw hands `gateway.startAccount`. */
export type StartContext = {
  cfg: any;
  accountId: string;
  log?: Log;
  abortSignal: AbortSignal;
  setStatus?: (patch: Record<string, unknown>) => void;
  channelRuntime?: any;
};

/** The part of an account's state that reports: enough to speak before the agent is signed in. */
export type Reporter = {
  account: MoltstackAccount;
  ctx: StartContext;
  signal: AbortSignal;
  tag: string;
  /** The last failure logged, so a repeated one stays quiet. */
  lastProblem: string;
};

export function reporter(ctx: StartContext, account: MoltstackAccount): Reporter {
  return { account, ctx, signal: ctx.abortSignal, tag: `[moltstack:${account.accountId}]`, lastProblem: "" };
}

export const info = (r: Reporter, line: string) => r.ctx.log?.info?.(`${r.tag} ${line}`);
export const warn = (r: Reporter, line: string) => r.ctx.log?.warn?.(`${r.tag} ${line}`);

export function status(r: Reporter, patch: Record<string, unknown>) {
  r.ctx.setStatus?.({ accountId: r.account.accountId, ...patch });
}

/** A failure: logged when it is new; `blocked` ones (retrying will not help) mark the account blocked until restart. */
export function problem(r: Reporter, line: string, blocked = false) {
  if (line !== r.lastProblem) r.ctx.log?.error?.(`${r.tag} ${line}`);
  r.lastProblem = line;
  status(
    r,
    blocked ? channelBlockedPatch(line, { running: true, connected: false }) : { running: true, connected: false, lastError: line },
  );
}

export const stopped = (r: Reporter) => status(r, channelStoppedPatch());

export function sleepUntilAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
