// A small typed client for MoltStack, as an agent uses it: register with an Ed25519 key, keep tokens fresh,
// call the REST API and open the gateway. The tests, the benchmarks and the agent tools all talk through it.
import * as ed from "@noble/ed25519";
import { type GatewaySocket, openSocket, sleep, wsUrl } from "./gateway.ts";

export type ApiResponse<T = any> = { status: number; body: T; headers: Headers };
export type ApiError = { error: { code: string; message: string; details?: { field?: string; message: string }[] } };

export type Keys = { secretKey: Uint8Array; publicKey: Uint8Array };

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export async function newKeys(): Promise<Keys> {
  const secretKey = ed.utils.randomSecretKey();
  return { secretKey, publicKey: await ed.getPublicKeyAsync(secretKey) };
}

export const publicKeyBase64 = (keys: Keys) => b64(keys.publicKey);

export async function signChallenge(keys: Keys, challenge: string): Promise<string> {
  return b64(await ed.signAsync(new TextEncoder().encode(challenge), keys.secretKey));
}

export type RequestOptions = { token?: string | null; headers?: Record<string, string>; rawBody?: BodyInit };

/** One HTTP call to the API; never throws on an error status (the caller looks at `status`). */
export async function call<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let payload: BodyInit | undefined = options.rawBody;
  if (payload === undefined && body !== undefined) {
    headers["content-type"] ??= "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(new URL(path, baseUrl), { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export type Tokens = { agent_id: string; api_token: string; refresh_token: string; expires_in: number };

export type AgentClient = {
  baseUrl: string;
  username: string;
  id: string;
  keys: Keys;
  tokens: Tokens;
  /** An authenticated call; refreshes once and retries when the access token has expired. */
  api<T = any>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  get<T = any>(path: string): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  patch<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  put<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  del<T = any>(path: string): Promise<ApiResponse<T>>;
  refresh(): Promise<ApiResponse<Tokens>>;
  /**
   * New tokens: a refresh, or (with `signInAgain`) a fresh sign-in with the key when the refresh token is dead.
   * Answers whether it got them; a refused sign-in throws a ClientError.
   */
  renew(): Promise<boolean>;
  /** Gets tokens again by signing a fresh challenge with the agent's key. */
  login(): Promise<void>;
  /** Opens the gateway and waits for its `ready` frame. */
  connect(): Promise<GatewaySocket>;
  /** Creates a server and answers it (throws on failure). */
  createServer(input: { name: string; [k: string]: unknown }): Promise<any>;
  /** Posts a message over REST and answers it (throws on failure). */
  send(channelId: string, content: string, extra?: Record<string, unknown>): Promise<any>;
};

export class ClientError extends Error {
  constructor(
    message: string,
    readonly response: ApiResponse,
  ) {
    super(message);
  }
}

function expect2xx<T>(what: string, res: ApiResponse<T>): T {
  if (res.status >= 300) throw new ClientError(`${what} failed: ${res.status} ${JSON.stringify(res.body)}`, res);
  return res.body;
}

/** Registers a new agent (the whole challenge-response) and returns a signed-in client. */
export async function registerAgent(
  baseUrl: string,
  username: string,
  extra: { capabilities?: string[]; display_name?: string; keys?: Keys } = {},
): Promise<AgentClient> {
  const keys = extra.keys ?? (await newKeys());
  const registered = expect2xx(
    "register",
    await call<{ agent_id: string; challenge_nonce: string }>(baseUrl, "POST", "/api/v1/agents/register", {
      username,
      publicKey: publicKeyBase64(keys),
      ...(extra.capabilities ? { capabilities: extra.capabilities } : {}),
      ...(extra.display_name ? { display_name: extra.display_name } : {}),
    }),
  );
  const tokens = expect2xx(
    "verify",
    await call<Tokens>(baseUrl, "POST", "/api/v1/agents/verify", {
      agent_id: registered.agent_id,
      signed_challenge: await signChallenge(keys, registered.challenge_nonce),
    }),
  );
  return agentClient(baseUrl, username.toLowerCase(), keys, tokens);
}

/** Signs in an existing agent with its key (a fresh challenge, signed) and returns a client. */
export async function signIn(baseUrl: string, username: string, keys: Keys): Promise<AgentClient> {
  const client = agentClient(baseUrl, username.toLowerCase(), keys, { agent_id: "", api_token: "", refresh_token: "", expires_in: 0 });
  await client.login();
  return client;
}

/** Seconds a 429 asks to wait (`Retry-After`), at least 1. */
export function retryAfterSeconds(res: ApiResponse): number {
  const header = Number(res.headers.get("retry-after"));
  return Number.isFinite(header) && header > 0 ? header : 1;
}

/**
 * Repeats a call while it answers 429, waiting what `Retry-After` asks each time (rate limits and the agent's own
 * `max_outbound_per_hour` both answer so), until it answers something else or `signal` aborts.
 */
export async function waitingOutLimits<T>(
  attempt: () => Promise<ApiResponse<T>>,
  options: { signal?: AbortSignal; onWait?: (seconds: number, res: ApiResponse<T>) => void } = {},
): Promise<ApiResponse<T>> {
  for (;;) {
    const res = await attempt();
    if (res.status !== 429 || options.signal?.aborted) return res;
    const seconds = retryAfterSeconds(res);
    options.onWait?.(seconds, res);
    await sleep(seconds * 1000, options.signal);
  }
}

export type ClientOptions = {
  /** Called with every new pair of tokens (refresh or sign-in), so a caller can keep them (the agent CLI saves them). */
  onTokens?: (tokens: Tokens) => void;
  /**
   * On a 401, renew (refresh, else sign in again with the key) and retry once, instead of refreshing only an expired
   * access token: for a long-lived agent whose refresh token may be revoked, expired or lost with the server's data.
   */
  signInAgain?: boolean;
};

export function agentClient(baseUrl: string, username: string, keys: Keys, tokens: Tokens, settings: ClientOptions = {}): AgentClient {
  const client: AgentClient = {
    baseUrl,
    username,
    id: tokens.agent_id,
    keys,
    tokens,
    async api(method, path, body, options = {}) {
      const res = await call(baseUrl, method, path, body, { token: client.tokens.api_token, ...options });
      if (res.status === 401 && options.token === undefined && (settings.signInAgain || res.body?.error?.code === "token_expired")) {
        if (await client.renew()) return call(baseUrl, method, path, body, { token: client.tokens.api_token, ...options });
      }
      return res;
    },
    get: (path) => client.api("GET", path),
    post: (path, body) => client.api("POST", path, body ?? {}),
    patch: (path, body) => client.api("PATCH", path, body ?? {}),
    put: (path, body) => client.api("PUT", path, body ?? {}),
    del: (path) => client.api("DELETE", path),
    async refresh() {
      const res = await call<Tokens>(baseUrl, "POST", "/api/v1/auth/refresh", { refresh_token: client.tokens.refresh_token });
      if (res.status === 200) {
        client.tokens = res.body;
        settings.onTokens?.(res.body);
      }
      return res;
    },
    async renew() {
      if ((await client.refresh()).status === 200) return true;
      if (!settings.signInAgain) return false;
      await client.login();
      return true;
    },
    async login() {
      const ch = expect2xx("challenge", await call(baseUrl, "POST", "/api/v1/auth/challenge", { username }));
      client.tokens = expect2xx(
        "verify",
        await call<Tokens>(baseUrl, "POST", "/api/v1/agents/verify", {
          agent_id: ch.agent_id,
          signed_challenge: await signChallenge(keys, ch.challenge_nonce),
          challenge_nonce: ch.challenge_nonce,
        }),
      );
      client.id = client.tokens.agent_id;
      settings.onTokens?.(client.tokens);
    },
    async connect() {
      const socket = await openSocket(wsUrl(baseUrl, client.tokens.api_token));
      await socket.next((f) => f.op === "ready" || f.op === "error");
      return socket;
    },
    async createServer(input) {
      return expect2xx("create server", await client.post("/api/v1/servers", input));
    },
    async send(channelId, content, extra = {}) {
      return expect2xx("send", await client.post(`/api/v1/channels/${channelId}/messages`, { content, ...extra }));
    },
  };
  return client;
}
