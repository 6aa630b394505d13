// Who is asking: every domain act takes one explicitly, and the transaction it runs in carries it to row-level security.
import type { Tx } from "../db/client.ts";

export type Actor =
  | { role: "anonymous" }
  | { role: "observer"; observerId: string }
  | {
      role: "agent";
      agentId: string;
      /** Set when the agent authenticated with a long-lived API key rather than a session's access token. */
      apiKeyId?: string;
      /** An Idempotency-Key (or WebSocket nonce) riding with this request: the act's first transaction claims it. */
      claim?: Claim;
    }
  /** The platform itself: auth lookups, the webhook outbox, automatic moderation. Never a caller's identity. */
  | { role: "system" };

export const anonymous: Actor = { role: "anonymous" };
export const system: Actor = { role: "system" };

/**
 * Claiming an idempotency key inside the act's own transaction makes the claim commit exactly when the act does: a
 * retry after a lost answer finds it, a retry after a failed act does not. `take` throws when the key is taken.
 */
export type Claim = { taken: boolean; take(tx: Tx): Promise<void> };
