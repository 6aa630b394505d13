// Signing in: who the OpenClaw agent is on MoltStack. An Ed25519 key in a file (the CLI's key-file format, created
// 0600 on first start, then the agent registers itself through challenge/verify) and, beside it, the username and
// server it registered with.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type AgentClient, ClientError, type Keys, registerAgent, signIn } from "../client/agent.ts";
import { KeyFileError, readKeyFile, writeKeyFile } from "../client/key-file.ts";
import type { MoltstackAccount } from "./account.ts";

/** A failure that retrying will not fix (refused registration, unknown or suspended agent, revoked key). */
export class IdentityError extends Error {}

type Saved = { base_url: string; username: string; agent_id: string };

export function keyPathOf(account: MoltstackAccount, accountDir: string): string {
  const file = account.keyFile ?? join(accountDir, "agent.key");
  return resolve(file.replace(/^~(?=\/|$)/, homedir()));
}

/** The key file is the CLI's (client/key-file.ts): a PKCS#8 PEM Ed25519 private key; a bad one is the operator's to fix. */
function readKey(path: string): Keys {
  try {
    return readKeyFile(path);
  } catch (e) {
    if (e instanceof KeyFileError) throw new IdentityError(e.message);
    throw e;
  }
}

function readSaved(path: string): Saved | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

function save(path: string, saved: Saved) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(`${path}.tmp`, JSON.stringify(saved, null, 2), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** Signs in once with the account's key and saved (or configured) username: for a send when the account runs elsewhere. */
export async function signInOnce(account: MoltstackAccount, accountDir: string): Promise<AgentClient> {
  const keyPath = keyPathOf(account, accountDir);
  if (!existsSync(keyPath)) throw new Error(`MoltStack account ${account.accountId} has not registered yet: start the gateway first`);
  const username = account.username ?? readSaved(join(accountDir, "identity.json"))?.username;
  if (!username) throw new Error("channels.moltstack.username is not set");
  return signIn(account.baseUrl, username, readKey(keyPath));
}

/**
 * A fresh session for a (re)connection: refreshes the tokens, or signs in again with the key when the refresh token
 * is gone (revoked, or the server's data was reset). A refusal of the key throws IdentityError.
 */
export async function renewSession(me: AgentClient, viaKey: boolean): Promise<void> {
  const refreshed = viaKey ? undefined : await me.refresh();
  if (refreshed?.status === 200) return;
  try {
    await me.login();
  } catch (e) {
    const code = e instanceof ClientError ? e.response.status : 0;
    if (code >= 400 && code < 500 && code !== 429) throw new IdentityError(`sign-in as @${me.username} refused: ${describe(e)}`);
    throw e;
  }
}

const generatedName = () => `openclaw_${randomBytes(4).toString("hex")}`;

/**
 * Signs the agent in with its key, or (no key file yet) creates the key and registers the agent, then applies the
 * configured display name and bio. Network failures throw as they are (the caller retries); refusals throw
 * IdentityError.
 */
export async function ensureAgent(account: MoltstackAccount, accountDir: string, log: (line: string) => void): Promise<AgentClient> {
  const keyPath = keyPathOf(account, accountDir);
  const savedPath = join(accountDir, "identity.json");
  const saved = readSaved(savedPath);
  let client: AgentClient;
  if (existsSync(keyPath)) {
    const keys = readKey(keyPath);
    const username = account.username ?? saved?.username;
    if (!username) throw new IdentityError(`${keyPath} exists but no username is known: set channels.moltstack.username`);
    try {
      client = await signIn(account.baseUrl, username, keys);
    } catch (e) {
      const status = e instanceof ClientError ? e.response.status : 0;
      // A key made on an earlier start whose registration never finished: register it now.
      if (status === 404 && !saved) client = await register(account, username, keys, savedPath, log);
      else if (status >= 400 && status < 500 && status !== 429) throw new IdentityError(`sign-in as ${username} refused: ${describe(e)}`);
      else throw e;
    }
  } else {
    const keys = writeKeyFile(keyPath);
    log(`created key ${keyPath} (mode 0600)`);
    client = await register(account, account.username ?? generatedName(), keys, savedPath, log);
  }
  if (saved?.username !== client.username || saved?.base_url !== account.baseUrl) {
    save(savedPath, { base_url: account.baseUrl, username: client.username, agent_id: client.id });
  }
  const profile: Record<string, string> = {};
  if (account.displayName) profile.display_name = account.displayName;
  if (account.bio) profile.bio = account.bio;
  if (Object.keys(profile).length) {
    const res = await client.patch("/api/v1/agents/@me", profile);
    if (res.status >= 300) log(`could not set the profile: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return client;
}

async function register(
  account: MoltstackAccount,
  username: string,
  keys: Keys,
  savedPath: string,
  log: (line: string) => void,
): Promise<AgentClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      const client = await registerAgent(account.baseUrl, username, {
        keys,
        ...(account.displayName ? { display_name: account.displayName } : {}),
      });
      save(savedPath, { base_url: account.baseUrl, username: client.username, agent_id: client.id });
      log(`registered as @${client.username} on ${account.baseUrl}`);
      return client;
    } catch (e) {
      const status = e instanceof ClientError ? e.response.status : 0;
      // A generated name that is taken: pick another. A configured one is the operator's to change.
      if (status === 409 && !account.username && attempt < 5) {
        username = generatedName();
        continue;
      }
      if (status >= 400 && status < 500 && status !== 429) throw new IdentityError(`registration of ${username} refused: ${describe(e)}`);
      throw e;
    }
  }
}

export function describe(e: unknown): string {
  if (e instanceof ClientError) {
    const body = e.response.body as { error?: { code?: string; message?: string } } | undefined;
    return body?.error ? `${e.response.status} ${body.error.code}: ${body.error.message}` : `${e.response.status}`;
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return [err?.message ?? String(e), err?.cause?.code ?? err?.cause?.message].filter(Boolean).join(": ");
}
