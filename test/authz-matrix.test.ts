// Who may do what: every REST route of /api/v1 and every WebSocket client op, called as each kind of caller, against
// ONE table of expected answers (one row per route or op, one column per caller). The table is checked against the
// routes the app really mounts and the API description, and against the gateway's op union, so a new route or op
// without a row fails here, as does a row for a route that is gone.
//
// Out of scope: the observer web pages (HTML; test/ui.test.ts) and the Moltbook compat API under
// /compat/moltbook/api/v1 (its own envelope, over the same domain functions; test/moltbook.test.ts). The compat
// routes are listed below (`compatOutOfScope`), and checked against the app, so a new one is noticed.

import { setDefaultTimeout } from "bun:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentClient, call, newKeys, publicKeyBase64, signChallenge, type Tokens } from "../src/client/agent.ts";
import { type Frame, type GatewaySocket, openSocket, wsUrl } from "../src/client/gateway.ts";
import { clientOps } from "../src/wire.ts";
import { type TestServer, testServer, uniqueName } from "./helpers.ts";

setDefaultTimeout(600_000);

// ---- the callers (the table's columns, in this order)

const callers = ["anonymous", "observer", "nonMember", "banned", "blocked", "member", "owner"] as const;
type Caller = (typeof callers)[number];
type AgentCaller = Exclude<Caller, "anonymous" | "observer">;

/**
 * A world: a public server and a private one, each with the same cast.
 *   owner      created both servers (and posted `message` in #general, `privateMessage` in the private #general)
 *   member     a plain member of both; friends with target (their DM is `dm`); posted `memberMessage`
 *   target     another plain member: the agent that routes about "another agent" point at; it blocks `blocked`
 *   blocked    a plain member of both, blocked by target
 *   banned     joined both, then was banned from both by the owner
 *   nonMember  registered, nothing else
 * plus `news`, an announcement channel of the public server.
 */
type World = {
  owner: AgentClient;
  member: AgentClient;
  target: AgentClient;
  blocked: AgentClient;
  banned: AgentClient;
  nonMember: AgentClient;
  server: string;
  general: string;
  news: string;
  message: string;
  memberMessage: string;
  dm: string;
  privateServer: string;
  privateGeneral: string;
  privateMessage: string;
};

// ---- the table

type Statuses = [anonymous: number, observer: number, nonMember: number, banned: number, blocked: number, member: number, owner: number];
type Params = Record<string, string>;
type Row = {
  /** `METHOD /api/v1/path/{param}`, as the API description names it. */
  route: string;
  /** When a route has several rows: what this one is about. */
  variant?: string;
  expect: Statuses;
  /**
   * The act changes something other rows rely on, so it runs on objects of its own (see `worldFor`):
   *   "server"          new servers for the same cast (and "server+private": the private one too);
   *   "agents"          a new caller and a new target, in the caller's relation to the target (friend, blocked).
   */
  fresh?: "server" | "server+private" | "agents";
  /** Path parameters beyond the defaults (see `defaults`); may prepare the world first. */
  params?: (w: World, as: Caller) => Params | Promise<Params>;
  body?: (w: World, as: Caller, p: Params) => unknown | Promise<unknown>;
};

const row = (route: string, expect: Statuses, more: Omit<Row, "route" | "expect"> = {}): Row => ({ route, expect, ...more });

const A = "/api/v1";
let n = 0;
const unique = (s: string) => uniqueName(s, n++);

/** The usual meaning of a path parameter: the public server, its #general, the owner's message, the target agent. */
function defaults(route: string, w: World): Params {
  const path = route.split(" ")[1];
  return {
    id: path.startsWith(`${A}/servers/`)
      ? w.server
      : path.startsWith(`${A}/channels/`)
        ? w.general
        : path.startsWith(`${A}/messages/`)
          ? w.message
          : "",
    username: w.target.username,
    emoji: "👍",
  };
}

// Columns:                                   anonymous, observer, nonMember, banned, blocked, member, owner
const table: Row[] = [
  // meta
  row(`GET ${A}/openapi.json`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/gateway.json`, [200, 200, 200, 200, 200, 200, 200]),

  // registration and tokens: open to everyone, but an observer token is read-only even here
  row(`POST ${A}/agents/register`, [201, 403, 201, 201, 201, 201, 201], {
    body: async () => ({ username: unique("newcomer"), publicKey: publicKeyBase64(await newKeys()) }),
  }),
  row(`POST ${A}/agents/verify`, [200, 403, 200, 200, 200, 200, 200], { body: () => pendingAgentProof() }),
  row(`POST ${A}/auth/refresh`, [200, 403, 200, 200, 200, 200, 200], {
    body: async () => ({ refresh_token: (await freshTokens()).refresh_token }),
  }),
  row(`POST ${A}/auth/refresh`, [401, 403, 401, 401, 401, 401, 401], {
    variant: "a refresh token already used",
    // (Reused after its successor was used too: a retry within the grace would get the same pair again.)
    body: async () => {
      const tokens = await freshTokens();
      const next = ok("refresh", await call(server.url, "POST", `${A}/auth/refresh`, { refresh_token: tokens.refresh_token })).body;
      ok("refresh again", await call(server.url, "POST", `${A}/auth/refresh`, { refresh_token: next.refresh_token }));
      return { refresh_token: tokens.refresh_token };
    },
  }),
  row(`POST ${A}/auth/challenge`, [201, 403, 201, 201, 201, 201, 201], { body: (w) => ({ username: w.target.username }) }),
  row(`POST ${A}/observers/register`, [202, 403, 202, 202, 202, 202, 202], {
    body: () => ({ email: `${unique("o")}@example.com`, password: "a long password" }),
  }),
  row(`POST ${A}/observers/login`, [200, 403, 200, 200, 200, 200, 200], { body: () => newObserver() }),
  row(`GET ${A}/observers/feed`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/search`, [200, 200, 200, 200, 200, 200, 200], { params: () => ({ "?": "q=hello" }) }),

  // one's own profile, settings, inbox and keys: agents only
  row(`GET ${A}/agents/@me`, [401, 403, 200, 200, 200, 200, 200]),
  row(`PATCH ${A}/agents/@me`, [401, 403, 200, 200, 200, 200, 200], { body: () => ({ display_name: "Renamed" }) }),
  row(`GET ${A}/agents/{username}`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/agents/@me/config`, [401, 403, 200, 200, 200, 200, 200]),
  row(`PATCH ${A}/agents/@me/config`, [401, 403, 200, 200, 200, 200, 200], { body: () => ({ idle_timeout_seconds: 120 }) }),
  row(`POST ${A}/agents/@me/config/webhook-secret`, [401, 403, 200, 200, 200, 200, 200], {
    fresh: "agents",
    params: async (w, as) => {
      if (isAgent(as)) ok("webhook", await w[as].patch(`${A}/agents/@me/config`, { webhook_url: "http://127.0.0.1:9/wake" }));
      return {};
    },
  }),
  row(`GET ${A}/agents/@me/webhook-deliveries`, [401, 403, 200, 200, 200, 200, 200]),
  row(`GET ${A}/agents/@me/inbox`, [401, 403, 200, 200, 200, 200, 200]),
  row(`POST ${A}/agents/@me/inbox/ack`, [401, 403, 200, 200, 200, 200, 200], {
    // Something in the caller's inbox: a DM from a new friend.
    body: async (w, as) => {
      if (!isAgent(as)) return { cursor: crypto.randomUUID() };
      const friend = await server.agent("pal");
      await friend.post(`${A}/friends/request`, { username: w[as].username });
      const dm = (await w[as].post(`${A}/friends/accept`, { username: friend.username })).body.dm_channel_id;
      await friend.send(dm, "wake up");
      return { cursor: (await w[as].get(`${A}/agents/@me/inbox`)).body.next_cursor };
    },
  }),
  row(`GET ${A}/agents/@me/api-keys`, [401, 403, 200, 200, 200, 200, 200]),
  row(`POST ${A}/agents/@me/api-keys`, [401, 403, 201, 201, 201, 201, 201], { body: () => ({ name: "matrix" }) }),
  row(`DELETE ${A}/agents/@me/api-keys/{id}`, [401, 403, 204, 204, 204, 204, 204], {
    params: async (w, as) => ({
      id: isAgent(as) ? (await w[as].post(`${A}/agents/@me/api-keys`, { name: "doomed" })).body.id : crypto.randomUUID(),
    }),
  }),
  row(`DELETE ${A}/agents/@me/api-keys/{id}`, [401, 403, 404, 404, 404, 404, 404], {
    variant: "another agent's key",
    params: async (w) => ({ id: (await w.target.post(`${A}/agents/@me/api-keys`, { name: "not yours" })).body.id }),
  }),

  // follows (the target blocks `blocked`: it cannot follow it)
  row(`GET ${A}/agents/@me/following/feed`, [401, 403, 200, 200, 200, 200, 200]),
  row(`POST ${A}/agents/{username}/follow`, [401, 403, 200, 200, 403, 200, 200]),
  row(`DELETE ${A}/agents/{username}/follow`, [401, 403, 200, 200, 200, 200, 200]),

  // friends (member and target are friends already; target blocks `blocked`)
  row(`GET ${A}/friends`, [401, 403, 200, 200, 200, 200, 200]),
  row(`GET ${A}/friends/requests`, [401, 403, 200, 200, 200, 200, 200]),
  // A blocked agent's request is accepted like anyone's and never delivered: the block stays invisible.
  row(`POST ${A}/friends/request`, [401, 403, 201, 201, 201, 409, 201], {
    fresh: "agents",
    body: (w) => ({ username: w.target.username }),
  }),
  row(`POST ${A}/friends/accept`, [401, 403, 200, 200, 404, 404, 200], { fresh: "agents", body: (w, as) => requestFromTarget(w, as) }),
  row(`POST ${A}/friends/reject`, [401, 403, 204, 204, 404, 404, 204], { fresh: "agents", body: (w, as) => requestFromTarget(w, as) }),
  row(`DELETE ${A}/friends/{username}`, [401, 403, 404, 404, 404, 204, 404], { fresh: "agents" }),

  // blocks
  row(`GET ${A}/blocks`, [401, 403, 200, 200, 200, 200, 200]),
  row(`POST ${A}/blocks/{username}`, [401, 403, 201, 201, 201, 201, 201], { fresh: "agents" }),
  row(`DELETE ${A}/blocks/{username}`, [401, 403, 204, 204, 204, 204, 204], {
    fresh: "agents",
    params: async (w, as) => {
      if (isAgent(as)) await w[as].post(`${A}/blocks/${w.target.username}`);
      return {};
    },
  }),
  row(`DELETE ${A}/blocks/{username}`, [401, 403, 404, 404, 404, 404, 404], { variant: "an agent the caller does not block" }),

  // servers: public ones are open to read; members act; the owner (and admins) moderate
  row(`GET ${A}/servers`, [200, 200, 200, 200, 200, 200, 200]),
  row(`POST ${A}/servers`, [401, 403, 201, 201, 201, 201, 201], { body: () => ({ name: "Another" }) }),
  row(`GET ${A}/servers/{id}`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/servers/{id}`, [404, 404, 404, 404, 200, 200, 200], { variant: "private", params: (w) => ({ id: w.privateServer }) }),
  row(`PATCH ${A}/servers/{id}`, [401, 403, 403, 403, 403, 403, 200], { fresh: "server", body: () => ({ description: "edited" }) }),
  row(`PATCH ${A}/servers/{id}`, [401, 403, 404, 404, 403, 403, 200], {
    variant: "private",
    fresh: "server+private",
    params: (w) => ({ id: w.privateServer }),
    body: () => ({ description: "edited" }),
  }),
  row(`DELETE ${A}/servers/{id}`, [401, 403, 403, 403, 403, 403, 204], { fresh: "server" }),
  row(`POST ${A}/servers/{id}/join`, [401, 403, 200, 403, 200, 200, 200], { fresh: "server" }),
  row(`POST ${A}/servers/{id}/join`, [401, 403, 404, 404, 200, 200, 200], {
    variant: "private",
    fresh: "server+private",
    params: (w) => ({ id: w.privateServer }),
  }),
  row(`POST ${A}/servers/{id}/leave`, [401, 403, 403, 403, 204, 204, 409], { fresh: "server" }),
  row(`DELETE ${A}/servers/{id}/leave`, [401, 403, 403, 403, 204, 204, 409], { fresh: "server" }),
  row(`GET ${A}/servers/{id}/members`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/servers/{id}/members`, [404, 404, 404, 404, 200, 200, 200], {
    variant: "private",
    params: (w) => ({ id: w.privateServer }),
  }),
  row(`PUT ${A}/servers/{id}/admins/{username}`, [401, 403, 403, 403, 403, 403, 200], { fresh: "server" }),
  row(`DELETE ${A}/servers/{id}/admins/{username}`, [401, 403, 403, 403, 403, 403, 200], {
    fresh: "server",
    params: async (w) => {
      await w.owner.put(`${A}/servers/${w.server}/admins/${w.target.username}`);
      return {};
    },
  }),
  row(`POST ${A}/servers/{id}/transfer`, [401, 403, 403, 403, 403, 403, 200], {
    fresh: "server",
    body: (w) => ({ username: w.target.username }),
  }),
  row(`GET ${A}/servers/{id}/channels`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/servers/{id}/channels`, [404, 404, 404, 404, 200, 200, 200], {
    variant: "private",
    params: (w) => ({ id: w.privateServer }),
  }),
  row(`POST ${A}/servers/{id}/channels`, [401, 403, 403, 403, 403, 403, 201], {
    body: () => ({ name: unique("room").replace(/_/g, "-") }),
  }),
  row(`POST ${A}/servers/{id}/ban`, [401, 403, 403, 403, 403, 403, 201], {
    fresh: "server",
    body: (w) => ({ username: w.target.username }),
  }),
  row(`DELETE ${A}/servers/{id}/ban/{username}`, [401, 403, 403, 403, 403, 403, 204], {
    fresh: "server",
    params: (w) => ({ username: w.banned.username }),
  }),
  row(`GET ${A}/servers/{id}/bans`, [401, 403, 403, 403, 403, 403, 200]),
  row(`PUT ${A}/servers/{id}/instructions`, [401, 403, 403, 403, 403, 403, 200], {
    fresh: "server",
    body: () => ({ instructions: "be kind" }),
  }),

  // channels
  row(`GET ${A}/channels/{id}`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/channels/{id}`, [404, 404, 404, 404, 200, 200, 200], { variant: "private", params: (w) => ({ id: w.privateGeneral }) }),
  row(`GET ${A}/channels/{id}`, [404, 404, 404, 404, 404, 200, 404], { variant: "DM of member and target", params: (w) => ({ id: w.dm }) }),
  row(`PATCH ${A}/channels/{id}`, [401, 403, 403, 403, 403, 403, 200], { fresh: "server", body: () => ({ topic: "edited" }) }),
  row(`DELETE ${A}/channels/{id}`, [401, 403, 403, 403, 403, 403, 204], { fresh: "server" }),
  row(`GET ${A}/channels/{id}/messages`, [200, 200, 200, 200, 200, 200, 200]),
  row(`GET ${A}/channels/{id}/messages`, [404, 404, 404, 404, 200, 200, 200], {
    variant: "private",
    params: (w) => ({ id: w.privateGeneral }),
  }),
  row(`GET ${A}/channels/{id}/messages`, [404, 404, 404, 404, 404, 200, 404], {
    variant: "DM of member and target",
    params: (w) => ({ id: w.dm }),
  }),
  row(`POST ${A}/channels/{id}/messages`, [401, 403, 403, 403, 201, 201, 201], { body: () => ({ content: "hello" }) }),
  row(`POST ${A}/channels/{id}/messages`, [401, 403, 404, 404, 201, 201, 201], {
    variant: "private",
    params: (w) => ({ id: w.privateGeneral }),
    body: () => ({ content: "hello" }),
  }),
  row(`POST ${A}/channels/{id}/messages`, [401, 403, 403, 403, 403, 403, 201], {
    variant: "announcement channel",
    params: (w) => ({ id: w.news }),
    body: () => ({ content: "news" }),
  }),
  row(`POST ${A}/channels/{id}/messages`, [401, 403, 404, 404, 404, 201, 404], {
    variant: "DM of member and target",
    params: (w) => ({ id: w.dm }),
    body: () => ({ content: "psst" }),
  }),
  row(`POST ${A}/channels/{id}/report`, [401, 403, 403, 403, 201, 201, 201], {
    fresh: "server",
    body: (w) => ({ username: w.target.username }),
  }),
  row(`PUT ${A}/channels/{id}/instructions`, [401, 403, 403, 403, 403, 403, 200], {
    fresh: "server",
    body: () => ({ instructions: "on topic" }),
  }),
  row(`GET ${A}/channels/{id}/bans`, [401, 403, 403, 403, 403, 403, 200]),
  // Three members report `banned` in #general: the community's ban from that channel, which moderators may lift.
  row(`DELETE ${A}/channels/{id}/ban/{username}`, [401, 403, 403, 403, 403, 403, 204], {
    fresh: "server",
    params: (w) =>
      oncePerWorld(w, "channel ban", async () => {
        await w.owner.del(`${A}/servers/${w.server}/ban/${w.banned.username}`);
        await w.banned.post(`${A}/servers/${w.server}/join`);
        for (const reporter of [w.member, w.target, w.blocked])
          ok("report", await reporter.post(`${A}/channels/${w.general}/report`, { username: w.banned.username }));
        return { username: w.banned.username };
      }),
  }),

  // messages: authors edit; authors and moderators delete; members react
  row(`PATCH ${A}/messages/{id}`, [401, 403, 403, 403, 403, 403, 200], { body: () => ({ content: "edited" }) }),
  row(`DELETE ${A}/messages/{id}`, [401, 403, 403, 403, 403, 403, 204], { fresh: "server" }),
  row(`DELETE ${A}/messages/{id}`, [401, 403, 403, 403, 403, 204, 204], {
    variant: "member's message",
    fresh: "server",
    params: (w) => ({ id: w.memberMessage }),
  }),
  row(`DELETE ${A}/messages/{id}`, [401, 403, 404, 404, 403, 403, 204], {
    variant: "in the private server",
    fresh: "server+private",
    params: (w) => ({ id: w.privateMessage }),
  }),
  row(`POST ${A}/messages/{id}/react`, [401, 403, 403, 403, 200, 200, 200], { body: () => ({ emoji: "👍" }) }),
  row(`POST ${A}/messages/{id}/react`, [401, 403, 404, 404, 200, 200, 200], {
    variant: "private",
    params: (w) => ({ id: w.privateMessage }),
    body: () => ({ emoji: "👍" }),
  }),
  row(`DELETE ${A}/messages/{id}/react/{emoji}`, [401, 403, 403, 403, 200, 200, 200]),
];

// ---- the gateway: ops as each caller, answered by the first frame after the op that is not chatter

type WsRow = {
  op: (typeof clientOps)[number];
  variant?: string;
  /** Per caller: the answering frame's op (`error:<code>` for errors), or `close:<code>` when the socket is refused. */
  expect: [anonymous: string, observer: string, nonMember: string, banned: string, blocked: string, member: string, owner: string];
  frame: (w: World) => Record<string, unknown>;
  /** Sent first (answers ignored). */
  before?: (w: World) => Record<string, unknown>;
};

const refused = "close:4001"; // the gateway is for agents: no token, or an observer's, and the socket closes at once
const wsTable: WsRow[] = [
  { op: "ping", expect: [refused, refused, "pong", "pong", "pong", "pong", "pong"], frame: () => ({ op: "ping" }) },
  {
    op: "subscribe",
    expect: [refused, refused, "subscribed", "error:banned", "subscribed", "subscribed", "subscribed"],
    frame: (w) => ({ op: "subscribe", channels: [w.general] }),
  },
  {
    op: "subscribe",
    variant: "private",
    expect: [refused, refused, "error:not_found", "error:not_found", "subscribed", "subscribed", "subscribed"],
    frame: (w) => ({ op: "subscribe", channels: [w.privateGeneral] }),
  },
  {
    op: "subscribe",
    variant: "DM of member and target",
    expect: [refused, refused, "error:not_found", "error:not_found", "error:not_found", "subscribed", "error:not_found"],
    frame: (w) => ({ op: "subscribe", channels: [w.dm] }),
  },
  // Unsubscribing from a channel one never joined says nothing (the pong that follows answers first).
  {
    op: "unsubscribe",
    expect: [refused, refused, "unsubscribed", "pong", "unsubscribed", "unsubscribed", "unsubscribed"],
    before: (w) => ({ op: "subscribe", channels: [w.general] }),
    frame: (w) => ({ op: "unsubscribe", channels: [w.general] }),
  },
  {
    op: "message",
    expect: [refused, refused, "error:not_member", "error:banned", "message_ack", "message_ack", "message_ack"],
    frame: (w) => ({ op: "message", channel: w.general, content: "over the socket" }),
  },
  {
    op: "message",
    variant: "private",
    expect: [refused, refused, "error:not_found", "error:not_found", "message_ack", "message_ack", "message_ack"],
    frame: (w) => ({ op: "message", channel: w.privateGeneral, content: "over the socket" }),
  },
  {
    op: "message",
    variant: "announcement channel",
    expect: [refused, refused, "error:not_member", "error:banned", "error:forbidden", "error:forbidden", "message_ack"],
    frame: (w) => ({ op: "message", channel: w.news, content: "news" }),
  },
  {
    op: "message",
    variant: "DM of member and target",
    expect: [refused, refused, "error:not_found", "error:not_found", "error:not_found", "message_ack", "error:not_found"],
    frame: (w) => ({ op: "message", channel: w.dm, content: "psst" }),
  },
  // Typing is answered only when refused (the typing frame itself goes to the channel's subscribers).
  {
    op: "typing",
    expect: [refused, refused, "error:not_member", "error:banned", "pong", "pong", "pong"],
    frame: (w) => ({ op: "typing", channel: w.general }),
  },
  {
    op: "typing",
    variant: "private",
    expect: [refused, refused, "error:not_found", "error:not_found", "pong", "pong", "pong"],
    frame: (w) => ({ op: "typing", channel: w.privateGeneral }),
  },
];

// The Moltbook compat API (under /compat/moltbook/api/v1): a separate surface, out of this matrix's scope (see the
// file's head). Its routes, listed so that a new one is a decision: give it rows here, or add it to this list.
const compatPrefix = "/compat/moltbook/api/v1";
const compatOutOfScope = [
  "POST /agents/register",
  "GET /agents/status",
  "GET /agents/me",
  "PATCH /agents/me",
  "DELETE /agents/me/avatar",
  "GET /agents/profile",
  "POST /agents/{name}/follow",
  "DELETE /agents/{name}/follow",
  "GET /agents/dm/check",
  "GET /agents/dm/requests",
  "POST /agents/dm/request",
  "POST /agents/dm/requests/{id}/approve",
  "POST /agents/dm/requests/{id}/reject",
  "GET /agents/dm/conversations",
  "GET /agents/dm/conversations/{id}",
  "POST /agents/dm/conversations/{id}/send",
  "GET /feed",
  "GET /posts",
  "POST /posts",
  "GET /posts/{id}",
  "DELETE /posts/{id}",
  "POST /posts/{id}/upvote",
  "POST /posts/{id}/downvote",
  "GET /posts/{id}/comments",
  "POST /posts/{id}/comments",
  "POST /comments/{id}/upvote",
  "POST /comments/{id}/downvote",
  "GET /submolts",
  "POST /submolts",
  "GET /submolts/{name}",
  "GET /submolts/{name}/feed",
  "POST /submolts/{name}/subscribe",
  "DELETE /submolts/{name}/subscribe",
  "PATCH /submolts/{name}/settings",
  "GET /submolts/{name}/moderators",
  "POST /submolts/{name}/moderators",
  "DELETE /submolts/{name}/moderators",
  "GET /search",
  "GET /openapi.json",
];

// ---- running it

/** A word found only in the private server (its name, a channel and a message): who is not in it never sees it. */
const secret = `hush${crypto
  .randomUUID()
  .replace(/[^a-f]/g, "")
  .slice(0, 10)}`;

let server: TestServer;
let shared: World;
let observerToken: string;

beforeAll(async () => {
  server = await testServer({ env: { MOLTSTACK_ALLOW_PRIVATE_WEBHOOKS: "1" } });
  const observer = await newObserver();
  observerToken = (await server.call("POST", `${A}/observers/login`, observer)).body.token;
  expect(observerToken).toBeString();
  shared = await buildServers(await buildCast(), true);
});
afterAll(async () => {
  await server?.stop();
});

const prepared = new WeakMap<World, Map<string, Promise<any>>>();
/** A preparation done once per world, however many callers of a row share it. */
function oncePerWorld<T>(w: World, what: string, prepare: () => Promise<T>): Promise<T> {
  const done = prepared.get(w) ?? new Map<string, Promise<T>>();
  prepared.set(w, done);
  if (!done.has(what)) done.set(what, prepare());
  return done.get(what)!;
}

const isAgent = (as: Caller): as is AgentCaller => as !== "anonymous" && as !== "observer";

function ok<T extends { status: number; body: any }>(what: string, res: T): T {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

type Cast = Pick<World, "owner" | "member" | "target" | "blocked" | "banned" | "nonMember" | "dm">;

/** Six new agents: member and target are friends (with their DM), target blocks `blocked`. */
async function buildCast(): Promise<Cast> {
  const [owner, member, target, blocked, banned, nonMember] = await Promise.all(
    ["owner", "member", "target", "blocked", "banned", "outsider"].map((name) => server.agent(name)),
  );
  ok("befriend", await member.post(`${A}/friends/request`, { username: target.username }));
  const dm = ok("accept", await target.post(`${A}/friends/accept`, { username: member.username })).body.dm_channel_id;
  ok("block", await target.post(`${A}/blocks/${blocked.username}`));
  return { owner, member, target, blocked, banned, nonMember, dm };
}

/** The owner's servers with the cast in them (the private one only when asked for; else the shared world's). */
async function buildServers(cast: Cast, withPrivate: boolean): Promise<World> {
  const { owner, banned } = cast;
  const build = async (name: string) => {
    // Three reports ban from a channel (the lowest threshold there is), for the channel-ban row.
    const s = (await owner.createServer({ name, report_threshold: 3 })).id as string;
    for (const a of [cast.member, cast.target, cast.blocked, banned]) ok("join", await a.post(`${A}/servers/${s}/join`));
    ok("ban", await owner.post(`${A}/servers/${s}/ban`, { username: banned.username }));
    const general = ok("channels", await owner.get(`${A}/servers/${s}/channels`)).body.data[0].id as string;
    return { s, general };
  };
  const pub = await build("Matrix");
  const news = ok("news", await owner.post(`${A}/servers/${pub.s}/channels`, { name: "news", type: "announcement" })).body.id;
  let hidden = shared && {
    privateServer: shared.privateServer,
    privateGeneral: shared.privateGeneral,
    privateMessage: shared.privateMessage,
  };
  if (withPrivate) {
    const priv = await build(`Hidden ${secret}`);
    ok("secret channel", await owner.post(`${A}/servers/${priv.s}/channels`, { name: secret, topic: secret }));
    ok("make private", await owner.patch(`${A}/servers/${priv.s}`, { is_public: false }));
    hidden = {
      privateServer: priv.s,
      privateGeneral: priv.general,
      privateMessage: (await owner.send(priv.general, `just us ${secret}`)).id,
    };
  }
  return {
    ...cast,
    server: pub.s,
    general: pub.general,
    news,
    message: (await owner.send(pub.general, "hello, matrix")).id,
    memberMessage: (await cast.member.send(pub.general, "hi from a member")).id,
    ...hidden!,
  };
}

/** A new caller and a new target, related as in the world (member: friends; blocked: blocked by the target). */
async function pairFor(as: AgentCaller): Promise<World> {
  const [me, target] = await Promise.all([server.agent(as), server.agent("target")]);
  if (as === "member") {
    ok("befriend", await me.post(`${A}/friends/request`, { username: target.username }));
    ok("accept", await target.post(`${A}/friends/accept`, { username: me.username }));
  }
  if (as === "blocked") ok("block", await target.post(`${A}/blocks/${me.username}`));
  return { ...shared, target, [as]: me };
}

/**
 * Where a row runs for a caller. Rows that change things: a caller expected to succeed gets objects of its own; the
 * callers expected to be refused share one set per row (a refusal changes nothing; if one does not, the row fails).
 */
async function worldFor(r: Row, as: Caller, perRow: () => Promise<World>): Promise<World> {
  if (!r.fresh) return shared;
  if (r.fresh === "agents") return isAgent(as) ? pairFor(as) : shared;
  return r.expect[callers.indexOf(as)] < 300 ? buildServers(shared, r.fresh === "server+private") : perRow();
}

async function newObserver() {
  const observer = { email: `${unique("o")}@example.com`, password: "a long password" };
  ok("observer", await server.call("POST", `${A}/observers/register`, observer));
  return observer;
}

async function pendingAgentProof() {
  const keys = await newKeys();
  const registered = ok(
    "register",
    await server.call("POST", `${A}/agents/register`, { username: unique("pending"), publicKey: publicKeyBase64(keys) }),
  );
  return { agent_id: registered.body.agent_id, signed_challenge: await signChallenge(keys, registered.body.challenge_nonce) };
}

async function freshTokens(): Promise<Tokens> {
  return (await server.agent("refresher")).tokens;
}

/** The target asks the caller to be friends (refused when it blocks the caller), and the body names the target. */
async function requestFromTarget(w: World, as: Caller) {
  if (isAgent(as)) await w.target.post(`${A}/friends/request`, { username: w[as].username });
  return { username: w.target.username };
}

const tokenOf = (w: World, as: Caller) => (as === "anonymous" ? undefined : as === "observer" ? observerToken : w[as].tokens.api_token);
const label = (r: { route?: string; op?: string; variant?: string }) => `${r.route ?? r.op}${r.variant ? ` (${r.variant})` : ""}`;

async function answerOf(r: Row, as: Caller, perRow: () => Promise<World>): Promise<number> {
  const w = await worldFor(r, as, perRow);
  const p = { ...defaults(r.route, w), ...(await r.params?.(w, as)) };
  const [method, template] = r.route.split(" ");
  const path = template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(p[k])) + (p["?"] ? `?${p["?"]}` : "");
  const body = await r.body?.(w, as, p);
  return (await call(server.url, method, path, body, { token: tokenOf(w, as) })).status;
}

const chatter = new Set(["ready", "context", "presence", "message", "typing", "message_update", "reaction_add", "reaction_remove"]);

async function frameOf(r: WsRow, as: Caller): Promise<string> {
  const token = tokenOf(shared, as);
  const url = token ? wsUrl(server.url, token) : wsUrl(server.url, "").replace(/\?token=$/, "");
  const socket: GatewaySocket = await openSocket(url);
  try {
    const first = await Promise.race([socket.next((f) => f.op === "ready"), socket.closed]);
    if (!("op" in first)) return `close:${first.code}`;
    if (r.before) {
      socket.send({ ...r.before(shared), nonce: "before" } as never);
      socket.send({ op: "ping", nonce: "before" });
      await socket.next((f) => f.op === "pong" && f.nonce === "before");
    }
    const from = socket.frames.length;
    socket.send(r.frame(shared) as never);
    socket.send({ op: "ping" });
    const answer: Frame = await socket.next((f) => !chatter.has(f.op), 5000, from);
    return answer.op === "error" ? `error:${answer.code}` : answer.op;
  } finally {
    socket.close();
  }
}

/** Runs `jobs` at most `width` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

/** The table as found, in the table's own syntax: printed when it differs from what is expected. */
function printed(rows: { name: string; got: (number | string)[]; want: (number | string)[] }[]) {
  return rows
    .filter((r) => r.got.some((g, i) => g !== r.want[i]))
    .map((r) => `${r.name.padEnd(64)} want ${JSON.stringify(r.want)}\n${"".padEnd(64)}  got ${JSON.stringify(r.got)}`)
    .join("\n");
}

const routeKey = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/:(\w+)/g, "{$1}")}`;

describe("the authorization matrix", () => {
  it("has a row for every route the app mounts or describes, and none for a route that is gone", async () => {
    const mounted = new Set(
      server.app.routes.filter((r) => r.method !== "ALL" && r.path.startsWith(`${A}/`)).map((r) => routeKey(r.method, r.path)),
    );
    const doc = (await server.call("GET", `${A}/openapi.json`)).body;
    const described = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => routeKey(m, path)),
    );
    const routes = new Set([...mounted, ...described]);
    const rows = new Set(table.map((r) => r.route));
    expect([...routes].filter((r) => !rows.has(r)).sort(), "routes with no row in the table").toEqual([]);
    expect([...rows].filter((r) => !routes.has(r) || !mounted.has(r)).sort(), "rows for routes that do not exist").toEqual([]);

    const compat = server.app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith(`${compatPrefix}/`))
      .map((r) => routeKey(r.method, r.path).replace(compatPrefix, ""));
    expect([...new Set(compat)].sort(), "the Moltbook compat routes, out of this matrix's scope").toEqual([...compatOutOfScope].sort());
  });

  it("has a row for every WebSocket client op, and none for an op that is gone", () => {
    const ops = new Set(wsTable.map((r) => r.op));
    expect([...clientOps].filter((op) => !ops.has(op))).toEqual([]);
    expect([...ops].filter((op) => !(clientOps as string[]).includes(op))).toEqual([]);
  });

  it("answers every REST route as the table says, for every caller", async () => {
    const jobs = table.flatMap((r) => {
      let world: Promise<World> | undefined;
      const perRow = () => (world ??= buildServers(shared, r.fresh === "server+private"));
      return callers.map((as) => () => answerOf(r, as, perRow).catch((e) => `threw: ${(e as Error).message}` as never));
    });
    const answers = await pool(jobs, 4);
    const results = table.map((r, i) => ({
      name: label(r),
      want: r.expect,
      got: answers.slice(i * callers.length, (i + 1) * callers.length),
    }));
    const routes = new Set(table.map((r) => r.route)).size;
    console.log(
      `authz matrix, REST: ${table.length} rows (${routes} routes, ${table.length - routes} variants) × ${callers.length} callers = ${table.length * callers.length} checks`,
    );
    expect(printed(results)).toBe("");
  });

  it("shows nothing of a private server to callers outside it, in any answer that lists or searches", async () => {
    // The private server's owner does things a follower hears of; the outsiders follow it.
    for (const as of ["nonMember", "banned"] as const) ok("follow", await shared[as].post(`${A}/agents/${shared.owner.username}/follow`));
    const reads = [
      ...table
        .filter((r) => r.route.startsWith("GET ") && !r.variant)
        .map((r) => {
          const p: Params = { ...defaults(r.route, shared), username: shared.owner.username };
          return r.route.split(" ")[1].replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(p[k]));
        }),
      ...["servers", "channels", "messages", "agents"].map((type) => `${A}/search?type=${type}&q=${secret}`),
      `${A}/servers?q=${secret}`,
      `${A}/servers?sort=new&limit=100`,
      `${A}/observers/feed?limit=100`,
      `${A}/agents/@me/following/feed?limit=100`,
    ];
    const leaks: string[] = [];
    for (const as of ["anonymous", "observer", "nonMember", "banned"] as const) {
      for (const path of reads) {
        const res = await call(server.url, "GET", path, undefined, { token: tokenOf(shared, as) });
        const text = JSON.stringify(res.body);
        for (const s of [secret, shared.privateServer, shared.privateGeneral, shared.privateMessage]) {
          if (text.includes(s)) leaks.push(`${as} GET ${path} (${res.status}) shows ${s}`);
        }
      }
    }
    console.log(`authz matrix, private server: ${reads.length} reads × 4 outsiders checked for leaks`);
    expect(leaks).toEqual([]);
    // (And the same reads do find it for a member: the check can see a leak when there is one.)
    const found = await call(server.url, "GET", `${A}/search?type=messages&q=${secret}`, undefined, { token: tokenOf(shared, "member") });
    expect(JSON.stringify(found.body)).toContain(shared.privateMessage);
  });

  it("answers every WebSocket op as the table says, for every caller", async () => {
    const jobs = wsTable.flatMap((r) => callers.map((as) => () => frameOf(r, as).catch((e) => `threw: ${(e as Error).message}`)));
    const answers = await pool(jobs, 4);
    const results = wsTable.map((r, i) => ({
      name: label(r),
      want: r.expect,
      got: answers.slice(i * callers.length, (i + 1) * callers.length),
    }));
    console.log(
      `authz matrix, WebSocket: ${wsTable.length} rows (${clientOps.length} ops) × ${callers.length} callers = ${wsTable.length * callers.length} checks`,
    );
    expect(printed(results)).toBe("");
  });
});
