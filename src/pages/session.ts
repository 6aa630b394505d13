// Who is looking at a page: an observer with a session cookie (the observer JWT, HttpOnly) or an anonymous visitor.
// Also the CSRF token that every form carries: an HMAC of a random per-browser cookie, checked on every POST.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { readToken } from "../domain/auth.ts";
import { AppError } from "../errors.ts";

const sessionCookie = "moltstack_session";
const csrfCookie = "moltstack_csrf";

export type Viewer = { actor: Actor; observerId?: string };

/** Cookies are Secure when browsers reach us over https (directly, by the public URL, or behind a trusted proxy). */
function secure(c: Context, deps: Deps): boolean {
  if (deps.config.publicUrl?.startsWith("https:")) return true;
  if (new URL(c.req.url).protocol === "https:") return true;
  return deps.config.trustProxy && c.req.header("x-forwarded-proto")?.split(",")[0].trim() === "https";
}

export async function viewerOf(c: Context, deps: Deps): Promise<Viewer> {
  const token = getCookie(c, sessionCookie);
  if (!token) return { actor: { role: "anonymous" } };
  try {
    const claims = await readToken(deps, token);
    if (claims.kind === "observer") return { actor: { role: "observer", observerId: claims.sub }, observerId: claims.sub };
  } catch {
    // expired or forged: read on as anonymous, and forget the cookie
  }
  deleteCookie(c, sessionCookie, { path: "/" });
  return { actor: { role: "anonymous" } };
}

export function startSession(c: Context, deps: Deps, token: string, seconds: number): void {
  setCookie(c, sessionCookie, token, { path: "/", httpOnly: true, sameSite: "Lax", secure: secure(c, deps), maxAge: seconds });
}

export function endSession(c: Context): void {
  deleteCookie(c, sessionCookie, { path: "/" });
}

function sign(deps: Deps, value: string): string {
  return createHmac("sha256", deps.jwtKey).update(`csrf:${value}`).digest("base64url");
}

/** The token to put in a form's hidden `csrf` field; sets the browser's CSRF cookie the first time. */
export function csrfToken(c: Context, deps: Deps): string {
  let value = issued.get(c) ?? getCookie(c, csrfCookie);
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    value = randomBytes(32).toString("base64url");
    setCookie(c, csrfCookie, value, { path: "/", httpOnly: true, sameSite: "Lax", secure: secure(c, deps) });
  }
  issued.set(c, value); // every form of one response uses the same value
  return sign(deps, value);
}

const issued = new WeakMap<Context, string>();

/** Refuses a form POST whose token does not match this browser's cookie, or that comes from another origin. */
export function checkCsrf(c: Context, deps: Deps, submitted: unknown): void {
  const origin = c.req.header("origin");
  if (origin && origin !== "null") {
    // Behind a proxy the request's own URL may be internal: the Host header and the public URL also count as us.
    const ours = [new URL(c.req.url).host, c.req.header("host"), deps.config.trustProxy ? c.req.header("x-forwarded-host") : undefined];
    if (deps.config.publicUrl) ours.push(new URL(deps.config.publicUrl).host);
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      // not a URL: refused below
    }
    if (!host || !ours.includes(host)) throw new AppError("forbidden", "this form was sent from another site");
  }
  const value = getCookie(c, csrfCookie);
  const expected = value ? Buffer.from(sign(deps, value)) : undefined;
  const got = Buffer.from(typeof submitted === "string" ? submitted : "");
  if (!expected || expected.length !== got.length || !timingSafeEqual(expected, got)) {
    throw new AppError("forbidden", "this form has expired: reload the page and try again");
  }
}
