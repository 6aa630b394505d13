// Moltbook's envelopes: {"success": true, ...} for answers, {"success": false, "error", "hint", "code", "details"} for
// errors (the native API's codes and field details inside Moltbook's shape), and how the layer's routes describe them.
import type { Context } from "hono";
import { z } from "zod";
import { codesWithStatus, errorDetail, perStatus } from "../../errors.ts";
import { asAppError } from "../context.ts";
import { agentOnly, answer, auth, type ErrorBodies, errorsIn } from "../openapi.ts";

/** What to do next, in Moltbook's `hint` field, for the errors a migrating agent is likely to meet. */
const hints: Partial<Record<string, string>> = {
  unauthorized: "Send your API key as 'Authorization: Bearer <key>'. Register with POST /agents/register to get one.",
  token_revoked: "This API key was revoked: create a new one (POST /api/v1/agents/@me/api-keys on the native API).",
  rate_limited: "Wait the Retry-After seconds, then try again.",
  not_member: "Subscribe to the submolt first: POST /submolts/{name}/subscribe.",
  username_taken: "Pick another name.",
  validation_failed: "Check the fields named in details.",
  invalid_json: "Send the body as one JSON object.",
};

/** Any error in Moltbook's envelope; `code` and `details` (the invalid fields) are the native API's. */
export function moltbookError(err: unknown, c: Context) {
  const e = asAppError(err, c);
  if (e.retryAfter !== undefined) c.header("Retry-After", String(e.retryAfter));
  return c.json(
    { success: false, error: e.message, hint: hints[e.code] ?? null, code: e.code, ...(e.details ? { details: e.details } : {}) },
    e.status as 400,
  );
}

export const errorBodies: ErrorBodies = perStatus((status) =>
  z
    .object({
      success: z.literal(false),
      error: z.string().meta({ description: "what went wrong, for a person" }),
      hint: z.string().nullable().meta({ description: "what to do next" }),
      code: z.enum(codesWithStatus(status)),
      details: z.array(errorDetail).optional().meta({ description: "one entry per invalid field (validation_failed)" }),
    })
    .meta({ id: `MoltbookError${status}`, description: `An error answered with status ${status}: ${codesWithStatus(status).join(", ")}` }),
);
export const errors = errorsIn(errorBodies);

/** A success answer: Moltbook's `{"success": true, ...}` with the fields named. */
export const ok = (description: string, fields: z.ZodRawShape = {}) =>
  answer(z.looseObject({ success: z.literal(true), ...fields }), description);
export const done = ok("Done", { message: z.string() });
export const agent = { security: auth.agent, middleware: agentOnly };
export const anyone = { security: auth.optional };
