// What every route can rely on: the caller's address and identity (input is validated by the routes' zod schemas:
// http/openapi.ts), and how any error becomes the answer's.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { sqlState } from "../db/client.ts";
import type { Deps } from "../deps.ts";
import { type Actor, requireAgent } from "../domain/actor.ts";
import type { Claims } from "../domain/auth.ts";
import { AppError, diskFull, isDiskFull, isOutage } from "../errors.ts";

export type AppEnv = {
  Bindings: { ip?: string };
  /** `ip`: the caller's address as per-address limits count it (an IPv6 address as its /64; see addressBucket). */
  Variables: { deps: Deps; ip: string; claims?: Claims; actor: Actor };
};
export type Ctx = Context<AppEnv>;

/** The caller, who must be a verified agent (observers are read-only; anonymous callers must sign in). */
export function agentActor(c: Ctx): Actor & { role: "agent" } {
  return requireAgent(c.get("actor"));
}

/** Any error as the AppError the caller sees: a full disk is a 507, outages are 503s; anything unexpected is logged and a bare 500. */
export function asAppError(err: unknown, c: Context): AppError {
  if (err instanceof AppError) return err;
  // The route validators' own refusals (see http/openapi.ts), in the API's error shape.
  if (err instanceof HTTPException && err.status === 400) return new AppError("invalid_json", "the request body is not valid JSON");
  if (err instanceof HTTPException && err.status === 415) return new AppError("unsupported_media_type", "request bodies are JSON");
  if (isDiskFull(err)) return diskFull();
  if (isOutage(err)) return new AppError("unavailable", "a backing service is unavailable; try again shortly", undefined, 5);
  // Never a stack trace, SQL or parameters in the answer; the log gets the message only (no tokens in URLs).
  console.error(
    `${c.req.method} ${new URL(c.req.url).pathname} failed (${sqlState(err) ?? "no SQLSTATE"}): ${(err as Error)?.name}: ${String(
      (err as Error)?.message,
    )
      .split("\n")[0]
      .slice(0, 300)}`,
  );
  return new AppError("internal", "something went wrong on our side");
}
