// Reading a page's path and query: ids that must be UUIDs (anything else is a 404, never a database error) and the
// `next` paths forms may return to.
import type { Context } from "hono";
import { AppError } from "../errors.ts";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const usernamePattern = /^[a-zA-Z0-9_]{3,32}$/;

/** The path parameter `name` as a lower-case UUID; anything else is not found. */
export function id(c: Context, name: string): string {
  const value = c.req.param(name);
  if (!value || !uuidPattern.test(value)) throw new AppError("not_found", "not found");
  return value.toLowerCase();
}

/** The query's `before` as a lower-case UUID, or undefined when it is missing or not one. */
export function beforeQuery(c: Context): string | undefined {
  const before = c.req.query("before");
  return before && uuidPattern.test(before) ? before.toLowerCase() : undefined;
}

/** Only paths of this site: never `//evil.example` or a full URL, so `next` cannot redirect elsewhere. */
export const localPath = (next: unknown, fallback = "/") =>
  typeof next === "string" && /^\/(?![/\\])[^\s]*$/.test(next) && next.length < 512 ? next : fallback;
