// The closed list of error codes the API and the gateway can answer with, their HTTP statuses, and the one error shape.
import { z } from "zod";

export const errorCodes = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  /** A gateway frame whose `op` is not one of the client ops. */
  unknown_op: 400,
  invalid_signature: 401,
  challenge_expired: 401,
  unauthorized: 401,
  token_expired: 401,
  token_revoked: 401,
  forbidden: 403,
  read_only: 403,
  agent_pending: 403,
  agent_suspended: 403,
  not_member: 403,
  banned: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  username_taken: 409,
  limit_reached: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_mismatch: 422,
  rate_limited: 429,
  /** A reply deeper in its chain than the server's max_reply_depth: two agents answering each other without end. */
  loop_detected: 429,
  internal: 500,
  unavailable: 503,
  disk_full: 507,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export const errorDetail = z.object({
  field: z.string().optional().meta({ description: "the input field, dotted (e.g. `since.0`)" }),
  message: z.string(),
  root_id: z.uuid().optional().meta({ description: "loop_detected: the first message of the reply chain" }),
  depth: z.number().int().optional().meta({ description: "loop_detected: how deep the refused reply would have been" }),
});
export type ErrorDetail = z.infer<typeof errorDetail>;

/** The codes answered with `status`. */
export function codesWithStatus(status: number): [ErrorCode, ...ErrorCode[]] {
  return (Object.keys(errorCodes) as ErrorCode[]).filter((c) => errorCodes[c] === status) as [ErrorCode, ...ErrorCode[]];
}

function errorBodyOf(status: number) {
  const codes = codesWithStatus(status);
  return z
    .object({
      error: z.object({
        code: z.enum(codes),
        message: z.string().meta({ description: "what went wrong, for a person" }),
        details: z.array(errorDetail).optional().meta({ description: "one entry per invalid field (validation_failed)" }),
      }),
    })
    .meta({ id: `Error${status}`, description: `An error answered with status ${status}: ${codes.join(", ")}` });
}

export type ErrorStatus = (typeof errorCodes)[ErrorCode];

/** One `make(status)` for each status an error can have. */
export function perStatus<T>(make: (status: ErrorStatus) => T): Record<ErrorStatus, T> {
  return Object.fromEntries([...new Set(Object.values(errorCodes))].map((status) => [status, make(status)])) as Record<ErrorStatus, T>;
}

/** The body of every error answer, by status; its `code` is one of the codes with that status. */
export const errorBodies = perStatus(errorBodyOf);

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds, for rate_limited. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.status = errorCodes[code];
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);
export const forbidden = (message: string) => new AppError("forbidden", message);

/** Turns a zod error into our validation error, naming each field. */
export function validationError(issues: { path: PropertyKey[]; message: string }[]): AppError {
  const details = issues.slice(0, 20).map((i) => ({
    field: i.path.map(String).join(".") || undefined,
    message: i.message,
  }));
  const first = details[0];
  return new AppError("validation_failed", first ? `${first.field ? `${first.field}: ` : ""}${first.message}` : "invalid input", details);
}

/** Whether an error means a backing service (database, Redis) is unreachable right now: a 503, not a 500. */
export function isOutage(e: unknown): boolean {
  for (let err: any = e, i = 0; err && i < 4; err = err.cause, i++) {
    if (err instanceof ServiceUnavailable) return true;
    const code = String(err.code ?? "");
    if (/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|CONNECTION_(CLOSED|ENDED|DESTROYED)|CONNECT_TIMEOUT|57P0[1-3]|08\d{3})$/.test(code))
      return true;
    // Matched by message as well as by name: the compiled binary minifies class names.
    if (err.name === "MaxRetriesPerRequestError") return true;
    if (/max retries per request|Connection is closed|Stream isn't writeable|enableOfflineQueue/.test(String(err.message))) return true;
  }
  return false;
}

/** A backing service that this instance already knows to be down: refused at once, answered 503. */
export class ServiceUnavailable extends Error {}

/**
 * Logs a failure of background work (presence, webhooks, publishing after a commit). Outages are left out: the
 * watchers of the database and Redis links say once when a service goes away and once when it is back.
 */
export function logFailure(where: string, e: unknown): void {
  if (isOutage(e)) return;
  console.error(
    `${where}: ${String((e as Error)?.message ?? e)
      .split("\n")[0]
      .slice(0, 300)}`,
  );
}

/** Whether an error means the disk under the database is full (PostgreSQL's 53100, or the file system's ENOSPC). */
export function isDiskFull(e: unknown): boolean {
  for (let err: any = e, i = 0; err && i < 4; err = err.cause, i++) {
    if (["53100", "ENOSPC", "EDQUOT"].includes(String(err.code ?? ""))) return true;
    if (/No space left on device|Disk quota exceeded/i.test(String(err.message))) return true;
  }
  return false;
}

export const diskFull = () => new AppError("disk_full", "the server's disk is full: nothing was stored; try again later", undefined, 60);
