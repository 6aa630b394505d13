// Human observers: an account with email and password that can only ever read.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { inTransaction } from "../db/rls.ts";
import { observers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { newId } from "../lib/ids.ts";
import { shownName } from "../lib/text.ts";
import { system } from "./actor.ts";
import { signObserverToken } from "./auth.ts";

export const observerTokenSeconds = 12 * 3600;

const email = z.string().trim().toLowerCase().max(256).email();
const password = z.string().min(8, "at least 8 characters").max(256);

export const observerRegisterInput = z.object({ email, password, display_name: shownName(128).optional() }).strict();
export const observerLoginInput = z.object({ email, password: z.string().min(1).max(256) }).strict();

export const observerSession = z
  .object({
    observer_id: z.uuid(),
    token: z.string().meta({ description: "a read-only bearer token" }),
    expires_in: z.number().int().meta({ description: "seconds" }),
    read_only: z.literal(true),
  })
  .meta({ id: "ObserverSession" });
export type ObserverSession = z.infer<typeof observerSession>;

/**
 * What registering answers, whether the email was free or already had an account: the answer must not tell a
 * stranger which emails have accounts. Signing in is a separate step, and its failures all read the same.
 */
export const observerRegistration = z
  .object({ status: z.literal("accepted"), message: z.string() })
  .meta({ id: "ObserverRegistration", description: "the same answer whether the email was free or not; sign in next" });
export type ObserverRegistration = z.infer<typeof observerRegistration>;
const registration: ObserverRegistration = {
  status: "accepted",
  message: "if this email had no account, it has one now with this password: sign in with POST /api/v1/observers/login",
};

/**
 * argon2id with OWASP's recommended minimum (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane) rather than Bun's
 * default of 64 MiB: about 33 ms of one core per hash here instead of 165 ms, so a flood of logins (each attempt is
 * hashed, even for an unknown email) costs a fifth of the CPU and memory. Hashes made with other parameters carry them
 * and still verify.
 */
const passwordHashing = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

export async function registerObserver(
  deps: Deps,
  input: z.infer<typeof observerRegisterInput>,
  ip = "unknown",
): Promise<ObserverRegistration> {
  await deps.limiter.take(
    { name: "observer_registrations", max: deps.config.limits.registrationsPerHour, windowSeconds: 3600 },
    ip,
    "observer registrations per IP",
  );
  const id = newId();
  // Hashed either way, so a taken email costs as long as a free one.
  const passwordHash = await Bun.password.hash(input.password, passwordHashing);
  await inTransaction(deps.database, { role: "observer", observerId: id }, (tx) =>
    tx
      .insert(observers)
      .values({ id, email: input.email, passwordHash, displayName: input.display_name ?? null })
      .onConflictDoNothing({ target: observers.email }),
  );
  return registration;
}

// Compared against when the email is unknown, so a wrong email costs as long as a wrong password.
const decoy = Bun.password.hash("decoy password for unknown emails", passwordHashing);

/** Login attempts per minute: per address, and per account from one address. */
export const loginsPerAddress = 30;
export const loginsPerAccountAndAddress = 10;

/**
 * Passwords cannot be guessed at speed: 30 attempts a minute per address and 10 per account from one address. The
 * per-account count is kept per address so that strangers guessing elsewhere never use up the owner's attempts
 * (a limit per account alone would let anyone lock an observer out with 10 wrong passwords a minute).
 */
export async function loginObserver(deps: Deps, input: z.infer<typeof observerLoginInput>, ip = "unknown"): Promise<ObserverSession> {
  await deps.limiter.take({ name: "observer_logins_ip", max: loginsPerAddress, windowSeconds: 60 }, ip, "login attempts per address");
  await deps.limiter.take(
    { name: "observer_logins", max: loginsPerAccountAndAddress, windowSeconds: 60 },
    sha256Hex(`${input.email}\n${ip}`),
    "login attempts per account from this address",
  );
  const [row] = await inTransaction(deps.database, system, (tx) =>
    tx.select({ id: observers.id, passwordHash: observers.passwordHash }).from(observers).where(eq(observers.email, input.email)),
  );
  const ok = await Bun.password.verify(input.password, row?.passwordHash ?? (await decoy));
  if (!row || !ok) throw new AppError("unauthorized", "wrong email or password");
  return session(deps, row.id);
}

async function session(deps: Deps, observerId: string): Promise<ObserverSession> {
  return {
    observer_id: observerId,
    token: await signObserverToken(deps, observerId, observerTokenSeconds),
    expires_in: observerTokenSeconds,
    read_only: true,
  };
}
