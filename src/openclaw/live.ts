// One MoltStack account inside a running OpenClaw gateway, from start to stop: sign in (or register), join the
// configured servers and find the DMs, open the live session, look for new channels every minute, and on stop let the
// answers under way finish and save the cursors. The state is one AccountState (account-state.ts); the steps are
// the top-level functions of sign-in.ts, conversations.ts, connection.ts and dispatch.ts.
import { join } from "node:path";
import { backoff, sleep } from "../client/gateway.ts";
import { resolveAccount } from "./account.ts";
import { type AccountState, accountState } from "./account-state.ts";
import { openSession } from "./connection.ts";
import { answerFriendRequest, findDms, joinServers, pendingFriendRequests } from "./conversations.ts";
import { saveCursors, startAt } from "./cursors.ts";
import { openIngress } from "./dispatch.ts";
import type { Sender } from "./outbound.ts";
import { info, problem, type Reporter, reporter, type StartContext, sleepUntilAbort, status, stopped } from "./report.ts";
import { getRuntime } from "./runtime.ts";
import { describe, ensureAgent, IdentityError } from "./sign-in.ts";

export type { StartContext } from "./report.ts";

/** Accounts running in this process, for sends that OpenClaw starts itself (`openclaw message send`, tools). */
const running = new Map<string, Sender>();

export function runningAccount(accountId: string): Sender | undefined {
  return running.get(accountId);
}

const channelsRefreshMs = 60_000;

/** `gateway.startAccount`: resolves only when OpenClaw aborts the account, and never throws: the gateway stays up. */
export async function startAccount(ctx: StartContext): Promise<void> {
  const report = reporter(ctx, resolveAccount(ctx.cfg, ctx.accountId));
  try {
    await runAccount(report);
  } catch (e) {
    problem(report, `stopped by an unexpected error: ${describe(e)}`, true);
    await sleepUntilAbort(ctx.abortSignal);
    stopped(report);
  }
}

async function runAccount(report: Reporter): Promise<void> {
  const { account, signal } = report;
  if (!account.configured) {
    problem(report, "channels.moltstack.baseUrl is required (the URL of a MoltStack server)", true);
    await sleepUntilAbort(signal);
    return stopped(report);
  }
  const rt = getRuntime();
  const dir = join(rt.state.resolveStateDir(), "moltstack", account.accountId);
  status(report, { running: true, connected: false, lifecycle: "starting", baseUrl: account.baseUrl });
  const state = await signedIn(report, rt, dir);
  if (!state) return stopped(report);
  info(
    state,
    `signed in as @${state.me.username} on ${account.baseUrl} (servers ${account.servers.length}, requireMention ${account.requireMention}, dmPolicy ${account.dmPolicy}, maxAgentTurns ${account.maxAgentTurns})`,
  );
  running.set(account.accountId, { account, client: state.me, signal });
  try {
    if (!(await findConversations(state))) return;
    state.ingress = openIngress(state);
    state.ingress?.start();
    const session = openSession(state);
    // Channels first seen now (DMs, no saved cursor) resume from this session's start on a later restart.
    for (const [channel, id] of Object.entries(session.cursors())) startAt(state.cursors, channel, id);
    saveCursors(state.cursors);
    for (const from of await pendingFriendRequests(state)) {
      state.arrivals = state.arrivals.then(() => answerFriendRequest(state, from)).catch(() => {});
    }
    const refresh = setInterval(() => {
      Promise.all([joinServers(state), findDms(state)])
        .then((found) => state.session?.add(found.flat()))
        .catch(() => {});
    }, channelsRefreshMs);
    await sleepUntilAbort(signal);
    clearInterval(refresh);
  } finally {
    await stop(state);
  }
}

/** Signs in (or registers), retrying while the server cannot be reached; a refusal blocks the account until restart. */
async function signedIn(report: Reporter, rt: any, dir: string): Promise<AccountState | undefined> {
  for (let failures = 0; !report.signal.aborted; failures++) {
    try {
      return accountState(report, rt, dir, await ensureAgent(report.account, dir, (line) => info(report, line)));
    } catch (e) {
      if (e instanceof IdentityError) {
        problem(report, e.message, true);
        await sleepUntilAbort(report.signal);
        return undefined;
      }
      problem(report, `cannot reach ${report.account.baseUrl}: ${describe(e)} (retrying)`);
      await sleep(backoff(failures, 1000, 60_000) + 250, report.signal);
    }
  }
  return undefined;
}

/** Joins the servers and finds the DMs, retrying (with backoff) while the server cannot be reached; false once stopped. */
async function findConversations(state: AccountState): Promise<boolean> {
  for (let failures = 0; !state.signal.aborted; failures++) {
    try {
      await joinServers(state);
      await findDms(state);
      return true;
    } catch (e) {
      problem(state, `cannot reach ${state.account.baseUrl}: ${describe(e)} (retrying)`);
      await sleep(backoff(failures, 1000, 60_000) + 250, state.signal);
    }
  }
  return false;
}

/** Answers under way finish (OpenClaw drains active turns on SIGTERM); lanes start nothing new once aborted. */
async function stop(state: AccountState) {
  state.session?.close();
  await state.arrivals.catch(() => {});
  await Promise.all(state.lanes.values());
  await state.ingress?.stop().catch(() => {});
  saveCursors(state.cursors);
  if (running.get(state.account.accountId)?.client === state.me) running.delete(state.account.accountId);
  info(state, "stopped");
  stopped(state);
}
