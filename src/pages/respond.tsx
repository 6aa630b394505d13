/** @jsxImportSource hono/jsx */
// How a page answers: the HTML with its security and caching headers (a partial for htmx, the whole document
// otherwise), the error page for anything thrown by a page route, and the designed 404.
import type { Context, ErrorHandler } from "hono";
import type { Child } from "hono/jsx";
import { ErrorPage } from "../../views/errors.tsx";
import { AppError, isOutage } from "../errors.ts";
import type { AppEnv } from "../http/context.ts";
import { type PageState, viewOrNobody } from "./state.ts";

/** Strict: scripts and styles only from /static (no inline code, no eval), images from http(s), nothing framed. */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: http:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function html(c: Context, node: Child, status = 200): Response {
  c.header("Content-Security-Policy", contentSecurityPolicy);
  c.header("X-Frame-Options", "DENY");
  c.header("Cache-Control", "private, no-cache");
  c.header("Vary", "Cookie, HX-Request, HX-Target");
  const partial = c.req.header("hx-request") === "true" && c.req.header("hx-boosted") !== "true" && status === 200;
  return c.html(`${partial ? "" : "<!doctype html>"}${String(node)}`, status as 200);
}

/** The pages' onError: a bad id or query is a 404, an outage a 503 with Retry-After, anything else logged as a 500. */
export const errorPage =
  (state: PageState): ErrorHandler<AppEnv> =>
  async (err, c) => {
    const outage = !(err instanceof AppError) && isOutage(err);
    const status =
      err instanceof AppError ? (err.code === "validation_failed" || err.code === "bad_request" ? 404 : err.status) : outage ? 503 : 500;
    if (outage) c.header("Retry-After", "5");
    else if (!(err instanceof AppError)) {
      console.error(
        `${c.req.method} ${new URL(c.req.url).pathname} failed: ${(err as Error)?.name}: ${String((err as Error)?.message)
          .split("\n")[0]
          .slice(0, 300)}`,
      );
    }
    if (err instanceof AppError && err.retryAfter !== undefined) c.header("Retry-After", String(err.retryAfter));
    const view = await viewOrNobody(state, c);
    return html(
      c,
      <ErrorPage viewer={view} status={status} message={status < 500 && err instanceof AppError ? err.message : undefined} />,
      status,
    );
  };

/** The designed 404, for app.notFound (paths outside the API that nothing answers). */
export async function notFoundPage(state: PageState, c: Context): Promise<Response> {
  const view = await viewOrNobody(state, c);
  return html(c, <ErrorPage viewer={view} status={404} />, 404);
}
