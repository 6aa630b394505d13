// Cross-cutting HTTP concerns: client address, rate limits with their headers, and the caller's identity.
import type { Context, MiddlewareHandler } from "hono";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { authorize, type Claims, readToken, sessionRefusalCodes } from "../domain/auth.ts";
import { idempotencyKey, once } from "../domain/idempotency.ts";
import type { Limit, Verdict } from "../stores/limits.ts";
import { AppError } from "../errors.ts";
import { callerAddress } from "../lib/address.ts";
import { sha256Hex } from "../lib/crypto.ts";
import type { AppEnv } from "./context.ts";

const readOnlyMethods = new Set(["GET", "HEAD", "OPTIONS"]);

export function clientAddress(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("deps", deps);
    c.set("ip", callerAddress(deps.config, c.env?.ip, c.req.header("x-forwarded-for")));
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
 * response, then the caller's identity. Checking the JWT is cheap and happens first (and once per token: the read
 * model keeps it); the session (revoked? suspended?) is checked once the request is within its limit, before the act,
 * from the read model or, on a miss, with one statement (authorize).
 */
export function apiIdentity(deps: Deps): MiddlewareHandler<AppEnv> {
  const { limits } = deps.config;
  const perAddress: Limit = { name: "api_ip", max: limits.anonymousPerMinute, windowSeconds: 60 };
  return async (c, next) => {
    let claims: Claims | undefined;
    let tokenError: unknown;
    try {
      const token = bearer(c.req.header("authorization"));
      if (token) claims = await readToken(deps, token);
    } catch (e) {
      tokenError = e;
    }
    const perCaller: Limit | undefined = claims && {
      name: "api",
      max: claims.kind === "agent" ? limits.apiPerMinute : limits.anonymousPerMinute,
      windowSeconds: 60,
    };
    // A read far below its caller's limit is answered without waiting for Redis's count (stores/limits.ts).
    const early = { early: readOnlyMethods.has(c.req.method) };
    const verdict =
      claims && perCaller ? await deps.limiter.hit(perCaller, claims.sub, early) : await deps.limiter.hit(perAddress, c.get("ip"), early);
    rateLimitHeaders(c, verdict);
    if (!claims && !verdict.allowed) throw rateLimited(verdict);
    if (tokenError) throw tokenError;
    if (claims && perCaller) {
      if (claims.kind === "observer" && !readOnlyMethods.has(c.req.method)) {
        throw new AppError("read_only", "observer tokens are read-only");
      }
      // Over its limit, a request is refused before the database is asked anything (a revoked credential included:
      // it cannot push its owner over the limit, below).
      if (!verdict.allowed) throw rateLimited(verdict);
      c.set("claims", claims);
      // A revoked key or token (or a suspended agent's) is a stranger's request: it spends its address's allowance,
      // never its owner's.
      let actor: Actor;
      try {
        actor = await authorize(deps, claims);
      } catch (e) {
        if (e instanceof AppError && sessionRefusalCodes.has(e.code)) {
          await deps.limiter.undo(perCaller, claims.sub);
          const own = await deps.limiter.hit(perAddress, c.get("ip"));
          rateLimitHeaders(c, own);
          if (!own.allowed) throw rateLimited(own);
        }
        throw e;
      }
      c.set("actor", actor);
      await next();
      return;
    }
    await next();
  };
}

function rateLimitHeaders(c: Context<AppEnv>, verdict: Verdict): void {
  c.header("X-RateLimit-Limit", String(verdict.limit));
  c.header("X-RateLimit-Remaining", String(verdict.remaining));
  c.header("X-RateLimit-Reset", String(verdict.resetSeconds));
}

const rateLimited = (verdict: Verdict) =>
  new AppError(
    "rate_limited",
    `rate limit reached: ${verdict.limit} requests per minute; retry in ${verdict.resetSeconds}s`,
    undefined,
    verdict.resetSeconds,
  );

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
    // Kept per credential (session or API key), not only per agent: an answer is never replayed to another bearer.
    const credential = c.get("claims")?.sid ?? actor.agentId;
    const answer = await once(deps, actor, `rest:${credential}:${key.data}`, requestHash, async () => {
      await next();
      // The route's error became an answer already; `once` needs the error itself (a key taken meanwhile, an outage).
      if (c.error) throw c.error;
      return {
        status: c.res.status,
        body: c.res.status === 204 ? "" : await c.res.clone().text(),
        // A secret's answer (see answersSecret) is not kept, here or anywhere.
        keep: !/\bno-store\b/i.test(c.res.headers.get("cache-control") ?? ""),
      };
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
