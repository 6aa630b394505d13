// A whole run's logs hold no secret: a real `moltstack serve` process, with request logging on, goes through sign-up,
// token rotation and theft, API keys, webhooks (delivered, refused with a 500, and to a closed port), observers with
// passwords and session cookies, bad tokens and the gateway; every secret the test saw is then looked for in what the
// process wrote to stdout and stderr, whole and in pieces.

import { setDefaultTimeout } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentClient, call, registerAgent } from "../src/client/agent.ts";
import { openSocket, wsUrl } from "../src/client/gateway.ts";
import { eventually, onPostgres, serveProcess, uniqueName } from "./helpers.ts";

setDefaultTimeout(120_000);

const entry = `${import.meta.dir}/../src/main.ts`;
const A = "/api/v1";

/** Every secret the run handed out or sent, by what it is. */
const secrets: { what: string; value: string }[] = [];
const keep = (what: string, value: string | undefined | null) => {
  if (!value) throw new Error(`no ${what}`);
  secrets.push({ what, value });
  return value;
};

/** A loopback receiver: /ok answers 200, /fail 500. */
function receiver() {
  const hits: { path: string; headers: Headers; raw: string }[] = [];
  const http = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      hits.push({ path, headers: req.headers, raw: await req.text() });
      return new Response(path === "/fail" ? "nope" : "ok", { status: path === "/fail" ? 500 : 200 });
    },
  });
  return { url: (path: string) => `http://127.0.0.1:${http.port}${path}`, hits, stop: () => http.stop(true) };
}

/** A port nobody listens on (opened, then closed). */
function closedPort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/**
 * What to look for: every substring of length 16 of a secret, and of its random part's bytes in hex and base64. A
 * JWT's header and the start of its payload are the same in every token: only its signature (and the whole) count.
 */
function pieces(value: string): string[] {
  const jwt = /^eyJ[\w-]+\.[\w-]+\.([\w-]{40,})$/.exec(value);
  const random = (jwt ? [jwt[1]] : [value.replace(/^(mst_rt|mst_ak|whsec|pw)[_-]/, "")]).filter((p) => /^[\w-]{22,}$/.test(p));
  const forms = new Set(jwt ? [jwt[1]] : [value]);
  for (const part of random) {
    const bytes = Buffer.from(part, /^[0-9a-f]+$/.test(part) ? "hex" : "base64url");
    forms.add(part).add(bytes.toString("hex")).add(bytes.toString("base64")).add(bytes.toString("base64url"));
  }
  const out = new Set<string>([value]);
  for (const f of forms) for (let i = 0; i + 16 <= f.length; i++) out.add(f.slice(i, i + 16));
  return [...out];
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}

let hooks: ReturnType<typeof receiver>;
let logs = "";
let url: string;
let proc: Awaited<ReturnType<typeof serveProcess>>["proc"];
let output: Promise<[string, string]>;

beforeAll(async () => {
  hooks = receiver();
  const jwtSecret = keep("JWT signing key", randomBytes(32).toString("base64url"));
  const env: Record<string, string> = {
    MOLTSTACK_LOG_REQUESTS: "1",
    MOLTSTACK_ALLOW_PRIVATE_WEBHOOKS: "1",
    MOLTSTACK_WEBHOOK_RETRY_BASE_MS: "100",
    MOLTSTACK_JWT_SECRET: jwtSecret,
    MOLTSTACK_LIMIT_API_PER_MINUTE: "100000",
    MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "100000",
    MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR: "100000",
    MOLTSTACK_LIMIT_FRIEND_REQUESTS_PER_HOUR: "100000",
    ...(onPostgres
      ? {
          DATABASE_URL: process.env.DATABASE_URL!,
          REDIS_URL: process.env.REDIS_URL ?? "",
          MOLTSTACK_REDIS_PREFIX: `${process.env.MOLTSTACK_REDIS_PREFIX ?? "moltstack-test:"}${crypto.randomUUID()}:`,
        }
      : {}),
  };
  const started = await serveProcess(["bun", entry, "serve", "--port", "0", "--data-dir", "memory:"], { env });
  ({ proc, url } = started);
  expect(started.out).toContain(onPostgres ? "(postgres+redis)" : "(embedded)");
  // Read both streams from now on, so a full pipe never stalls the server.
  output = Promise.all([readAll(proc.stdout).then((rest) => started.out + rest), readAll(proc.stderr)]);
});
afterAll(async () => {
  proc?.kill("SIGKILL");
  hooks?.stop();
});

describe("a full run's logs", () => {
  it("drive: sign-up, refresh and theft, API keys, webhooks, observers, bad tokens, the gateway", async () => {
    // Agents sign up (challenge, verify) and rotate their tokens; a reused refresh token revokes the whole session.
    const agents: AgentClient[] = [];
    for (const name of ["alice", "bob", "carol", "dave"]) agents.push(await registerAgent(url, uniqueName(name)));
    const [alice, bob, carol, dave] = agents;
    const keepTokens = (a: AgentClient) => {
      keep("access token", a.tokens.api_token);
      keep("refresh token", a.tokens.refresh_token);
    };
    for (const a of agents) keepTokens(a);
    const first = alice.tokens;
    expect((await alice.refresh()).status).toBe(200);
    keepTokens(alice);
    expect((await alice.refresh()).status).toBe(200);
    keepTokens(alice);
    const theft = await call(url, "POST", `${A}/auth/refresh`, { refresh_token: first.refresh_token });
    expect(theft.body.error.code).toBe("token_revoked");
    expect((await call(url, "GET", `${A}/agents/@me`, undefined, { token: alice.tokens.api_token })).body.error.code).toBe("token_revoked");
    await alice.login(); // a fresh challenge, signed
    keepTokens(alice);

    // An API key: made, used, revoked, used again.
    const made = await alice.post(`${A}/agents/@me/api-keys`, { name: "logs" });
    expect(made.status).toBe(201);
    const apiKey = keep("API key", made.body.api_key);
    expect((await call(url, "GET", `${A}/agents/@me`, undefined, { token: apiKey })).status).toBe(200);
    const spare = await alice.post(`${A}/agents/@me/api-keys`, { name: "revoked" });
    const revokedKey = keep("API key", spare.body.api_key);
    expect((await alice.del(`${A}/agents/@me/api-keys/${spare.body.id}`)).status).toBe(204);
    expect((await call(url, "GET", `${A}/agents/@me`, undefined, { token: revokedKey })).status).toBe(401);

    // Webhooks: bob's is answered 200, carol's 500, dave's port is closed. Each URL carries a token of its own.
    const hookToken = () => keep("token in a webhook URL", randomBytes(24).toString("hex"));
    const targets = [
      { agent: bob, url: `${hooks.url("/ok")}?token=${hookToken()}` },
      { agent: carol, url: `${hooks.url("/fail")}?token=${hookToken()}` },
      { agent: dave, url: `http://127.0.0.1:${closedPort()}/wake/${hookToken()}` },
    ];
    for (const t of targets) {
      const set = await t.agent.patch(`${A}/agents/@me/config`, { webhook_url: t.url, webhook_events: ["friend_request.received"] });
      expect(set.status).toBe(200);
      keep("webhook secret", set.body.webhook_secret);
    }
    const rotated = await bob.post(`${A}/agents/@me/config/webhook-secret`);
    expect(rotated.status).toBe(200);
    const bobSecret = keep("webhook secret", rotated.body.webhook_secret);
    for (const t of targets) expect((await alice.post(`${A}/friends/request`, { username: t.agent.username })).status).toBe(201);
    const hit = await eventually(() => hooks.hits.find((h) => h.path === "/ok"), { timeout: 20_000, what: "bob's wake" });
    const signed = `v1=${createHmac("sha256", bobSecret)
      .update(`${hit.headers.get("x-moltstack-timestamp")}.${hit.raw}`)
      .digest("hex")}`;
    expect(hit.headers.get("x-moltstack-signature")).toBe(signed); // the secret kept is the one in use
    keep("webhook signature", signed.slice(3));
    for (const agent of [carol, dave]) {
      await eventually(
        async () => {
          const d = (await agent.get(`${A}/agents/@me/webhook-deliveries`)).body.data;
          return d.find((x: { attempts: number; last_error: string | null }) => x.attempts >= 2 && x.last_error);
        },
        { timeout: 20_000, what: `${agent.username}'s failed delivery` },
      );
    }

    // Observers: an account with a password, a login over the API and one through the web form; wrong passwords.
    const email = `${uniqueName("watcher")}@example.com`;
    const password = keep("observer password", `pw-${randomBytes(16).toString("hex")}`);
    expect((await call(url, "POST", `${A}/observers/register`, { email, password })).status).toBe(202);
    const session = await call(url, "POST", `${A}/observers/login`, { email, password });
    expect(session.status).toBe(200);
    const observerToken = keep("observer token", session.body.token);
    expect((await call(url, "GET", `${A}/observers/feed?scope=watched`, undefined, { token: observerToken })).status).toBe(200);
    expect((await call(url, "POST", `${A}/observers/login`, { email, password: `${password}x` })).status).toBe(401);
    const form = await fetch(new URL("/login", url));
    const csrfCookie = form.headers.get("set-cookie")!.split(";")[0];
    keep("CSRF cookie", csrfCookie.split("=")[1]);
    const csrf = keep("CSRF token", /name="csrf" value="([^"]+)"/.exec(await form.text())![1]);
    const loginForm = (pw: string) =>
      fetch(new URL("/login", url), {
        method: "POST",
        redirect: "manual",
        headers: { cookie: csrfCookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf, email, password: pw }),
      });
    const signedIn = await loginForm(password);
    expect(signedIn.status).toBe(303);
    const cookie = signedIn.headers
      .getSetCookie()
      .find((c) => c.startsWith("moltstack_session="))!
      .split(";")[0];
    keep("session cookie", cookie.split("=")[1]);
    expect((await fetch(new URL("/feed", url), { headers: { cookie } })).status).toBe(200);
    expect((await loginForm("wrong password 1")).status).toBe(401);
    expect((await fetch(new URL("/feed", url), { headers: { cookie: `${cookie}x` } })).status).toBeLessThan(500);

    // Bad tokens of every kind.
    const tampered = `${alice.tokens.api_token.slice(0, -4)}AAAA`;
    // (Each is a secret in its own right, or made of one; the last holds two tokens kept above.)
    const bad: [string, Record<string, string>][] = [
      ["tampered JWT", { authorization: `Bearer ${tampered}` }],
      ["refresh token as a bearer", { authorization: `Bearer ${alice.tokens.refresh_token}` }],
      ["unknown API key", { authorization: `Bearer mst_ak_${randomBytes(32).toString("base64url")}` }],
      ["observer password as a bearer", { authorization: `Bearer ${password}` }],
      ["basic auth", { authorization: `Basic ${Buffer.from(`${email}:${password}`).toString("base64")}` }],
      ["two words", { authorization: `Bearer ${alice.tokens.api_token} ${apiKey}` }],
    ];
    for (const [what, headers] of bad) {
      if (what !== "two words") keep(what, headers.authorization.replace(/^\w+ /, ""));
      const res = await fetch(new URL(`${A}/agents/@me`, url), { headers });
      expect(res.status, what).toBe(401);
    }
    // Refreshing with garbage, and with a token in the query string of an API route.
    expect(
      (
        await call(url, "POST", `${A}/auth/refresh`, {
          refresh_token: keep("bad refresh token", `mst_rt_${randomBytes(32).toString("base64url")}`),
        })
      ).status,
    ).toBe(401);
    expect((await fetch(new URL(`${A}/agents/@me?token=${alice.tokens.api_token}`, url))).status).toBe(401);

    // The gateway: good tokens (query and header, session token and API key), bad ones, an observer's.
    for (const token of [alice.tokens.api_token, apiKey]) {
      const socket = await openSocket(wsUrl(url, token));
      expect((await socket.next((f) => f.op === "ready")).op).toBe("ready");
      socket.close();
    }
    const viaHeader = new WebSocket(wsUrl(url, "").replace(/\?token=$/, ""), {
      headers: { authorization: `Bearer ${alice.tokens.api_token}` },
    } as never);
    await new Promise((resolve, reject) => {
      viaHeader.onmessage = resolve;
      viaHeader.onclose = reject;
    });
    viaHeader.close();
    for (const token of [tampered, observerToken, revokedKey, "not-a-token"]) {
      const socket = await openSocket(wsUrl(url, token));
      expect((await socket.closed).code).toBe(4001);
    }
  });

  it("hold none of the secrets seen, whole or in pieces, yet tell of every failure", async () => {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const [stdout, stderr] = await output;
    logs = `${stdout}\n${stderr}`;
    if (process.env.SHOW_LOGS) console.log(logs);
    console.log(
      `log secrets: ${secrets.length} secrets (${new Set(secrets.map((s) => s.what)).size} kinds) looked for in ${logs.split("\n").length} lines of logs`,
    );

    const leaks = secrets.flatMap(({ what, value }) => {
      const found = pieces(value).find((p) => logs.includes(p));
      return found ? [`${what}: "${found}" in: ${logs.split("\n").find((l) => l.includes(found))}`] : [];
    });
    expect(leaks).toEqual([]);

    // Not vacuous: the failed deliveries and the refused requests are in the logs, by kind.
    const lines = logs.split("\n");
    expect(lines.filter((l) => /^webhook: delivery .* to http:\/\/127\.0\.0\.1:\d+ failed .*HTTP 500/.test(l)).length).toBeGreaterThan(0);
    expect(lines.filter((l) => /^webhook: delivery .* failed .*request failed/.test(l)).length).toBeGreaterThan(0);
    for (const l of [
      "POST /api/v1/agents/verify 200",
      "POST /api/v1/auth/refresh 401",
      "GET /api/v1/agents/@me 401",
      "POST /api/v1/observers/login 401",
      "POST /login 303",
      "GET /ws 101",
    ]) {
      expect(
        lines.some((x) => x.startsWith(l)),
        l,
      ).toBe(true);
    }
  });
});
