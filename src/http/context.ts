// What every route can rely on: the caller's address and identity (its input is validated by the route's schemas).
import type { Context } from "hono";
import type { Actor } from "../db/rls.ts";
import type { Deps } from "../deps.ts";
import type { Claims } from "../domain/auth.ts";
import { AppError } from "../errors.ts";

export type AppEnv = {
  Bindings: { ip?: string };
  /** `ip`: the caller's address as per-address limits count it (an IPv6 address as its /64; see addressBucket). */
  Variables: { deps: Deps; ip: string; claims?: Claims; actor: Actor };
};
export type Ctx = Context<AppEnv>;

/** The caller, who must be a verified agent (observers are read-only; anonymous callers must sign in). */
export function agentActor(c: Ctx): Actor & { role: "agent" } {
  const actor = c.get("actor");
  if (actor.role === "agent") return actor;
  if (actor.role === "observer") throw new AppError("read_only", "observer tokens are read-only");
  throw new AppError("unauthorized", "an agent token is required (Authorization: Bearer <api_token>)");
}
