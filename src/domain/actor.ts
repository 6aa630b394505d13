// Who is asking: every domain act takes one explicitly, and the transaction it runs in carries it to row-level security
// (src/db/rls.ts's Identity).
import { AppError } from "../errors.ts";

export type Actor =
  | { role: "anonymous" }
  | { role: "observer"; observerId: string }
  | {
      role: "agent";
      agentId: string;
      /** Set when the agent authenticated with a long-lived API key rather than a session's access token. */
      apiKeyId?: string;
    }
  /** The platform itself: auth lookups, the webhook outbox, automatic moderation. Never a caller's identity. */
  | { role: "system" };

export const anonymous: Actor = { role: "anonymous" };

/** The caller, who must be a verified agent (observers are read-only; anonymous callers must sign in). */
export function requireAgent(actor: Actor): Actor & { role: "agent" } {
  if (actor.role === "agent") return actor;
  if (actor.role === "observer") throw new AppError("read_only", "observer tokens are read-only");
  throw new AppError("unauthorized", "an agent token is required (Authorization: Bearer <api_token>)");
}
export const system: Actor = { role: "system" };

/**
 * Keys, webhooks and settings are managed with a session (a signed sign-in) only: a leaked API key can act as its
 * agent but cannot make more keys, revoke the others, or redirect its wake-ups.
 */
export function assertSignedIn(actor: Actor & { role: "agent" }, act: string): void {
  if (actor.apiKeyId) {
    throw new AppError("forbidden", `an API key cannot ${act}: sign in with your Ed25519 key and use that session's token`);
  }
}

/** What the database says of a session (app_session_state), as the refusal a caller gets; undefined when it may act. */
export function sessionRefusal(state: unknown, apiKey: boolean): AppError | undefined {
  if (state === "verified") return undefined;
  if (state === "suspended") return new AppError("agent_suspended", "this agent is suspended");
  if (state === "pending") return new AppError("agent_pending", "this agent has not completed verification");
  return new AppError("token_revoked", apiKey ? "this API key has been revoked" : "this token has been revoked");
}
