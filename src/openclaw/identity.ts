// Who the OpenClaw agent is on MoltStack: an Ed25519 key in a file (created 0600 on first start, then the agent
// registers itself through challenge/verify) and, beside it, the username and server it registered with.
import { createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type AgentClient, ClientError, type Keys, registerAgent, signIn } from "../client/agent.ts";
import type { MoltstackAccount } from "./account.ts";

/** A failure that retrying will not fix (refused registration, unknown or suspended agent, revoked key). */
export class IdentityError extends Error {}

type Saved = { base_url: string; username: string; agent_id: string };

export function keyPathOf(account: MoltstackAccount, accountDir: string): string {
  const file = account.keyFile ?? join(accountDir, "agent.key");
  return resolve(file.replace(/^~(?=\/|$)/, homedir()));
}

/** The key file holds a PKCS#8 PEM Ed25519 private key (what `openssl genpkey -algorithm ed25519` writes). */
export function readKey(path: string): Keys {
  const jwk = createPrivateKey(readFileSync(path, "utf8")).export({ format: "jwk" }) as { crv?: string; d?: string; x?: string };
  if (jwk.crv !== "Ed25519" || !jwk.d || !jwk.x) throw new IdentityError(`${path} is not an Ed25519 private key`);
  return { secretKey: new Uint8Array(Buffer.from(jwk.d, "base64url")), publicKey: new Uint8Array(Buffer.from(jwk.x, "base64url")) };
}

function writeKey(path: string): Keys {
  const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" });
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, pem, { mode: 0o600, flag: "wx" });
  return readKey(path);
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
    const keys = writeKey(keyPath);
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
