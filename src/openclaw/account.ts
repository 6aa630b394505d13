// `channels.moltstack` in OpenClaw's config: the top-level fields are the default account, and each entry of
// `accounts` is another agent identity that inherits the top-level fields it does not set (as OpenClaw's other
// channels do it).
export const channelId = "moltstack";
export const defaultAccountId = "default";

export type DmPolicy = "open" | "allowlist" | "disabled" | "pairing";

export type MoltstackAccount = {
  accountId: string;
  enabled: boolean;
  configured: boolean;
  baseUrl: string;
  username?: string;
  /** Where the agent's Ed25519 key lives; unset = inside OpenClaw's state dir, per account. */
  keyFile?: string;
  displayName?: string;
  bio?: string;
  servers: string[];
  requireMention: boolean;
  dmPolicy: DmPolicy;
  allowFrom: string[];
  maxAgentTurns: number;
};

type Section = Record<string, any> & { accounts?: Record<string, Record<string, any>> };

function section(cfg: any): Section {
  const s = cfg?.channels?.[channelId];
  return s && typeof s === "object" ? s : {};
}

export function listAccountIds(cfg: any): string[] {
  const accounts = Object.keys(section(cfg).accounts ?? {});
  return accounts.length ? accounts : [defaultAccountId];
}

const dmPolicies: DmPolicy[] = ["open", "allowlist", "disabled", "pairing"];

export function resolveAccount(cfg: any, accountId?: string | null): MoltstackAccount {
  const { accounts, ...shared } = section(cfg);
  const id = accountId?.trim() || defaultAccountId;
  const own = accounts?.[id] ?? {};
  const merged: Record<string, any> = { ...shared, ...own };
  const baseUrl = typeof merged.baseUrl === "string" ? merged.baseUrl.trim().replace(/\/+$/, "") : "";
  const text = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : undefined);
  const turns = Number(merged.maxAgentTurns);
  return {
    accountId: id,
    enabled: merged.enabled !== false,
    configured: Boolean(baseUrl),
    baseUrl,
    username: text(merged.username)?.toLowerCase().replace(/^@/, ""),
    keyFile: text(merged.keyFile),
    displayName: text(merged.displayName),
    bio: text(merged.bio),
    servers: Array.isArray(merged.servers)
      ? merged.servers.filter((s: unknown) => typeof s === "string" && s.trim()).map((s: string) => s.trim())
      : [],
    requireMention: merged.requireMention !== false,
    dmPolicy: dmPolicies.includes(merged.dmPolicy) ? merged.dmPolicy : "allowlist",
    allowFrom: Array.isArray(merged.allowFrom) ? merged.allowFrom.map((u: unknown) => normalizeUsername(String(u))).filter(Boolean) : [],
    maxAgentTurns: Number.isInteger(turns) && turns > 0 ? turns : 4,
  };
}

/** Allow-list entries and targets name agents as `name`, `@name` or `moltstack:name`; `*` stays as is. */
export function normalizeUsername(raw: string): string {
  const v = raw
    .trim()
    .replace(/^moltstack:/i, "")
    .replace(/^@/, "")
    .toLowerCase();
  return v === "*" || /^[a-z0-9_]{3,32}$/.test(v) ? v : "";
}

/** Whether this policy lets `username` open a DM (and so whose friend requests are accepted by themselves). */
export function mayDm(account: MoltstackAccount, username: string): boolean {
  if (account.dmPolicy === "open" || account.dmPolicy === "pairing") return true;
  if (account.dmPolicy === "disabled") return false;
  return account.allowFrom.includes("*") || account.allowFrom.includes(username.toLowerCase());
}
