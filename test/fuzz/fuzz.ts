// Property-based fuzzing of the whole API and the gateway, driven by their own descriptions: every operation of
// /api/v1/openapi.json and every client op of /api/v1/gateway.json gets generated requests and frames (valid-ish ones
// from the schemas, hostile ones of every kind) from an owner, a non-member, an observer, anonymous callers and
// callers with broken credentials. Whatever is sent, the server must answer within 10 s, never with a 5xx, always in
// the one error shape, never with a stack trace or SQL, and stay up. `bun run fuzz` (test/fuzz/main.ts) runs it at
// length; test/fuzz.test.ts runs a small share of it in the suite.
import fc from "fast-check";
import { type AgentClient, newKeys, publicKeyBase64 } from "../../src/client/agent.ts";
import { type Frame, type GatewaySocket, openSocket, wsUrl } from "../../src/client/gateway.ts";
import { errorCodes } from "../../src/errors.ts";
import { maxFrameBytes, serverFrame } from "../../src/wire.ts";
import { type TestServer, testServer, uniqueName } from "../helpers.ts";
import {
  anyJson,
  anyText,
  deepNesting,
  fromSchema,
  type JsonSchema,
  nastyString,
  nastyStrings,
  notUtf8,
  Ref,
  ref,
  spoiled,
  wrongType,
} from "./arbitraries.ts";

/** Every request and every frame is answered within this, or it is a hang. */
export const answerWithinMs = 10_000;

export type FuzzOptions = {
  /** Generated requests per API operation. */
  runs: number;
  /** Generated frames per client op of the gateway. */
  wsRuns: number;
  seed: number;
  /** Requests (or frames) per batch: the world is healed and /healthz asked between batches. */
  batch?: number;
  /** Batches run at once. */
  workers?: number;
  /** Only operations whose `METHOD /path` contains this. */
  only?: string;
  log?: (line: string) => void;
};

export type Failure = { target: string; seed: number; batch: number; message: string; counterexample: string };
export type Totals = {
  target: string;
  requests: number;
  statuses: Map<string, number>;
  failures: number;
  ms: number;
  slowest: { ms: number; what: string };
};
export type FuzzReport = {
  seed: number;
  api: Totals[];
  ws: Totals[];
  failures: Failure[];
  serverLog: string[];
  healTroubles: string[];
  ms: number;
};

/** A fuzz server: the tests' own real server, with every limit far out of the fuzzer's way (429 stays acceptable). */
export function fuzzServer(): Promise<TestServer> {
  const high = "1000000000";
  return testServer({
    env: {
      MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR: high,
      MOLTSTACK_LIMIT_API_PER_MINUTE: high,
      MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: high,
      MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: high,
      MOLTSTACK_LIMIT_FRIEND_REQUESTS_PER_HOUR: high,
      MOLTSTACK_LIMIT_SERVERS_PER_DAY: high,
      MOLTSTACK_LIMIT_CHANNELS_PER_SERVER: "100000",
    },
  });
}

// ---- the world: real objects whose ids the fuzzer fills in, kept alive between batches

type Pools = Record<string, string[]>;

export type World = {
  server: TestServer;
  alice: AgentClient;
  bob: AgentClient;
  carol: AgentClient;
  observerToken: string;
  apiKey: string;
  pools: Pools;
  /** Puts back what the fuzzer broke (deleted the server, transferred it, banned bob, revoked the key, ...). */
  heal(): Promise<void>;
  /** Heals that gave up (the fuzzer kept deleting what they made): not failures of the server. */
  troubles: string[];
};

async function ok<T = any>(what: string, p: Promise<{ status: number; body: T }>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`fuzz world: ${what} answered ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
  return res.body;
}

export async function makeWorld(server: TestServer): Promise<World> {
  const [alice, bob, carol, dave, erin] = await Promise.all(["alice", "bob", "carol", "dave", "erin"].map((n) => server.agent(`fz_${n}`)));
  const pending = await ok<{ agent_id: string }>(
    "register a pending agent",
    server.call("POST", "/api/v1/agents/register", { username: uniqueName("fz_pending"), publicKey: publicKeyBase64(await newKeys()) }),
  );
  const email = `${uniqueName("fz")}@example.com`;
  await ok("observer register", server.call("POST", "/api/v1/observers/register", { email, password: "correct horse battery" }));
  const login = await ok<{ token: string }>(
    "observer login",
    server.call("POST", "/api/v1/observers/login", { email, password: "correct horse battery" }),
  );

  // bob's private server, with a channel and a message alice cannot see.
  const priv = await bob.createServer({ name: "fz private", is_public: false });
  const [privChannel] = (await ok<{ data: { id: string }[] }>("private channels", bob.get(`/api/v1/servers/${priv.id}/channels`))).data;
  const privMessage = await bob.send(privChannel.id, "private words");
  // alice and bob are friends: their DM channel.
  await ok("friend request", alice.post("/api/v1/friends/request", { username: bob.username }));
  await ok("friend accept", bob.post("/api/v1/friends/accept", { username: alice.username }));
  const friends = await ok<{ data: { dm_channel_id: string | null }[] }>("friends", alice.get("/api/v1/friends"));
  const dm = friends.data[0].dm_channel_id!;
  const dmMessage = await alice.send(dm, "hello friend");
  // Things that existed once.
  const gone = await alice.createServer({ name: "fz gone" });
  const [goneChannel] = (await ok<{ data: { id: string }[] }>("gone channels", alice.get(`/api/v1/servers/${gone.id}/channels`))).data;
  const goneMessage = await alice.send(goneChannel.id, "soon gone");
  await ok("delete gone message", alice.del(`/api/v1/messages/${goneMessage.id}`));
  await ok("delete gone server", alice.del(`/api/v1/servers/${gone.id}`));
  const bobKey = await ok<{ id: string }>("bob's api key", bob.post("/api/v1/agents/@me/api-keys", { name: "fz" }));

  const pools: Pools = {
    server: ["", priv.id, gone.id],
    channel: ["", "", dm, privChannel.id, goneChannel.id],
    message: ["", "", dmMessage.id, privMessage.id, goneMessage.id],
    apikey: ["", bobKey.id],
    username: [alice.username, bob.username, carol.username, dave.username, "nobody_here_at_all", pending.agent_id.slice(0, 8)],
    agent: [alice.id, bob.id, pending.agent_id],
    emoji: ["👍", "🎉", "❤️", "x"],
    refresh: [erin.tokens.refresh_token],
    cursor: [""],
    email: [email, "nobody@example.com"],
    password: ["correct horse battery", "wrong horse battery"],
  };
  const world: World = { server, alice, bob, carol, observerToken: login.token, apiKey: "", pools, heal: async () => {}, troubles: [] };

  let refreshedAt = Date.now();
  let healing: Promise<void> | undefined;
  const heal = async () => {
    // Agents' access tokens last 15 minutes (an observer's, 12 hours): long runs renew them.
    if (Date.now() - refreshedAt > 8 * 60_000) {
      for (const a of [alice, bob, carol]) await ok("refresh", a.refresh());
      refreshedAt = Date.now();
    }
    const [serverId] = pools.server;
    const current = serverId ? await alice.get(`/api/v1/servers/${serverId}`) : undefined;
    if (current?.status !== 200 || current.body.owner?.id !== alice.id) {
      const s = await alice.createServer({ name: "fz home", tags: ["fuzz"] });
      pools.server[0] = s.id;
    }
    const home = pools.server[0];
    await ok("alice's limits", alice.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 10000, webhook_url: null }));
    await alice.del(`/api/v1/blocks/${bob.username}`);
    await bob.del(`/api/v1/blocks/${alice.username}`);
    await alice.del(`/api/v1/servers/${home}/ban/${bob.username}`);
    await bob.post(`/api/v1/servers/${home}/join`);
    await carol.post(`/api/v1/servers/${home}/leave`);
    const channels = (await ok<{ data: { id: string; type: string }[] }>("channels", alice.get(`/api/v1/servers/${home}/channels`))).data;
    pools.channel[0] =
      channels.find((c) => c.type === "text")?.id ??
      (await ok<{ id: string }>("channel", alice.post(`/api/v1/servers/${home}/channels`, { name: "talk" }))).id;
    pools.channel[1] =
      channels.find((c) => c.type === "announcement")?.id ??
      (await ok<{ id: string }>("announcements", alice.post(`/api/v1/servers/${home}/channels`, { name: "news", type: "announcement" })))
        .id;
    pools.message[0] = (await alice.send(pools.channel[0], `hello @${bob.username}`)).id;
    const fromBob = await bob.post(`/api/v1/channels/${pools.channel[0]}/messages`, {
      content: `hi @${alice.username}`,
      reply_to: pools.message[0],
    });
    if (fromBob.status === 201) pools.message[1] = fromBob.body.id;
    await alice.post(`/api/v1/messages/${pools.message[0]}/react`, { emoji: "👍" });
    // bob's mention is in alice's inbox: its cursor is one to acknowledge.
    const inbox = await alice.get("/api/v1/agents/@me/inbox?limit=1");
    if (inbox.status === 200 && inbox.body.next_cursor) pools.cursor[0] = inbox.body.next_cursor;
    if (!world.apiKey || (await server.call("GET", "/api/v1/agents/@me", undefined, { token: world.apiKey })).status !== 200) {
      // At most 25 keys: the fuzzer makes many; the dead one is replaced by a fresh one.
      const keys = await ok<{ data: { id: string }[] }>("alice's api keys", alice.get("/api/v1/agents/@me/api-keys"));
      for (const k of keys.data) await alice.del(`/api/v1/agents/@me/api-keys/${k.id}`);
      const key = await ok<{ id: string; api_key: string }>("alice's api key", alice.post("/api/v1/agents/@me/api-keys", { name: "fz" }));
      world.apiKey = key.api_key;
      pools.apikey[0] = key.id;
    }
  };
  // Batches run side by side and may delete what a heal just made: it tries again, a few times, then lets the batch
  // run in whatever world there is (a heal that loses the race is not the server's failure; the report counts them).
  const healHard = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await heal();
      } catch (e) {
        if (attempt >= 10) {
          world.troubles.push((e as Error).message);
          return;
        }
        pools.server[0] = "";
        await Bun.sleep(50 * attempt);
      }
    }
  };
  // One heal at a time.
  world.heal = () => (healing = (healing ?? Promise.resolve()).catch(() => {}).then(healHard));
  await world.heal();
  return world;
}

/** The live value a Ref stands for; `\u0001kind:n` keys (ids as object keys) are resolved the same way. */
function pick(world: World, kind: string, n: number): string {
  const pool = world.pools[kind] ?? [""];
  return pool[n % pool.length] ?? "";
}

function live(world: World, v: unknown, depth = 0): unknown {
  if (v instanceof Ref) return pick(world, v.kind, v.n);
  if (depth > 40 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => live(world, x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: U+0001 marks a placeholder key the generator made
    const m = /^\u0001(\w+):(\d+)$/.exec(k);
    out[m ? pick(world, m[1], Number(m[2])) : k] = live(world, x, depth + 1);
  }
  return out;
}

/** Real values for the fields that name things in the world. */
const hint = (name: string | undefined, schema: JsonSchema = {}): fc.Arbitrary<unknown> | undefined => {
  switch (name === "since" && schema.type === "object" ? "since-map" : name) {
    case "username":
    case "friend":
      return ref("username");
    case "agent_id":
      return ref("agent");
    case "cursor":
    case "since":
      return fc.oneof(ref("cursor"), ref("message"));
    case "email":
      return ref("email");
    case "password":
      return ref("password");
    case "reply_to":
    case "before":
    case "after":
      return ref("message");
    case "channel":
      return ref("channel");
    case "channels":
      return fc.array(fc.oneof(ref("channel"), fc.uuid({ version: 7 })), { minLength: 1, maxLength: 4 });
    case "since-map":
      return fc
        .array(fc.tuple(fc.nat({ max: 9 }), fc.oneof(ref("message"), fc.uuid({ version: 7 }))), { maxLength: 3 })
        .map((pairs) => Object.fromEntries(pairs.map(([n, m]) => [`\u0001channel:${n}`, m])));
    case "refresh_token":
      return ref("refresh");
    case "emoji":
      return fc.oneof(ref("emoji"), fc.constantFrom("👍🏽", "🏳️‍🌈", "a", ":)", "\u200d"));
    case "publicKey":
    case "public_key":
      return fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("base64"));
    case "signed_challenge":
      return fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => Buffer.from(b).toString("base64"));
    case "content":
      return fc.oneof(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }),
        fc.constantFrom("@fz_alice hi", "@@", "@" + "a".repeat(40), "```\ncode\n```"),
      );
    default:
      return undefined;
  }
};

// ---- what a request is, as generated

type Param = { ref: Ref } | { text: string } | { raw: string };
type Body = { json: unknown } | { text: string } | { bytes: Uint8Array<ArrayBuffer> } | { none: true };
type Caller =
  | "owner"
  | "nonmember"
  | "anonymous"
  | "observer"
  | "apikey"
  | { header: string }
  | { forged: "none" | "tampered" | "extra" | "random" };
type FuzzRequest = {
  caller: Caller;
  params: Record<string, Param>;
  query: [string, unknown][];
  rawQuery: string;
  suffix: string;
  body: Body;
  contentType: string | null;
  idempotencyKey: string | null;
};

type Operation = { method: string; path: string; op: JsonSchema; agentOnly: boolean };

export function operationsOf(doc: JsonSchema): Operation[] {
  return Object.entries(doc.paths as Record<string, Record<string, JsonSchema>>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      op,
      agentOnly: JSON.stringify(op.security ?? []) === JSON.stringify([{ bearer: [] }]),
    })),
  );
}

const paramKind = (path: string, name: string) => {
  if (name === "username") return "username";
  if (name === "emoji") return "emoji";
  const before = path.split(`/{${name}}`)[0].split("/").pop();
  return before === "servers"
    ? "server"
    : before === "channels"
      ? "channel"
      : before === "messages"
        ? "message"
        : before === "api-keys"
          ? "apikey"
          : "channel";
};

const kinds = ["server", "channel", "message", "apikey", "username", "agent"];

const oddQueries = [
  "",
  "?",
  "?&&&",
  "?=",
  "?=x",
  "?limit",
  "?limit=",
  "?limit=1&limit=2",
  "?limit[]=1",
  "?limit[a]=1",
  "?%zz=1",
  "?limit=%zz",
  "?limit=%E0%A4%A",
  "?q=%00",
  "?q=%ED%A0%80",
  "?limit=1e309",
  "?limit=0x10",
  "?limit=%201",
  "?limit=-0",
  "?limit=%D9%A1%D9%A2",
  "?limit=99999999999999999999999",
  "?before=00000000-0000-0000-0000-000000000000",
  "?after=FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF",
  "?__proto__=1&constructor=x&hasOwnProperty=1",
  `?${"a=b&".repeat(2000)}`,
  `?q=${"x".repeat(10_000)}`,
  "?limit=1#fragment",
  "?sort=hot&sort=new&type=servers&type=agents",
  "?status=pending&status=dead",
  "?joined=true&joined=1",
];
const suffixes = ["", "", "", "", "/", "//", "/.", "/..", "%2F", ";x=1", "/%2e%2e", "?"];
const contentTypes = [
  "application/x-www-form-urlencoded",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/json; charset=latin1",
  "application/json; charset=utf-16",
  "application/merge-patch+json",
  "application/jsonx",
  "application/json\t",
  "*/*",
  "",
];
const badAuthHeaders = [
  "Bearer",
  "Bearer ",
  "Bearer garbage",
  "Basic dXNlcjpwYXNz",
  "Token abc",
  "bearer .",
  "Bearer ..",
  "Bearer a.b.c",
  "Bearer eyJhbGciOiJub25lIn0.e30.",
  `Bearer ${"a".repeat(5000)}`,
  "Bearer \u00e9\u00e8",
  "Bearer a b",
  "Bearer ms_live_notakey",
];

/** Header values must be ByteStrings without line breaks (fetch refuses anything else before sending). */
const headerSafe = (s: string) =>
  [...s]
    .map((c) => (c.charCodeAt(0) > 0xff || /[\r\n\0]/.test(c) ? "?" : c))
    .join("")
    .trim() || "x";

const b64url = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

function requestArbitrary(doc: JsonSchema, operation: Operation): fc.Arbitrary<FuzzRequest> {
  const ctx = { doc, hint };
  const parameters = (operation.op.parameters ?? []) as JsonSchema[];
  const pathParams = parameters.filter((p) => p.in === "path");
  const queryParams = parameters.filter((p) => p.in === "query");
  const schema = operation.op.requestBody?.content?.["application/json"]?.schema as JsonSchema | undefined;
  const canHaveBody = operation.method !== "GET" && operation.method !== "HEAD";

  const param = (p: JsonSchema): fc.Arbitrary<Param> => {
    const kind = paramKind(operation.path, p.name);
    return fc.oneof(
      { arbitrary: ref(kind).map((r) => ({ ref: r })), weight: 8 },
      {
        arbitrary: fc
          .constantFrom(...kinds)
          .chain((k) => ref(k))
          .map((r) => ({ ref: r })),
        weight: 2,
      },
      { arbitrary: fc.uuid({ version: [4, 7] }).map((text) => ({ text })), weight: 2 },
      { arbitrary: fromSchema(p.schema, ctx).map((v) => ({ text: String(v) })), weight: 2 },
      { arbitrary: nastyString.map((text) => ({ text })), weight: 3 },
      {
        arbitrary: fc
          .constantFrom(
            "%",
            "%zz",
            "%E0%A4%A",
            "%ED%A0%80",
            "%00",
            "..",
            ".",
            "%2e%2e",
            "%2F",
            "a%2Fb",
            "@me",
            "%40me",
            "+",
            "%20",
            "%FF%FE",
          )
          .map((raw) => ({ raw })),
        weight: 2,
      },
    );
  };
  const params = fc.record(Object.fromEntries(pathParams.map((p) => [p.name as string, param(p)]))) as fc.Arbitrary<Record<string, Param>>;

  const queryValue = (p: JsonSchema) =>
    fc.oneof(
      { arbitrary: fromSchema(p.schema, ctx, p.name), weight: 6 },
      { arbitrary: nastyString, weight: 2 },
      { arbitrary: wrongType(p.schema, ctx).map((v) => (typeof v === "object" ? JSON.stringify(v) : v)), weight: 1 },
    );
  const query = fc
    .tuple(...queryParams.map((p) => fc.option(queryValue(p), { freq: 2 }).map((v) => [p.name as string, v] as [string, unknown])))
    .map((pairs) => pairs.filter(([, v]) => v !== null));

  const body: fc.Arbitrary<Body> = !canHaveBody
    ? fc.constant({ none: true as const })
    : schema
      ? fc.oneof(
          { arbitrary: fromSchema(schema, ctx).map((json) => ({ json })), weight: 10 },
          { arbitrary: spoiled(schema, ctx).map((json) => ({ json })), weight: 6 },
          { arbitrary: wrongType(schema, ctx).map((json) => ({ json })), weight: 1 },
          { arbitrary: anyJson.map((json) => ({ json })), weight: 1 },
          { arbitrary: hostileText(fromSchema(schema, ctx)), weight: 4 },
          { arbitrary: notUtf8.map((bytes) => ({ bytes })), weight: 1 },
          { arbitrary: fc.constant({ none: true as const }), weight: 1 },
        )
      : fc.oneof(
          { arbitrary: fc.constant({ none: true as const }), weight: 8 },
          { arbitrary: anyJson.map((json) => ({ json })), weight: 1 },
          { arbitrary: hostileText(anyJson), weight: 1 },
          { arbitrary: notUtf8.map((bytes) => ({ bytes })), weight: 1 },
        );

  const caller: fc.Arbitrary<Caller> = fc.oneof(
    { arbitrary: fc.constant("owner" as const), weight: 8 },
    { arbitrary: fc.constant("nonmember" as const), weight: 4 },
    { arbitrary: fc.constant("anonymous" as const), weight: 3 },
    { arbitrary: fc.constant("observer" as const), weight: 1 },
    { arbitrary: fc.constant("apikey" as const), weight: 1 },
    {
      arbitrary: fc
        .oneof(
          fc.constantFrom(...badAuthHeaders),
          nastyString.map((s) => `Bearer ${s}`),
        )
        .map((h) => ({ header: headerSafe(h) })),
      weight: 2,
    },
    { arbitrary: fc.constantFrom("none", "tampered", "extra", "random").map((forged) => ({ forged }) as Caller), weight: 1 },
  );

  const idempotencyKey = fc.oneof(
    { arbitrary: fc.constant(null), weight: 6 },
    { arbitrary: fc.uuid().map((u) => `fz-${u}`), weight: 2 },
    { arbitrary: fc.constantFrom("fz-fixed-key", "fz-fixed-key-2"), weight: 1 },
    { arbitrary: fc.constantFrom("", " ", "x".repeat(256), "\u00e9t\u00e9", "a\tb").map(headerSafe), weight: 1 },
  );

  const hostile = fc.record({
    caller,
    params,
    query,
    rawQuery: fc.oneof({ arbitrary: fc.constant(""), weight: 6 }, { arbitrary: fc.constantFrom(...oddQueries), weight: 2 }),
    suffix: fc.oneof({ arbitrary: fc.constant(""), weight: 12 }, { arbitrary: fc.constantFrom(...suffixes), weight: 1 }),
    body,
    contentType: fc.oneof({ arbitrary: fc.constant(null), weight: 10 }, { arbitrary: fc.constantFrom(...contentTypes), weight: 2 }),
    idempotencyKey: operation.method === "POST" && operation.agentOnly ? idempotencyKey : fc.constant(null),
  });
  // Requests a real client could send (a member, real ids, a body from the schema): they get past validation and
  // into the rules and the database, where the hostile ones mostly do not.
  const plausible = fc.record({
    caller: fc.constantFrom<Caller>("owner", "owner", "owner", "nonmember", "apikey"),
    params: fc.record(
      Object.fromEntries(
        pathParams.map((p) => [p.name as string, ref(paramKind(operation.path, p.name)).map((r) => ({ ref: r }) as Param)]),
      ),
    ) as fc.Arbitrary<Record<string, Param>>,
    query: fc
      .tuple(
        ...queryParams.map((p) =>
          fc.option(fromSchema(p.schema, ctx, p.name), { freq: 2 }).map((v) => [p.name as string, v] as [string, unknown]),
        ),
      )
      .map((pairs) => pairs.filter(([, v]) => v !== null)),
    rawQuery: fc.constant(""),
    suffix: fc.constant(""),
    body: schema && canHaveBody ? fromSchema(schema, ctx).map((json): Body => ({ json })) : fc.constant<Body>({ none: true }),
    contentType: fc.constant(null),
    idempotencyKey: operation.method === "POST" && operation.agentOnly ? fc.option(fc.uuid().map((u) => `fz-${u}`)) : fc.constant(null),
  });
  return fc.oneof({ arbitrary: plausible, weight: 1 }, { arbitrary: hostile, weight: 2 });
}

/** JSON text that is not quite JSON, or too much of it: cut short, nested too deep, too large, odd but legal. */
function hostileText(valid: fc.Arbitrary<unknown>): fc.Arbitrary<Body> {
  return fc.oneof(
    fc.tuple(valid, fc.nat()).map(([v, n]) => {
      const text = JSON.stringify(v) ?? "";
      return { text: text.slice(0, text.length ? n % text.length : 0) };
    }),
    deepNesting.map((text) => ({ text })),
    fc.constantFrom(65 * 1024, 1024 * 1024).map((n) => ({ text: JSON.stringify({ content: "x".repeat(n) }) })),
    fc
      .constantFrom(
        "",
        " ",
        "null",
        "[]",
        '"text"',
        "42",
        "{",
        "{}}",
        "{'a':1}",
        '{"a":1,"a":2}',
        "\ufeff{}",
        '{"content":"\\ud800"}',
        '{"content":"\\u0000"}',
        '{"__proto__":{"admin":true}}',
        "NaN",
        "[1,]",
        '{"a":1e999999}',
        "\u0000",
        "a=b&c=d",
        '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
      )
      .map((text) => ({ text })),
    anyText(200).map((text) => ({ text })),
  );
}

/** A path segment as a client would send it; lone surrogates become the bytes of an encoded surrogate (not UTF-8). */
function segment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s].map((c) => (c.isWellFormed() ? encodeURIComponent(c) : "%ED%A0%80")).join("");
  }
}

type Sent = { method: string; url: string; headers: Record<string, string>; body?: string | Uint8Array<ArrayBuffer>; bodyText: string };

function concrete(world: World, operation: Operation, req: FuzzRequest): Sent {
  let path = operation.path;
  for (const [name, p] of Object.entries(req.params)) {
    const value = "ref" in p ? segment(pick(world, p.ref.kind, p.ref.n)) : "text" in p ? segment(p.text) : p.raw;
    path = path.replace(`{${name}}`, value);
  }
  const pairs = req.query.map(([k, v]) => `${segment(k)}=${segment(String(live(world, v)))}`);
  let url = path + req.suffix;
  if (pairs.length) url += (url.includes("?") ? "&" : "?") + pairs.join("&");
  if (req.rawQuery) url += (url.includes("?") ? "&" : "") + (url.includes("?") ? req.rawQuery.replace(/^\?/, "") : req.rawQuery);

  const headers: Record<string, string> = {};
  const agentToken = world.alice.tokens.api_token;
  const c = req.caller;
  if (c === "owner") headers.authorization = `Bearer ${agentToken}`;
  else if (c === "nonmember") headers.authorization = `Bearer ${world.carol.tokens.api_token}`;
  else if (c === "observer") headers.authorization = `Bearer ${world.observerToken}`;
  else if (c === "apikey") headers.authorization = `Bearer ${world.apiKey}`;
  else if (typeof c === "object" && "header" in c) headers.authorization = c.header;
  else if (typeof c === "object" && "forged" in c) {
    const [h, p, s] = agentToken.split(".");
    headers.authorization =
      c.forged === "none"
        ? `Bearer ${b64url({ alg: "none", typ: "JWT" })}.${p}.`
        : c.forged === "tampered"
          ? `Bearer ${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`
          : c.forged === "extra"
            ? `Bearer ${agentToken}.${s}`
            : `Bearer ${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: world.alice.id, kind: "agent", exp: 9999999999 })}.${s}`;
  }
  if (req.idempotencyKey !== null) headers["idempotency-key"] = req.idempotencyKey;

  let body: string | Uint8Array<ArrayBuffer> | undefined;
  const b = req.body;
  if ("json" in b) body = JSON.stringify(live(world, b.json)) ?? "null";
  else if ("text" in b) body = b.text;
  else if ("bytes" in b) body = b.bytes;
  if (body !== undefined) headers["content-type"] = req.contentType ?? "application/json";
  else if (req.contentType) headers["content-type"] = req.contentType;
  const bodyText = body === undefined ? "" : typeof body === "string" ? body : new TextDecoder().decode(body);
  return { method: operation.method, url, headers, body, bodyText };
}

// ---- what every answer must be

const stackTrace = /\n\s+at |\bat [\w$.<>]+ \(|\.tsx?:\d+|\.js:\d+:\d+|node_modules|\/src\//;
// PostgreSQL's own names as whole words (`pg_catalog`, `pg_advisory_xact_lock`): a bare "pg_" also turns up inside
// random base62 secrets (an API key `…HpG_HA` failed a run).
const sqlText =
  /select .* from |insert into|update .* set |delete from|violates|syntax error at or near|relation "|column "|duplicate key|\bpg_(?:catalog|class|stat|advisory|proc|namespace|roles|tables|trigger|temp|toast|snapshot)|drizzle|postgres(ql)? error|sqlstate/i;

/** Internals in an answer: only counted when the request did not carry the same words itself (echoed input). */
function leak(answer: string, sent: string): string | undefined {
  for (const [what, re] of [
    ["a stack trace", stackTrace],
    ["SQL text", sqlText],
  ] as const) {
    const m = re.exec(answer);
    if (m && !re.test(sent)) return `${what} (${JSON.stringify(m[0])})`;
  }
  return undefined;
}

const codes = new Set(Object.keys(errorCodes));

function errorShapeProblem(body: unknown): string | undefined {
  const e = (body as { error?: any })?.error;
  if (!e || typeof e !== "object") return "no {error} object";
  if (Object.keys(body as object).length !== 1) return "fields beside error";
  if (typeof e.code !== "string" || !codes.has(e.code)) return `code ${JSON.stringify(e.code)} is not in the list`;
  if (typeof e.message !== "string" || !e.message) return "no message";
  if (
    e.details !== undefined &&
    (!Array.isArray(e.details) ||
      !e.details.every((d: any) => typeof d?.message === "string" && (d.field === undefined || typeof d.field === "string")))
  )
    return "details are not [{field?, message}]";
  return undefined;
}

type Answer = { status: number; text: string; contentType: string };

/**
 * What Bun's HTTP parser refuses itself, with an empty body, before the app sees the request: a request head over
 * 16 KiB (431) and control characters in a header value (400). Not the app's to answer, and not a failure.
 */
const maxHeadBytes = 16 * 1024;
const headBytes = (sent: Sent) => sent.url.length + Object.entries(sent.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
function transportRefusal(sent: Sent, res: Answer): boolean {
  if (res.text !== "") return false;
  if (res.status === 431) return headBytes(sent) > maxHeadBytes - 1024;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters in a header value are what Bun refuses
  if (res.status === 400) return Object.values(sent.headers).some((v) => /[\x00-\x08\x0a-\x1f]/.test(v));
  return false;
}

function verdict(operation: Operation, req: FuzzRequest, sent: Sent, res: Answer): string | undefined {
  if (res.status >= 500) return `answered ${res.status}`;
  if (transportRefusal(sent, res)) return undefined;
  if (res.status >= 400) {
    if (!res.contentType.includes("application/json")) return `error answer ${res.status} is ${res.contentType || "untyped"}, not JSON`;
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      return `error answer ${res.status} is not JSON`;
    }
    const shape = errorShapeProblem(body);
    if (shape) return `error answer ${res.status} is not the error shape: ${shape}`;
  }
  const leaked = leak(res.text, `${sent.url} ${sent.bodyText} ${JSON.stringify(sent.headers)}`);
  if (leaked) return `the answer carries ${leaked}`;
  const anonymous = req.caller === "anonymous" || typeof req.caller === "object";
  if (operation.agentOnly && anonymous && res.status < 400 && !req.suffix)
    return `an agent-only route answered ${res.status} without a valid agent token`;
  if (operation.agentOnly && req.caller === "observer" && operation.method !== "GET" && res.status < 400 && !req.suffix)
    return `an observer token wrote (${res.status})`;
  return undefined;
}

async function send(server: TestServer, sent: Sent): Promise<Answer | { error: string }> {
  try {
    const res = await fetch(new URL(sent.url, server.url), {
      method: sent.method,
      headers: sent.headers,
      body: sent.body,
      redirect: "manual",
      signal: AbortSignal.timeout(answerWithinMs),
    });
    return { status: res.status, text: await res.text(), contentType: res.headers.get("content-type") ?? "" };
  } catch (e) {
    const err = e as Error;
    return {
      error:
        err.name === "TimeoutError"
          ? `no answer within ${answerWithinMs / 1000} s (a hang)`
          : `the request failed: ${err.name}: ${err.message}`,
    };
  }
}

function describeSent(sent: Sent, res?: Answer): string {
  const body =
    sent.body === undefined ? "" : typeof sent.body === "string" ? sent.body : `<bytes ${Buffer.from(sent.body).toString("hex")}>`;
  const lines = [
    `${sent.method} ${sent.url.length > 500 ? `${sent.url.slice(0, 500)}… (${sent.url.length} chars)` : sent.url}`,
    ...Object.entries(sent.headers).map(([k, v]) => `${k}: ${v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v}`),
    body ? `body: ${body.length > 800 ? `${body.slice(0, 800)}… (${body.length} chars)` : body}` : "(no body)",
  ];
  if (res) lines.push(`answer: ${res.status} ${res.contentType} ${res.text.slice(0, 800)}`);
  return lines.join("\n    ");
}

// ---- running batches side by side

/** A stable number for a name, so each operation's seeds do not depend on which others run. */
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const seedOf = (seed: number, target: string, batch: number) => (seed ^ hash(`${target}#${batch}`)) | 0;

type Job = { target: string; batch: number; run: (totals: Totals, failures: Failure[]) => Promise<void> };

async function runJobs(
  jobs: Job[],
  workers: number,
  totals: Map<string, Totals>,
  failures: Failure[],
  between: () => Promise<string | undefined>,
  log: (s: string) => void,
) {
  let next = 0;
  let stop: string | undefined;
  const failedTargets = new Set<string>();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stop && next < jobs.length) {
        const job = jobs[next++];
        if (failedTargets.has(job.target)) continue; // one shrunk counterexample per target is enough
        const t = totals.get(job.target)!;
        const started = performance.now();
        // This job's own failures: other workers add theirs to the shared list meanwhile.
        const found: Failure[] = [];
        try {
          await job.run(t, found);
        } catch (e) {
          t.failures++;
          found.push({
            target: job.target,
            seed: 0,
            batch: job.batch,
            message: `the batch could not run: ${(e as Error).message}`,
            counterexample: "",
          });
        }
        t.ms += performance.now() - started;
        if (found.length) {
          failedTargets.add(job.target);
          failures.push(...found);
          for (const f of found) log(`FAIL ${f.target}: ${f.message.slice(0, 300)}`);
        }
        stop = await between();
        if (stop) log(`stopping: ${stop}`);
      }
    }),
  );
  if (stop) failures.push({ target: "server", seed: 0, batch: 0, message: stop, counterexample: "" });
}

function newTotals(target: string): Totals {
  return { target, requests: 0, statuses: new Map(), failures: 0, ms: 0, slowest: { ms: 0, what: "" } };
}
const count = (t: Totals, key: string) => t.statuses.set(key, (t.statuses.get(key) ?? 0) + 1);

/** fast-check's verdict on one batch, with the last failing case (the shrunk one) described. */
async function checkBatch<T>(
  arb: fc.Arbitrary<T>,
  predicate: (v: T) => Promise<string | undefined>,
  opts: { seed: number; runs: number; target: string; batch: number; failures: Failure[]; totals: Totals },
) {
  let last: { message: string; counterexample: string } | undefined;
  let shrinking = false;
  const details = await fc.check(
    fc.asyncProperty(arb, async (v) => {
      const problem = await predicate(v);
      if (problem) {
        if (!shrinking) opts.totals.failures++;
        shrinking = true;
        const [message, ...rest] = problem.split("\n");
        last = { message, counterexample: rest.join("\n") };
        return false;
      }
      return true;
    }),
    { seed: opts.seed, numRuns: opts.runs, endOnFailure: false },
  );
  if (details.failed) {
    opts.failures.push({
      target: opts.target,
      seed: opts.seed,
      batch: opts.batch,
      message: last?.message ?? String(details.errorInstance ?? "failed"),
      counterexample: `${last?.counterexample ?? ""}\n    (fast-check seed ${details.seed}, path "${details.counterexamplePath}", ${details.numShrinks} shrinks)`,
    });
  }
}

/** Fuzzes every operation of the API description. */
async function fuzzApi(
  world: World,
  doc: JsonSchema,
  options: Required<Omit<FuzzOptions, "only">> & { only?: string },
  failures: Failure[],
  between: () => Promise<string | undefined>,
) {
  const operations = operationsOf(doc).filter((o) => !options.only || `${o.method} ${o.path}`.includes(options.only));
  const totals = new Map(operations.map((o) => [`${o.method} ${o.path}`, newTotals(`${o.method} ${o.path}`)]));
  const jobs: Job[] = [];
  const batches = Math.ceil(options.runs / options.batch);
  // Batch by batch across all operations, so destructive ones (deleting the server) are spread over the run.
  for (let b = 0; b < batches; b++) {
    for (const operation of operations) {
      const target = `${operation.method} ${operation.path}`;
      const arb = requestArbitrary(doc, operation);
      const runs = Math.min(options.batch, options.runs - b * options.batch);
      jobs.push({
        target,
        batch: b,
        run: async (t, fails) => {
          await world.heal();
          await checkBatch(
            arb,
            async (req) => {
              const sent = concrete(world, operation, req);
              const started = performance.now();
              const res = await send(world.server, sent);
              const ms = performance.now() - started;
              if (ms > t.slowest.ms) t.slowest = { ms, what: describeSent(sent) };
              t.requests++;
              if ("error" in res) {
                count(t, "no answer");
                return `${res.error}\n    ${describeSent(sent)}`;
              }
              count(t, String(res.status));
              const problem = verdict(operation, req, sent, res);
              return problem ? `${problem}\n    ${describeSent(sent, res)}` : undefined;
            },
            { seed: seedOf(options.seed, target, b), runs, target, batch: b, failures: fails, totals: t },
          );
        },
      });
    }
  }
  const started = performance.now();
  let done = 0;
  await runJobs(
    jobs,
    options.workers,
    totals,
    failures,
    async () => {
      done++;
      if (done % Math.max(1, operations.length) === 0) {
        const requests = [...totals.values()].reduce((n, t) => n + t.requests, 0);
        options.log(
          `api: ${done}/${jobs.length} batches, ${requests} requests, ${((requests / (performance.now() - started)) * 1000).toFixed(0)}/s, ${failures.length} failures`,
        );
      }
      return between();
    },
    options.log,
  );
  return [...totals.values()];
}

// ---- the gateway

type FrameToSend = { text: string } | { bytes: Uint8Array<ArrayBuffer> };

function frameArbitrary(frames: JsonSchema, op: string): fc.Arbitrary<{ frame: unknown } | FrameToSend> {
  const ctx = { doc: frames, hint };
  const all = (frames.$defs?.ClientFrame?.oneOf ?? []) as JsonSchema[];
  const schema = all.find((s) => s.properties?.op?.const === op) ?? { type: "object", properties: { op: { const: op } }, required: ["op"] };
  const valid = fromSchema(schema, ctx);
  return fc.oneof(
    { arbitrary: valid.map((frame) => ({ frame })), weight: 10 },
    { arbitrary: spoiled(schema, ctx).map((frame) => ({ frame: { ...(frame as object), op } })), weight: 5 },
    {
      arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 4 }).map((extra) => ({ frame: { ...extra, op } })),
      weight: 2,
    },
    {
      arbitrary: fc
        .oneof(wrongType({ type: "string" }), nastyString)
        .map((bad) => ({ frame: { ...{ channel: new Ref("channel", 0) }, op: bad } })),
      weight: 1,
    },
    {
      arbitrary: fc
        .constantFrom(...nastyStrings.map((s) => JSON.stringify(s)), "{", "[]", "null", "1", "", '{"op":', `{"op":"${op}"`)
        .map((text) => ({ text })),
      weight: 2,
    },
    { arbitrary: deepNesting.map((text) => ({ text })), weight: 1 },
    { arbitrary: anyText(100).map((text) => ({ text })), weight: 1 },
    {
      arbitrary: fc.constantFrom(maxFrameBytes + 1, 64 * 1024).map((n) => ({ text: JSON.stringify({ op, content: "x".repeat(n) }) })),
      weight: 1,
    },
    { arbitrary: valid.map((frame) => ({ bytes: new TextEncoder().encode(JSON.stringify(frame)) })), weight: 1 },
    { arbitrary: notUtf8.map((bytes) => ({ bytes })), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })), weight: 1 },
  );
}

/** Close codes a socket may be closed with for what a client sent: too large, too many bad frames. */
const acceptedCloses = new Set([1009, 4008]);

type Probe = { frames: Frame[]; closed?: { code: number; reason: string }; hang?: boolean };

/** A socket that has said `ready` and answers a ping: what a client can count on after any close. */
async function freshSocket(agent: AgentClient): Promise<GatewaySocket | string> {
  let socket: GatewaySocket;
  try {
    socket = await openSocket(wsUrl(agent.baseUrl, agent.tokens.api_token));
  } catch (e) {
    return `a fresh socket could not open: ${(e as Error).message}`;
  }
  try {
    const first = await socket.next((f) => f.op === "ready" || f.op === "error", answerWithinMs);
    if (first.op !== "ready") return `a fresh socket got ${JSON.stringify(first)} instead of ready`;
    socket.send({ op: "ping", nonce: "fresh" });
    await socket.next((f) => f.op === "pong" && f.nonce === "fresh", answerWithinMs);
  } catch (e) {
    return `a fresh socket did not work: ${(e as Error).message} (closed: ${JSON.stringify(await Promise.race([socket.closed, Bun.sleep(10).then(() => null)]))})`;
  }
  return socket;
}

/** Sends one frame and then a ping; waits for that ping's pong (everything before it has been handled) or a close. */
async function probe(socket: GatewaySocket, frame: FrameToSend, nonce: string): Promise<Probe> {
  const from = socket.frames.length;
  try {
    socket.ws.send("text" in frame ? frame.text : frame.bytes);
    socket.ws.send(JSON.stringify({ op: "ping", nonce }));
  } catch {
    // closed under us: the close tells why
  }
  const pong = socket
    .next((f) => f.op === "pong" && f.nonce === nonce, answerWithinMs, from)
    .then(
      () => "pong" as const,
      () => "gone" as const,
    );
  const outcome = await Promise.race([pong, socket.closed.then(() => "closed" as const)]);
  // After a close, let the close event settle so frames sent just before it are counted.
  const closed = outcome === "pong" ? undefined : await Promise.race([socket.closed, Bun.sleep(answerWithinMs).then(() => undefined)]);
  return { frames: socket.frames.slice(from), closed, hang: outcome !== "pong" && !closed };
}

function frameProblems(p: Probe, sentText: string): string | undefined {
  if (p.hang) return "no pong and no close within 10 s (a hang)";
  for (const f of p.frames) {
    if (f.op === "unparsable") return `a frame that is not JSON: ${JSON.stringify(f.data).slice(0, 200)}`;
    const parsed = serverFrame.safeParse(f);
    if (!parsed.success) return `a frame outside the server union: ${JSON.stringify(f).slice(0, 300)} (${parsed.error.issues[0]?.message})`;
    if (f.op === "error") {
      if (!codes.has(f.code)) return `an error frame with code ${JSON.stringify(f.code)}, not in the list`;
      if ((errorCodes as Record<string, number>)[f.code] >= 500) return `an error frame ${f.code}: ${f.message}`;
    }
    const leaked = leak(JSON.stringify(f), sentText);
    if (leaked) return `a frame carries ${leaked}: ${JSON.stringify(f).slice(0, 300)}`;
  }
  if (p.closed && !acceptedCloses.has(p.closed.code))
    return `the socket was closed with ${p.closed.code} ${JSON.stringify(p.closed.reason)}`;
  return undefined;
}

async function fuzzGateway(
  world: World,
  frames: JsonSchema,
  ops: string[],
  options: Required<Omit<FuzzOptions, "only">>,
  failures: Failure[],
  between: () => Promise<string | undefined>,
) {
  const totals = new Map(ops.map((op) => [`ws ${op}`, newTotals(`ws ${op}`)]));
  const jobs: Job[] = [];
  const batches = Math.ceil(options.wsRuns / options.batch);
  // One agent per op, a member of the world's server: its sockets' bad-frame and subscribe budgets are its own.
  const agents = new Map<string, AgentClient>();
  const refreshedAt = new Map<string, number>();
  for (const op of ops) {
    const a = await world.server.agent(`fz_ws_${op}`);
    agents.set(op, a);
  }
  for (let b = 0; b < batches; b++) {
    for (const op of ops) {
      const target = `ws ${op}`;
      const arb = frameArbitrary(frames, op);
      const runs = Math.min(options.batch, options.wsRuns - b * options.batch);
      jobs.push({
        target,
        batch: b,
        run: async (t, fails) => {
          await world.heal();
          const agent = agents.get(op)!;
          if (Date.now() - (refreshedAt.get(op) ?? 0) > 8 * 60_000) {
            await agent.refresh();
            refreshedAt.set(op, Date.now());
          }
          await agent.post(`/api/v1/servers/${world.pools.server[0]}/join`);
          let socket = await freshSocket(agent);
          if (typeof socket === "string") {
            t.failures++;
            fails.push({ target, seed: 0, batch: b, message: socket, counterexample: "" });
            return;
          }
          let k = 0;
          await checkBatch(
            arb,
            async (generated) => {
              if (typeof socket === "string") return socket;
              const frame: FrameToSend =
                "frame" in generated ? { text: JSON.stringify(live(world, generated.frame)) ?? "null" } : generated;
              const shown = "text" in frame ? frame.text : `<bytes ${Buffer.from(frame.bytes).toString("hex").slice(0, 400)}>`;
              const sentText = "text" in frame ? frame.text : new TextDecoder().decode(frame.bytes);
              const started = performance.now();
              const p = await probe(socket, frame, `probe-${b}-${k++}`);
              const ms = performance.now() - started;
              if (ms > t.slowest.ms) t.slowest = { ms, what: shown.slice(0, 300) };
              t.requests++;
              for (const f of p.frames) count(t, f.op === "error" ? `error:${f.code}` : f.op);
              if (p.closed) count(t, `close ${p.closed.code}`);
              let problem = frameProblems(p, sentText);
              if (p.closed || p.hang) {
                socket.close();
                socket = await freshSocket(agent);
                if (!problem && typeof socket === "string") problem = socket;
              }
              return problem
                ? `${problem}\n    frame: ${shown.length > 800 ? `${shown.slice(0, 800)}… (${shown.length} chars)` : shown}\n    answered: ${JSON.stringify(p.frames).slice(0, 600)}`
                : undefined;
            },
            { seed: seedOf(options.seed, target, b), runs, target, batch: b, failures: fails, totals: t },
          );
          if (typeof socket !== "string") socket.close();
        },
      });
    }
  }
  await runJobs(jobs, options.workers, totals, failures, between, options.log);
  return [...totals.values()];
}

// ---- the whole run

/** Lines the server logs for failures it did not expect (an HTTP 500's cause, a gateway crash). */
const unexpected = /^(\w+ \/\S* failed:|gateway:)/;

export async function runFuzz(server: TestServer, opts: FuzzOptions): Promise<FuzzReport> {
  const options = { batch: 200, workers: 4, log: (s: string) => console.error(s), ...opts };
  const started = performance.now();
  const failures: Failure[] = [];
  const serverLog: string[] = [];
  // The server runs in this process: what it logs and any unhandled error is seen here.
  const originalError = console.error;
  console.error = (...args: unknown[]) => {
    const line = args.map(String).join(" ");
    if (unexpected.test(line)) serverLog.push(line);
    originalError(...args);
  };
  const crashes: string[] = [];
  const onCrash = (e: unknown) => crashes.push(String((e as Error)?.stack ?? e));
  process.on("unhandledRejection", onCrash);
  process.on("uncaughtException", onCrash);
  let logged = 0;
  const between = async (): Promise<string | undefined> => {
    const health = await send(server, { method: "GET", url: "/healthz", headers: {}, bodyText: "" });
    if ("error" in health || health.status !== 200) return `GET /healthz failed after a batch: ${JSON.stringify(health)}`;
    if (crashes.length) return `an unhandled error in the server process: ${crashes[0]}`;
    for (; logged < serverLog.length; logged++)
      failures.push({ target: "server log", seed: 0, batch: 0, message: serverLog[logged], counterexample: "" });
    return undefined;
  };
  try {
    const world = await makeWorld(server);
    const doc = (await server.call("GET", "/api/v1/openapi.json")).body as JsonSchema;
    const gateway = (await server.call("GET", "/api/v1/gateway.json")).body as JsonSchema;
    const api = options.runs > 0 ? await fuzzApi(world, doc, options, failures, between) : [];
    const ops = ((gateway.client_frames?.$defs?.ClientFrame?.oneOf ?? []) as JsonSchema[]).map((s) => s.properties.op.const as string);
    const wsOps = ops.filter((op) => !options.only || `ws ${op}`.includes(options.only));
    const ws = options.wsRuns > 0 && wsOps.length ? await fuzzGateway(world, gateway.client_frames, wsOps, options, failures, between) : [];
    await between();
    return { seed: options.seed, api, ws, failures, serverLog, healTroubles: world.troubles, ms: performance.now() - started };
  } finally {
    console.error = originalError;
    process.off("unhandledRejection", onCrash);
    process.off("uncaughtException", onCrash);
  }
}

/** The totals as a plain table: target, requests, failures, statuses seen (with counts). */
export function totalsTable(report: FuzzReport): string {
  const header = ["route / op", "requests", "failures", "slowest ms", "statuses seen"];
  const rows = [...report.api, ...report.ws].map((t) => [
    t.target,
    String(t.requests),
    String(t.failures),
    t.slowest.ms.toFixed(0),
    [...t.statuses.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${s}×${n}`)
      .join(" "),
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(header[i].length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    [r[0].padEnd(widths[0]), r[1].padStart(widths[1]), r[2].padStart(widths[2]), r[3].padStart(widths[3]), r[4]].join("  ");
  const total = [...report.api, ...report.ws].reduce((n, t) => n + t.requests, 0);
  const troubles = report.healTroubles.length
    ? `\n(${report.healTroubles.length} heals of the fuzzer's world gave up; last: ${report.healTroubles.at(-1)!.slice(0, 200)})`
    : "";
  return [
    fmt(header),
    ...rows.map(fmt),
    `total: ${total} requests and frames in ${(report.ms / 1000).toFixed(0)} s, ${report.failures.length} failures, seed ${report.seed}${troubles}`,
  ].join("\n");
}

/** The slowest request or frame of the run, described: what came closest to a hang. */
export function slowest(report: FuzzReport): string {
  const all = [...report.api, ...report.ws].sort((a, b) => b.slowest.ms - a.slowest.ms).slice(0, 3);
  return all.map((t) => `${t.target}: ${t.slowest.ms.toFixed(0)} ms\n    ${t.slowest.what}`).join("\n");
}

export function failureReport(report: FuzzReport): string {
  return report.failures
    .map(
      (f) =>
        `FAIL ${f.target}${f.seed ? ` (batch ${f.batch}, seed ${f.seed})` : ""}: ${f.message}${f.counterexample ? `\n    ${f.counterexample.trim()}` : ""}`,
    )
    .join("\n\n");
}
