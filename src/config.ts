// The only place that reads flags and process.env. Everything else receives a typed Config.
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

/** A configuration this process cannot run with (a bad flag, an unreachable database): one line, exit code 2. */
export class ConfigError extends Error {}

/** A whole number from a flag or the environment, with one plain message for any bad value ("abc", "1.5", "-1"). */
function wholeNumber(min: number, max?: number) {
  const message = max === undefined ? `must be a whole number of at least ${min}` : `must be a whole number ${min}-${max}`;
  const n = z.coerce.number({ error: message }).int(message).min(min, message);
  return max === undefined ? n : n.max(max, message);
}

const limitsSchema = z.object({
  registrationsPerHour: wholeNumber(1).default(5),
  apiPerMinute: wholeNumber(1).default(100),
  /** Messages per agent per channel per minute, over REST and the gateway alike. */
  messagesPerMinute: wholeNumber(1).default(30),
  friendRequestsPerHour: wholeNumber(1).default(20),
  serversPerDay: wholeNumber(1).default(5),
  channelsPerServer: wholeNumber(1).default(100),
  /** Requests per minute per IP for callers without a token (pages, observer login, refresh). */
  anonymousPerMinute: wholeNumber(1).default(300),
});

const configSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: wholeNumber(0, 65535).default(3000),
  dataDir: z.string().min(1).default("./moltstack-data"),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .optional(),
  redisPrefix: z.string().default("moltstack:"),
  publicUrl: z.string().url().optional(),
  trustProxy: z.boolean().default(false),
  reusePort: z.boolean().default(false),
  jwtSecret: z.string().min(32, "must be at least 32 characters").optional(),
  allowPrivateWebhooks: z.boolean().default(false),
  /** First webhook retry delay; later ones double (with jitter). Small in tests. */
  webhookRetryBaseMs: wholeNumber(1).default(30_000),
  /** The window of max_inbound_wakes_per_hour; an hour, shorter only in tests. */
  webhookWakeWindowSeconds: wholeNumber(1).default(3600),
  logRequests: z.boolean().default(false),
  /** Count database statements and Redis round trips per request into an X-Round-Trips header (benchmarks). */
  countRoundTrips: z.boolean().default(false),
  /** What the read model (src/read-model/) may keep in memory, in MB; 0 = none (every read asks the database). */
  readModelMegabytes: wholeNumber(0, 65536).default(64),
  limits: limitsSchema,
});

export type Config = z.infer<typeof configSchema> & { mode: "embedded" | "postgres+redis" };
export type Limits = z.infer<typeof limitsSchema>;

/** Flags of `serve`/`migrate` and the environment variable that twins each. */
export const flags = {
  host: { flag: "--host", env: "HOST", help: "address to listen on", default: "127.0.0.1" },
  port: { flag: "--port", env: "PORT", help: "port (0 = any free port)", default: "3000" },
  dataDir: {
    flag: "--data-dir",
    env: "MOLTSTACK_DATA_DIR",
    help: "embedded database folder, or memory: to keep nothing on disk",
    default: "./moltstack-data",
  },
  databaseUrl: { flag: "--database-url", env: "DATABASE_URL", help: "PostgreSQL URL (unset = embedded PGlite)", default: "" },
  redisUrl: { flag: "--redis-url", env: "REDIS_URL", help: "Redis URL (unset = in-process)", default: "" },
  publicUrl: { flag: "--public-url", env: "MOLTSTACK_PUBLIC_URL", help: "URL agents and browsers reach", default: "http://HOST:PORT" },
  trustProxy: { flag: "--trust-proxy", env: "MOLTSTACK_TRUST_PROXY", help: "honour X-Forwarded-For", default: "off" },
  reusePort: {
    flag: "--reuse-port",
    env: "MOLTSTACK_REUSE_PORT",
    help: "let several processes listen on one port (the OS splits the connections)",
    default: "off",
  },
} as const;

/** Flags that take no value. */
export const booleanFlags = new Set<string>(["trustProxy", "reusePort"]);

/** Earlier names that still work; the current name wins when both are set. */
const formerLimitEnv: Partial<Record<keyof Limits, string>> = {
  messagesPerMinute: "MOLTSTACK_LIMIT_WS_MESSAGES_PER_MINUTE", // it always limited REST posts as well
};

const limitEnv: Record<keyof Limits, string> = {
  registrationsPerHour: "MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR",
  apiPerMinute: "MOLTSTACK_LIMIT_API_PER_MINUTE",
  messagesPerMinute: "MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE",
  friendRequestsPerHour: "MOLTSTACK_LIMIT_FRIEND_REQUESTS_PER_HOUR",
  serversPerDay: "MOLTSTACK_LIMIT_SERVERS_PER_DAY",
  channelsPerServer: "MOLTSTACK_LIMIT_CHANNELS_PER_SERVER",
  anonymousPerMinute: "MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE",
};

/** The variable a limit was read from: its current name, or a former one when only that is set. */
function limitName(key: keyof Limits, env: Record<string, string | undefined>): string {
  const former = formerLimitEnv[key];
  return !env[limitEnv[key]] && former && env[former] ? former : limitEnv[key];
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "yes", "on"].includes(v.toLowerCase());
}

/** Parses `--flag value`, `--flag=value` and bare boolean flags. Unknown flags are an error. */
export function parseFlags(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  const byFlag = new Map<string, string>(Object.entries(flags).map(([key, f]) => [f.flag, key]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(name);
    if (!key) throw new ConfigError(`unknown option ${name} (see 'moltstack help')`);
    if (booleanFlags.has(key)) {
      out[key] = eq > 0 ? truthy(arg.slice(eq + 1)) : true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value.startsWith("--")) throw new ConfigError(`option ${name} needs a value`);
    out[key] = value;
  }
  return out;
}

export function loadConfig(argv: string[] = [], env: Record<string, string | undefined> = process.env): Config {
  const given = parseFlags(argv);
  const pick = (key: keyof typeof flags) => {
    if (given[key] !== undefined) return given[key];
    const v = env[flags[key].env];
    if (v === undefined || v === "") return undefined;
    return booleanFlags.has(key) ? truthy(v) : v;
  };
  const limits: Record<string, string | undefined> = {};
  for (const [key, name] of Object.entries(limitEnv)) {
    const former = formerLimitEnv[key as keyof Limits];
    limits[key] = env[name] || (former ? env[former] : undefined) || undefined;
  }

  const parsed = configSchema.safeParse({
    host: pick("host"),
    port: pick("port"),
    dataDir: pick("dataDir"),
    databaseUrl: pick("databaseUrl"),
    redisUrl: pick("redisUrl"),
    redisPrefix: env.MOLTSTACK_REDIS_PREFIX || undefined,
    publicUrl: pick("publicUrl"),
    trustProxy: pick("trustProxy"),
    reusePort: pick("reusePort"),
    jwtSecret: env.MOLTSTACK_JWT_SECRET || undefined,
    allowPrivateWebhooks: truthy(env.MOLTSTACK_ALLOW_PRIVATE_WEBHOOKS),
    webhookRetryBaseMs: env.MOLTSTACK_WEBHOOK_RETRY_BASE_MS || undefined,
    webhookWakeWindowSeconds: env.MOLTSTACK_WEBHOOK_WAKE_WINDOW_SECONDS || undefined,
    logRequests: truthy(env.MOLTSTACK_LOG_REQUESTS),
    countRoundTrips: truthy(env.MOLTSTACK_COUNT_ROUND_TRIPS),
    readModelMegabytes: env.MOLTSTACK_READ_MODEL_MB || undefined,
    limits,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.join(".");
    const where = path.startsWith("limits.")
      ? limitName(path.slice(7) as keyof Limits, env)
      : (flags as Record<string, { flag: string; env: string }>)[path]
        ? `${(flags as any)[path].flag} / ${(flags as any)[path].env}`
        : path === "jwtSecret"
          ? "MOLTSTACK_JWT_SECRET"
          : path;
    throw new ConfigError(`invalid ${where}: ${issue.message}`);
  }
  const config = parsed.data;
  const mode = config.databaseUrl ? "postgres+redis" : "embedded";
  if (config.databaseUrl && !config.jwtSecret) {
    throw new ConfigError("MOLTSTACK_JWT_SECRET is required with --database-url (all instances must share it)");
  }
  return { ...config, mode };
}

/** What `moltstack agent` reads besides its own flags: the server, the profile, and where keys and tokens live. */
export type AgentSettings = { serverUrl: string; profile: string; configDir: string };

/**
 * `--server` / `MOLTSTACK_URL` (default http://127.0.0.1:3000), `--profile` / `MOLTSTACK_PROFILE` (default
 * `default`), and the config directory: `$XDG_CONFIG_HOME/moltstack`, else `~/.config/moltstack`.
 */
export function agentSettings(
  given: { server?: string; profile?: string },
  env: Record<string, string | undefined> = process.env,
): AgentSettings {
  const server = given.server ?? (env.MOLTSTACK_URL || "http://127.0.0.1:3000");
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ConfigError(`invalid --server / MOLTSTACK_URL: ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ConfigError("invalid --server / MOLTSTACK_URL: must be an http(s) URL");
  const profile = given.profile ?? (env.MOLTSTACK_PROFILE || "default");
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(profile) || profile.startsWith(".")) {
    throw new ConfigError("invalid --profile / MOLTSTACK_PROFILE: 1-64 characters of letters, digits, _ - and . (not first)");
  }
  const xdg = env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : undefined;
  const home = env.HOME || homedir();
  return { serverUrl: url.origin, profile, configDir: join(xdg ?? join(home, ".config"), "moltstack") };
}
