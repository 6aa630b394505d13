// Cross-cutting HTTP concerns: client address, rate limits with their headers, and the caller's identity.
import type { MiddlewareHandler } from "hono";
import type { Deps } from "../deps.ts";
import { type Claims, checkSession, readToken, sessionActor, sessionFromMemory } from "../domain/auth.ts";
import { idempotencyKey, once } from "../domain/idempotency.ts";
import { AppError } from "../errors.ts";
import { sha256Hex } from "../lib/crypto.ts";
import type { AppEnv } from "./context.ts";

const readOnlyMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The address per-address limits count a caller by. An IPv6 subscriber is handed a whole /64 and can hop between its
 * addresses at will, so it counts as its /64; an IPv4-mapped IPv6 address counts as the IPv4 address it carries.
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(":") || address.includes(".")) return address;
  const bare = address.split("%")[0].toLowerCase(); // without a zone index (fe80::1%eth0)
  const halves = bare.split("::");
  if (halves.length > 2) return address;
  const [head, tail] = halves;
  const before = head ? head.split(":") : [];
  const after = tail === undefined ? [] : tail ? tail.split(":") : [];
  const groups = tail === undefined ? before : [...before, ...Array(Math.max(0, 8 - before.length - after.length)).fill("0"), ...after];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return address;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

export function clientAddress(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let ip = c.env?.ip ?? "unknown";
    if (deps.config.trustProxy) {
      // The last hop is the one our own proxy appended; earlier entries are whatever the client claimed.
      const forwarded = c.req
        .header("x-forwarded-for")
        ?.split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (forwarded?.length) ip = forwarded[forwarded.length - 1];
    }
    c.set("deps", deps);
    c.set("ip", addressBucket(ip));
    c.set("actor", { role: "anonymous" });
    await next();
  };
}

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw new AppError("unauthorized", "the Authorization header must be 'Bearer <token>'");
  return m[1];
}

/**
 * API rate limit (100/min per agent, per IP for callers without a token) with X-RateLimit-* headers on every
 * response, then the caller's identity. Checking the JWT is cheap and happens first; the database is only asked
 * (revocation, suspension) once the request is within its limit, and by the act's own first transaction (in the
 * statement that sets its identity): an act that never reached one has its token checked on its own afterwards,
 * and a refused token replaces whatever it answered.
 */
export function apiIdentity(deps: Deps): MiddlewareHandler<AppEnv> {
  const { limits } = deps.config;
  return async (c, next) => {
    let claims: Claims | undefined;
    let tokenError: unknown;
    try {
      const token = bearer(c.req.header("authorization"));
      if (token) claims = await readToken(deps, token);
    } catch (e) {
      tokenError = e;
    }
    const verdict = claims
      ? await deps.limiter.hit(
          { name: "api", max: claims.kind === "agent" ? limits.apiPerMinute : limits.anonymousPerMinute, windowSeconds: 60 },
          claims.sub,
        )
      : await deps.limiter.hit({ name: "api_ip", max: limits.anonymousPerMinute, windowSeconds: 60 }, c.get("ip"));
    c.header("X-RateLimit-Limit", String(verdict.limit));
    c.header("X-RateLimit-Remaining", String(verdict.remaining));
    c.header("X-RateLimit-Reset", String(verdict.resetSeconds));
    if (!verdict.allowed) {
      throw new AppError(
        "rate_limited",
        `rate limit reached: ${verdict.limit} requests per minute; retry in ${verdict.resetSeconds}s`,
        undefined,
        verdict.resetSeconds,
      );
    }
    if (tokenError) throw tokenError;
    if (claims) {
      if (claims.kind === "observer" && !readOnlyMethods.has(c.req.method)) {
        throw new AppError("read_only", "observer tokens are read-only");
      }
      c.set("claims", claims);
      const actor = sessionActor(claims);
      const remember = sessionFromMemory(deps, actor);
      c.set("actor", actor);
      await next();
      try {
        await checkSession(deps, actor);
      } finally {
        remember();
      }
      return;
    }
    await next();
  };
}

/**
 * `Idempotency-Key` on an agent's POST: the same key and request within 24 hours answers the first answer (status and
 * body, with `Idempotent-Replayed: true`) and creates nothing; the same key with another request is 422.
 */
export function idempotentPosts(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("idempotency-key");
    const actor = c.get("actor");
    if (header === undefined || c.req.method !== "POST" || actor.role !== "agent") return next();
    const key = idempotencyKey.safeParse(header);
    if (!key.success) {
      throw new AppError("validation_failed", `Idempotency-Key: ${key.error.issues[0].message}`, [
        { field: "Idempotency-Key", message: key.error.issues[0].message },
      ]);
    }
    const url = new URL(c.req.url);
    // Read from a copy: the request stays unread for whatever comes next (body validation may replace it).
    const requestHash = sha256Hex(`POST ${url.pathname}${url.search}\n${await c.req.raw.clone().text()}`);
    const answer = await once(deps, actor, `rest:${key.data}`, requestHash, async (claimed) => {
      c.set("actor", claimed);
      await next();
      // The route's error became an answer already; `once` needs the error itself (a key taken meanwhile, an outage).
      if (c.error) throw c.error;
      return { status: c.res.status, body: c.res.status === 204 ? "" : await c.res.clone().text() };
    });
    if (answer.replayed) {
      // Replaces the answer of a request that lost the race for the key, if this one ran at all.
      const replayed = { "Idempotent-Replayed": "true" };
      c.res = undefined;
      c.res =
        answer.body === ""
          ? c.body(null, answer.status as 204, replayed)
          : c.body(answer.body, answer.status as 200, { ...replayed, "content-type": "application/json" });
    }
  };
}
