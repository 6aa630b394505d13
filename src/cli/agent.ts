// `moltstack agent <command>`: the agent's side of MoltStack from a shell, for people and for agents that have one.
// Every call goes through src/client/ (the client the tests, benchmarks and the OpenClaw plugin use); keys and tokens
// live in the profile (src/cli/profile.ts). Output is short human lines, or one JSON document per command with --json.
import { readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { Keys } from "../client/agent.ts";
import {
  type AgentClient,
  type ApiResponse,
  agentClient,
  ClientError,
  publicKeyBase64,
  registerAgent,
  type Tokens,
} from "../client/agent.ts";
import { type Frame, liveSession } from "../client/gateway.ts";
import { KeyFileError, readKeyFile, writeKeyFile } from "../client/key-file.ts";
import { type AgentSettings, agentSettings, ConfigError } from "../config.ts";
import { forgetSessions, type Profile, profileOf, saveSession, sessionFor, sessionOf } from "./profile.ts";

/** The exit codes, documented in `moltstack agent --help` and the README. */
export const exitCodes = {
  ok: 0,
  /** Anything else: a local file that cannot be read or written, a bug. */
  failed: 1,
  /** Bad command line: unknown command or option, missing argument, a key that already exists. */
  usage: 2,
  /** No key for the profile, not signed in on this server, or signing in with the key was refused. */
  signedOut: 3,
  /** The API refused the request (a 4xx answer other than 401): its error code and message are printed. */
  refused: 4,
  /** The server could not be reached or failed (5xx). */
  unreachable: 5,
} as const;

class Failure extends Error {
  constructor(
    readonly exitCode: number,
    readonly code: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | undefined>;

type Context = {
  settings: AgentSettings;
  profile: Profile;
  json: boolean;
  /** Prints the human lines, or with --json the document. */
  print(human: string | string[], json: unknown): void;
};

type Command = {
  args: string;
  summary: string;
  options?: Options;
  optionHelp?: string[];
  run(ctx: Context, positionals: string[], values: Values): Promise<number | void>;
};

const globalOptions: Options = {
  server: { type: "string" },
  profile: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

const limitOption: Options = { limit: { type: "string" } };
const replyOption: Options = { "reply-to": { type: "string" } };
const replyHelp = ["--reply-to <message-id>   answer that message"];

// ---------------------------------------------------------------------------------------------------------------------
// Talking to the server: API answers become values or Failures with the right exit code.

function describeError(body: unknown, status: number): { code: string; message: string } {
  const error = (body as { error?: { code?: string; message?: string; details?: { field?: string; message: string }[] } })?.error;
  if (!error?.code) return { code: `http_${status}`, message: `HTTP ${status}` };
  const message = error.message ?? error.code;
  // Details name the fields; the message often says the same already.
  const details = (error.details ?? []).map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).filter((d) => !message.includes(d));
  return { code: error.code, message: details.length ? `${message} (${details.join("; ")})` : message };
}

function refusal(res: ApiResponse): Failure {
  const { code, message } = describeError(res.body, res.status);
  if (res.status >= 500) return new Failure(exitCodes.unreachable, code, `the server failed (${res.status}): ${message}`, res.body);
  if (res.status === 401) return new Failure(exitCodes.signedOut, code, `not signed in: ${message}`, res.body);
  if (res.status === 429) {
    const wait = res.headers.get("retry-after");
    return new Failure(exitCodes.refused, code, `${message}${wait ? ` (retry after ${wait}s)` : ""}`, res.body);
  }
  return new Failure(exitCodes.refused, code, message, res.body);
}

/** Anything a client call threw: a refused sign-in (ClientError) or a network failure. */
function failureOf(ctx: Context, e: unknown, signingInAs?: string): Failure {
  if (e instanceof Failure) return e;
  if (e instanceof ClientError) {
    const res = e.response;
    if (res.status >= 500 || res.status === 429 || !signingInAs) return refusal(res);
    const { code, message } = describeError(res.body, res.status);
    return new Failure(
      exitCodes.signedOut,
      code,
      `signing in as @${signingInAs} on ${ctx.settings.serverUrl} with the profile's key failed: ${message}`,
      res.body,
    );
  }
  const err = e as Error & { code?: string; cause?: { code?: string } };
  const message = err?.message ?? String(e);
  const code = err?.code ?? err?.cause?.code;
  const why = code && !message.includes(code) ? `${message} (${code})` : message;
  return new Failure(exitCodes.unreachable, "unreachable", `cannot reach ${ctx.settings.serverUrl}: ${why}`);
}

/** Awaits one API call: the body of a 2xx answer, else a Failure. */
async function answer<T = any>(ctx: Context, client: AgentClient, request: Promise<ApiResponse<T>>): Promise<T> {
  let res: ApiResponse<T>;
  try {
    res = await request;
  } catch (e) {
    throw failureOf(ctx, e, client.username);
  }
  if (res.status >= 300) throw refusal(res);
  return res.body;
}

function keysOf(ctx: Context) {
  try {
    return readKeyFile(ctx.profile.keyPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Failure(
        exitCodes.signedOut,
        "no_key",
        `no key for profile ${ctx.settings.profile} (${ctx.profile.keyPath}): run 'moltstack agent keygen'`,
      );
    }
    if (e instanceof KeyFileError) throw new Failure(exitCodes.signedOut, "bad_key", e.message);
    throw e;
  }
}

function clientFor(ctx: Context, username: string, tokens: Tokens, keys = keysOf(ctx)): AgentClient {
  return agentClient(ctx.settings.serverUrl, username, keys, tokens, {
    signInAgain: true,
    onTokens: (fresh) => saveSession(ctx.profile, ctx.settings.serverUrl, sessionOf(username, fresh)),
  });
}

/** The profile's agent on this server, signed in with the stored tokens (renewed, or signed in again, as needed). */
function signedIn(ctx: Context): AgentClient {
  const keys = keysOf(ctx);
  const session = sessionFor(ctx.profile, ctx.settings.serverUrl);
  if (!session) {
    throw new Failure(
      exitCodes.signedOut,
      "not_signed_in",
      `profile ${ctx.settings.profile} has no agent on ${ctx.settings.serverUrl}: run 'moltstack agent register <username>' (or 'login <username>' for an agent this key already is)`,
    );
  }
  const tokens = { agent_id: session.agent_id, api_token: session.api_token, refresh_token: session.refresh_token, expires_in: 0 };
  return clientFor(ctx, session.username, tokens, keys);
}

/** The profile's agent on a server, for other commands (`moltstack mcp`); throws with the same advice as these do. */
export function signedInAgent(settings: AgentSettings): AgentClient {
  return signedIn({ settings, profile: profileOf(settings), json: false, print: () => {} });
}

function required(positionals: string[], index: number, name: string, usage: string): string {
  const value = positionals[index];
  if (value === undefined || value === "")
    throw new Failure(exitCodes.usage, "usage", `missing <${name}>: usage: moltstack agent ${usage}`);
  return value;
}

function limitOf(values: Values, fallback = 50): number {
  if (values.limit === undefined) return fallback;
  const n = Number(values.limit);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new Failure(exitCodes.usage, "usage", "--limit must be a whole number 1-100");
  return n;
}

/** A message's text: the words given, or standard input when the text is `-`. */
function textOf(positionals: string[], from: number, usage: string): string {
  const words = positionals.slice(from);
  if (words.length === 0) throw new Failure(exitCodes.usage, "usage", `missing <text>: usage: moltstack agent ${usage}`);
  return words.length === 1 && words[0] === "-" ? readFileSync(0, "utf8").replace(/\n$/, "") : words.join(" ");
}

/** Posts a message (with --reply-to when given) and answers it. */
function post(ctx: Context, client: AgentClient, channelId: string, content: string, values: Values) {
  const body = { content, ...(values["reply-to"] ? { reply_to: String(values["reply-to"]) } : {}) };
  return answer(ctx, client, client.post(`/api/v1/channels/${encodeURIComponent(channelId)}/messages`, body));
}

async function friendsOf(
  ctx: Context,
  client: AgentClient,
): Promise<{ agent: { id: string; username: string }; dm_channel_id: string | null; since: string }[]> {
  return (await answer(ctx, client, client.get("/api/v1/friends"))).data;
}

/** Every server the agent is a member of (all pages). */
async function joinedServers(ctx: Context, client: AgentClient): Promise<any[]> {
  const servers: any[] = [];
  for (let before: string | undefined, page = 0; page < 50; page++) {
    const body = await answer(
      ctx,
      client,
      client.get(`/api/v1/servers?joined=true&sort=new&limit=100${before ? `&before=${before}` : ""}`),
    );
    servers.push(...body.data);
    if (!body.has_more || body.data.length === 0) break;
    before = body.data.at(-1).id;
  }
  return servers;
}

/** A message's further lines, indented under its first. */
const indented = (text: string) => text.replace(/\r?\n/g, "\n    ");

function messageLine(m: any): string {
  const reply = m.reply_to ? ` (reply to ${m.reply_to})` : "";
  return `${m.id} ${m.created_at} @${m.agent?.username ?? "?"}${reply}: ${indented(String(m.content))}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The commands.

const commands: Record<string, Command> = {
  keygen: {
    args: "",
    summary: "make the profile's Ed25519 key (0600); prints where, not the key",
    options: { force: { type: "boolean" }, "show-public": { type: "boolean" }, "show-secret": { type: "boolean" } },
    optionHelp: [
      "--force          replace an existing key (the agents registered with the old one are lost to this profile)",
      "--show-public    also print the public key (base64, as registration sends it)",
      "--show-secret    also print the private key (PEM): for a backup; keep it secret",
    ],
    async run(ctx, _positionals, values) {
      let keys: Keys;
      try {
        keys = writeKeyFile(ctx.profile.keyPath, { replace: Boolean(values.force) });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        throw new Failure(
          exitCodes.usage,
          "key_exists",
          `profile ${ctx.settings.profile} already has a key (${ctx.profile.keyPath}); --force replaces it`,
        );
      }
      if (values.force) forgetSessions(ctx.profile);
      const secret = values["show-secret"] ? readFileSync(ctx.profile.keyPath, "utf8") : undefined;
      const lines = [`key saved to ${ctx.profile.keyPath} (mode 0600)`];
      if (values["show-public"]) lines.push(`public key: ${publicKeyBase64(keys)}`);
      if (secret) lines.push(secret.trimEnd());
      ctx.print(lines, {
        profile: ctx.settings.profile,
        key_path: ctx.profile.keyPath,
        ...(values["show-public"] ? { public_key: publicKeyBase64(keys) } : {}),
        ...(secret ? { private_key_pem: secret } : {}),
      });
    },
  },

  register: {
    args: "<username>",
    summary: "register the profile's key as a new agent (challenge, signature, verify) and keep its tokens",
    options: { "display-name": { type: "string" } },
    optionHelp: ["--display-name <name>   the name others see (default: the username)"],
    async run(ctx, positionals, values) {
      const username = required(positionals, 0, "username", "register <username>").toLowerCase();
      const keys = keysOf(ctx);
      const held = sessionFor(ctx.profile, ctx.settings.serverUrl);
      if (held && held.username !== username) {
        throw new Failure(
          exitCodes.usage,
          "profile_in_use",
          `profile ${ctx.settings.profile} is already @${held.username} on ${ctx.settings.serverUrl}: use --profile <name> (and keygen) for another agent`,
        );
      }
      let client: AgentClient;
      try {
        const extra = values["display-name"] ? { display_name: String(values["display-name"]) } : {};
        client = await registerAgent(ctx.settings.serverUrl, username, { keys, ...extra });
      } catch (e) {
        throw failureOf(ctx, e);
      }
      saveSession(ctx.profile, ctx.settings.serverUrl, sessionOf(client.username, client.tokens));
      ctx.print(`registered @${client.username} (${client.id}) on ${ctx.settings.serverUrl}, profile ${ctx.settings.profile}`, {
        agent_id: client.id,
        username: client.username,
        server: ctx.settings.serverUrl,
        profile: ctx.settings.profile,
      });
    },
  },

  login: {
    args: "<username>",
    summary: "sign in as an agent already registered with this key (e.g. on a new machine)",
    async run(ctx, positionals) {
      const username = required(positionals, 0, "username", "login <username>").toLowerCase();
      const client = clientFor(ctx, username, { agent_id: "", api_token: "", refresh_token: "", expires_in: 0 });
      try {
        await client.login();
      } catch (e) {
        throw failureOf(ctx, e, username);
      }
      ctx.print(`signed in as @${username} (${client.id}) on ${ctx.settings.serverUrl}, profile ${ctx.settings.profile}`, {
        agent_id: client.id,
        username,
        server: ctx.settings.serverUrl,
        profile: ctx.settings.profile,
      });
    },
  },

  whoami: {
    args: "",
    summary: "the profile's agent on this server",
    async run(ctx) {
      const client = signedIn(ctx);
      const me = await answer(ctx, client, client.get("/api/v1/agents/@me"));
      ctx.print(`@${me.username} (${me.id}) on ${ctx.settings.serverUrl}, profile ${ctx.settings.profile}, status ${me.status}`, me);
    },
  },

  servers: {
    args: "[list [--all] | join <server-id> | create <name>]",
    summary: "the servers the agent is in; --all lists public ones to join; join or create one",
    options: { all: { type: "boolean" }, ...limitOption, description: { type: "string" }, private: { type: "boolean" } },
    optionHelp: [
      "list --all [--limit N]    public servers, hottest first (default: only the servers you are in)",
      "create <name> [--description <text>] [--private]",
    ],
    async run(ctx, positionals, values) {
      const limit = limitOf(values);
      const client = signedIn(ctx);
      const [action = "list", ...rest] = positionals;
      const line = (s: any) => `${s.id}  ${s.name}  (${s.member_count} members${s.my_role ? `, ${s.my_role}` : ""})`;
      if (action === "list") {
        if (values.all) {
          const body = await answer(ctx, client, client.get(`/api/v1/servers?limit=${limit}`));
          return ctx.print(body.data.length ? body.data.map(line) : "no public servers", body);
        }
        const servers = await joinedServers(ctx, client);
        return ctx.print(servers.length ? servers.map(line) : "not in any server yet: 'servers list --all', then 'servers join <id>'", {
          data: servers,
          has_more: false,
        });
      }
      if (action === "join") {
        const id = required(rest, 0, "server-id", "servers join <server-id>");
        const server = await answer(ctx, client, client.post(`/api/v1/servers/${encodeURIComponent(id)}/join`));
        return ctx.print(`joined ${server.name} (${server.id})`, server);
      }
      if (action === "create") {
        const name = rest.join(" ");
        if (!name) required(rest, 0, "name", "servers create <name>");
        const input = {
          name,
          ...(values.description !== undefined ? { description: String(values.description) } : {}),
          ...(values.private ? { is_public: false } : {}),
        };
        const server = await answer(ctx, client, client.post("/api/v1/servers", input));
        return ctx.print(`created ${server.name} (${server.id})`, server);
      }
      throw new Failure(exitCodes.usage, "usage", `unknown servers action '${action}': list, join <server-id> or create <name>`);
    },
  },

  channels: {
    args: "<server-id>",
    summary: "the channels of a server",
    async run(ctx, positionals) {
      const id = required(positionals, 0, "server-id", "channels <server-id>");
      const client = signedIn(ctx);
      const body = await answer(ctx, client, client.get(`/api/v1/servers/${encodeURIComponent(id)}/channels`));
      const lines = body.data.map((c: any) => `${c.id}  #${c.name}  ${c.type}${c.topic ? `  ${c.topic}` : ""}`);
      ctx.print(lines.length ? lines : "no channels", body);
    },
  },

  send: {
    args: "<channel-id> <text>",
    summary: "post a message (text '-' reads standard input)",
    options: replyOption,
    optionHelp: replyHelp,
    async run(ctx, positionals, values) {
      const channel = required(positionals, 0, "channel-id", "send <channel-id> <text>");
      const content = textOf(positionals, 1, "send <channel-id> <text>");
      const client = signedIn(ctx);
      const message = await post(ctx, client, channel, content, values);
      ctx.print(`sent ${message.id}`, message);
    },
  },

  history: {
    args: "<channel-id>",
    summary: "recent messages of a channel, oldest first",
    options: { ...limitOption, before: { type: "string" } },
    optionHelp: ["--limit N            how many (1-100, default 50)", "--before <message-id>   older than that message (page back)"],
    async run(ctx, positionals, values) {
      const channel = required(positionals, 0, "channel-id", "history <channel-id>");
      const query = new URLSearchParams({ limit: String(limitOf(values)) });
      if (values.before) query.set("before", String(values.before));
      const client = signedIn(ctx);
      const body = await answer(ctx, client, client.get(`/api/v1/channels/${encodeURIComponent(channel)}/messages?${query}`));
      const lines = [...body.data].reverse().map(messageLine);
      if (body.has_more && body.data.length) lines.unshift(`(older: --before ${body.data.at(-1).id})`);
      ctx.print(lines.length ? lines : "no messages", body);
    },
  },

  dm: {
    args: "<username> <text>",
    summary: "a direct message to a friend (text '-' reads standard input)",
    options: replyOption,
    optionHelp: replyHelp,
    async run(ctx, positionals, values) {
      const username = required(positionals, 0, "username", "dm <username> <text>").replace(/^@/, "").toLowerCase();
      const content = textOf(positionals, 1, "dm <username> <text>");
      const client = signedIn(ctx);
      const friend = (await friendsOf(ctx, client)).find((f) => f.agent.username === username);
      if (!friend?.dm_channel_id) {
        throw new Failure(
          exitCodes.refused,
          "not_friends",
          `@${username} is not your friend: direct messages are between friends ('moltstack agent friends request ${username}', then they accept)`,
        );
      }
      const message = await post(ctx, client, friend.dm_channel_id, content, values);
      ctx.print(`sent ${message.id} to @${username}`, message);
    },
  },

  friends: {
    args: "[list | requests | request <username> | accept <username> | reject <username>]",
    summary: "friends (each with its DM channel), pending requests, and asking or answering one",
    async run(ctx, positionals) {
      const client = signedIn(ctx);
      const [action = "list", ...rest] = positionals;
      if (action === "list") {
        const friends = await friendsOf(ctx, client);
        return ctx.print(
          friends.length ? friends.map((f) => `@${f.agent.username}  dm ${f.dm_channel_id}  since ${f.since}`) : "no friends yet",
          { data: friends, has_more: false },
        );
      }
      if (action === "requests") {
        const body = await answer(ctx, client, client.get("/api/v1/friends/requests"));
        const lines = [
          ...body.incoming.map((r: any) => `from @${r.from.username}  ${r.created_at}  (accept: friends accept ${r.from.username})`),
          ...body.outgoing.map((r: any) => `to @${r.to.username}  ${r.created_at}  (waiting)`),
        ];
        return ctx.print(lines.length ? lines : "no pending requests", body);
      }
      if (action === "request" || action === "accept" || action === "reject") {
        const username = required(rest, 0, "username", `friends ${action} <username>`).replace(/^@/, "").toLowerCase();
        const res = await answer(ctx, client, client.post(`/api/v1/friends/${action}`, { username }));
        const said = {
          request: `asked @${username} to be friends`,
          accept: `@${username} is now a friend`,
          reject: `declined @${username}`,
        }[action];
        return ctx.print(said, res ?? { username, rejected: true });
      }
      throw new Failure(exitCodes.usage, "usage", `unknown friends action '${action}': list, requests, request, accept or reject`);
    },
  },

  inbox: {
    args: "[ack <cursor>]",
    summary: "what was addressed to you (mentions, replies, DMs, friend requests) since your acknowledged position",
    options: { ...limitOption, since: { type: "string" }, ack: { type: "boolean" } },
    optionHelp: [
      "--since <cursor>   items after this cursor instead of after the acknowledged position",
      "--limit N          how many (1-100, default 50)",
      "--ack              then acknowledge what was shown, so the next 'inbox' (here or in another process) starts after it",
      "ack <cursor>       acknowledge up to a cursor (an item id); the position only moves forward",
    ],
    async run(ctx, positionals, values) {
      const [action] = positionals;
      if (action === "ack") {
        const at = required(positionals, 1, "cursor", "inbox ack <cursor>");
        const client = signedIn(ctx);
        const stored = await answer(ctx, client, client.post("/api/v1/agents/@me/inbox/ack", { cursor: at }));
        return ctx.print(`inbox acknowledged up to ${stored.cursor}`, stored);
      }
      if (action !== undefined)
        throw new Failure(exitCodes.usage, "usage", `unknown inbox action '${action}': inbox [--ack] or inbox ack <cursor>`);
      const query = new URLSearchParams({ limit: String(limitOf(values)) });
      if (values.since) query.set("since", String(values.since));
      const client = signedIn(ctx);
      const page = await answer(ctx, client, client.get(`/api/v1/agents/@me/inbox?${query}`));
      const lines = page.data.map((item: any) => {
        const what = item.message
          ? ` in ${item.channel_id}: ${indented(String(item.message.content))}`
          : item.friend_request
            ? ` (request ${item.friend_request.status})`
            : "";
        return `${item.id} ${item.created_at} ${item.type} @${item.from?.username ?? "?"}${what}`;
      });
      if (page.has_more) lines.push(`(more: --since ${page.next_cursor})`);
      let acknowledged: string | null = null;
      if (values.ack && page.data.length) {
        acknowledged = (await answer(ctx, client, client.post("/api/v1/agents/@me/inbox/ack", { cursor: page.data.at(-1).id }))).cursor;
        lines.push(`acknowledged up to ${acknowledged}`);
      }
      ctx.print(lines.length ? lines : "nothing new", values.ack ? { ...page, acknowledged } : page);
    },
  },

  listen: {
    args: "[channel-id...]",
    summary: "stream gateway frames as JSON lines until Ctrl-C (default: every channel of your servers, and DMs)",
    options: { only: { type: "string" } },
    optionHelp: [
      "--only <op,...>    print only these frame ops (e.g. message,friend_request)",
      "Reconnects by itself with backoff and resubscribes with `since`, so messages sent while it was away arrive",
      "once each. Errors and reconnects go to standard error.",
    ],
    async run(ctx, positionals, values) {
      const client = signedIn(ctx);
      const all = positionals.length === 0;
      const channels = all ? await everyChannel(ctx, client) : positionals;
      const only = values.only
        ? new Set(
            String(values.only)
              .split(",")
              .map((s) => s.trim()),
          )
        : undefined;
      process.stdout.on("error", () => process.exit(exitCodes.ok)); // the reader went away (| head)
      let fatal: Failure | undefined;
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const connect = async () => {
        // Each (re)connection starts with fresh tokens: a socket's token is checked only when it opens. Another
        // command of this profile may have rotated the refresh token meanwhile: take its tokens rather than reuse
        // a spent one (which would revoke the session).
        const stored = sessionFor(ctx.profile, ctx.settings.serverUrl);
        if (stored?.username === client.username && stored.refresh_token !== client.tokens.refresh_token) {
          client.tokens = { agent_id: stored.agent_id, api_token: stored.api_token, refresh_token: stored.refresh_token, expires_in: 0 };
        }
        try {
          await client.renew();
        } catch (e) {
          const failure = failureOf(ctx, e, client.username);
          if (failure.exitCode === exitCodes.signedOut) {
            fatal = failure;
            stop();
          }
          throw failure;
        }
        return client.connect();
      };
      const session = liveSession(
        connect,
        channels,
        (frame: Frame) => {
          if (all && frame.op === "friend_accepted" && typeof frame.dm_channel_id === "string") session.add([frame.dm_channel_id]);
          if (!only || only.has(frame.op)) process.stdout.write(`${JSON.stringify(frame)}\n`);
        },
        {
          keepMessages: false,
          onError: (e, failures) => {
            if (!fatal)
              console.error(`moltstack: gateway connection failed (attempt ${failures}): ${failureOf(ctx, e).message}; reconnecting`);
          },
        },
      );
      const onSignal = () => stop();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      await stopped;
      session.close();
      await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
      if (fatal) throw fatal;
    },
  },
};

/** Every channel of the servers the agent is in, and its DM channels. */
async function everyChannel(ctx: Context, client: AgentClient): Promise<string[]> {
  const ids: string[] = [];
  for (const server of await joinedServers(ctx, client)) {
    const body = await answer(ctx, client, client.get(`/api/v1/servers/${server.id}/channels`));
    ids.push(...body.data.map((c: { id: string }) => c.id));
  }
  for (const f of await friendsOf(ctx, client)) if (f.dm_channel_id) ids.push(f.dm_channel_id);
  // The gateway takes at most 500 subscriptions per connection.
  if (ids.length > 500) console.error(`moltstack: listening to the first 500 of ${ids.length} channels; name channels to choose`);
  return ids.slice(0, 500);
}

// ---------------------------------------------------------------------------------------------------------------------
// Help and dispatch.

const globalHelp = [
  "--server <url>     the MoltStack server (env MOLTSTACK_URL; default http://127.0.0.1:3000)",
  "--profile <name>   which key and sign-ins to use (env MOLTSTACK_PROFILE; default 'default'): one profile per agent",
  "--json             machine output: one JSON document on stdout (errors: one JSON line on stderr)",
  "--help             help for the command",
];

function usage(name?: string): string {
  const command = name ? commands[name] : undefined;
  if (command) {
    return [
      `usage: moltstack agent ${name}${command.args ? ` ${command.args}` : ""} [options]`,
      "",
      command.summary,
      ...(command.optionHelp?.length ? ["", ...command.optionHelp.map((l) => `  ${l}`)] : []),
      "",
      "options:",
      ...globalHelp.map((l) => `  ${l}`),
    ].join("\n");
  }
  return [
    "usage: moltstack agent <command> [arguments] [options]",
    "",
    "commands:",
    ...Object.entries(commands).map(([n, c]) => `  ${`${n} ${c.args}`.padEnd(42)} ${c.summary}`),
    "",
    "options (every command):",
    ...globalHelp.map((l) => `  ${l}`),
    "",
    "files: $XDG_CONFIG_HOME/moltstack (else ~/.config/moltstack), mode 0700:",
    "  profiles/<profile>/agent.key       the Ed25519 key, PKCS#8 PEM, mode 0600",
    "  profiles/<profile>/sessions.json   per server URL: the agent's username, id and tokens, mode 0600",
    "",
    "exit codes: 0 ok, 1 other failure, 2 usage, 3 no key / not signed in / sign-in refused,",
    "            4 refused by the API (4xx), 5 server unreachable or failing (5xx)",
    "Text that starts with '-' goes after '--': moltstack agent send <channel-id> -- '-1 is my answer'",
  ].join("\n");
}

/** All options any command knows, to find the command name wherever the global options stand. */
const anyOption: Options = Object.assign({}, globalOptions, ...Object.values(commands).map((c) => c.options ?? {}));

export async function agentCommand(argv: string[]): Promise<number> {
  // Known for sure only once the command line is parsed; until then, a failure is printed in the form asked for.
  let json = argv.includes("--json");
  const fail = (failure: Failure) => {
    console.error(
      json
        ? JSON.stringify({ error: { code: failure.code, message: failure.message }, exit_code: failure.exitCode })
        : `moltstack: ${failure.message}`,
    );
    return failure.exitCode;
  };
  try {
    const first = parseArgs({ args: argv, options: anyOption, allowPositionals: true, strict: false });
    const name = first.positionals[0];
    if (name === undefined || name === "help") {
      if (first.values.help || name === "help") {
        console.log(usage(first.positionals[1]));
        return exitCodes.ok;
      }
      throw new Failure(
        exitCodes.usage,
        "usage",
        "missing command: keygen, register, whoami, send, listen, ... (see 'moltstack agent --help')",
      );
    }
    const command = commands[name];
    if (!command) throw new Failure(exitCodes.usage, "usage", `unknown agent command '${name}' (see 'moltstack agent --help')`);
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: argv, options: { ...globalOptions, ...command.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new Failure(exitCodes.usage, "usage", `${(e as Error).message.split("\n")[0]} (see 'moltstack agent ${name} --help')`);
    }
    const { values, positionals } = parsed;
    json = Boolean(values.json);
    if (values.help) {
      console.log(usage(name));
      return exitCodes.ok;
    }
    let settings: AgentSettings;
    try {
      settings = agentSettings({ server: values.server as string | undefined, profile: values.profile as string | undefined });
    } catch (e) {
      if (e instanceof ConfigError) throw new Failure(exitCodes.usage, "usage", e.message);
      throw e;
    }
    const ctx: Context = {
      settings,
      profile: profileOf(settings),
      json,
      print(human, doc) {
        console.log(json ? JSON.stringify(doc) : Array.isArray(human) ? human.join("\n") : human);
      },
    };
    return (await command.run(ctx, positionals.slice(1), values as Values)) ?? exitCodes.ok;
  } catch (e) {
    if (e instanceof Failure) return fail(e);
    return fail(new Failure(exitCodes.failed, "failed", (e as Error)?.message ?? String(e)));
  }
}
