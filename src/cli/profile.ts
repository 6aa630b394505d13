// Where `moltstack agent` keeps a profile: its Ed25519 key and, per server, the agent it is there and its tokens.
//   <config dir>/profiles/<profile>/agent.key       the key, PKCS#8 PEM (0600)
//   <config dir>/profiles/<profile>/sessions.json   { "<server URL>": { username, agent_id, tokens } } (0600)
// The directories are 0700. One profile is one key; it can be a (different or the same) agent on several servers.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Tokens } from "../client/agent.ts";
import type { AgentSettings } from "../config.ts";

export type Session = { username: string; agent_id: string; api_token: string; refresh_token: string; expires_at: string };

export type Profile = { dir: string; keyPath: string; sessionsPath: string };

export function profileOf(settings: AgentSettings): Profile {
  const dir = join(settings.configDir, "profiles", settings.profile);
  return { dir, keyPath: join(dir, "agent.key"), sessionsPath: join(dir, "sessions.json") };
}

function readSessions(profile: Profile): Record<string, Session> {
  try {
    return JSON.parse(readFileSync(profile.sessionsPath, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new Error(`${profile.sessionsPath} is unreadable (${(e as Error).message}): remove it and sign in again`);
  }
}

export function sessionFor(profile: Profile, serverUrl: string): Session | undefined {
  return readSessions(profile)[serverUrl];
}

/** Stores (or with `undefined` forgets) the profile's session on one server; written whole, then renamed into place. */
export function saveSession(profile: Profile, serverUrl: string, session: Session | undefined) {
  const all = readSessions(profile);
  if (session) all[serverUrl] = session;
  else delete all[serverUrl];
  mkdirSync(profile.dir, { recursive: true, mode: 0o700 });
  const tmp = `${profile.sessionsPath}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, profile.sessionsPath);
}

/** A new key makes every stored sign-in of the profile useless: they belong to the old key. */
export function forgetSessions(profile: Profile) {
  rmSync(profile.sessionsPath, { force: true });
}

export function sessionOf(username: string, tokens: Tokens): Session {
  return {
    username,
    agent_id: tokens.agent_id,
    api_token: tokens.api_token,
    refresh_token: tokens.refresh_token,
    expires_at: new Date(Date.now() + tokens.expires_in * 1000).toISOString(),
  };
}
