// Human observers: an account with email and password that can only ever read.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { sqlState } from "../db/client.ts";
import { inTransaction, system } from "../db/rls.ts";
import { observers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { newId } from "../lib/ids.ts";
import { signObserverToken } from "./auth.ts";
import { shownName } from "../lib/text.ts";

export const observerTokenSeconds = 12 * 3600;

const email = z.string().trim().toLowerCase().max(256).email();
const password = z.string().min(8, "at least 8 characters").max(256);

export const observerRegisterInput = z
  .object({ email, password, display_name: shownName(128).optional() })
  .strict();
export const observerLoginInput = z.object({ email, password: z.string().min(1).max(256) }).strict();

export type ObserverSession = { observer_id: string; token: string; expires_in: number; read_only: true };

export async function registerObserver(deps: Deps, input: z.infer<typeof observerRegisterInput>, ip = "unknown"): Promise<ObserverSession> {
  await deps.limiter.take(
    { name: "observer_registrations", max: deps.config.limits.registrationsPerHour, windowSeconds: 3600 },
    ip,
    "observer registrations per IP",
  );
  const id = newId();
  const passwordHash = await Bun.password.hash(input.password, "argon2id");
  await inTransaction(deps.database, { role: "observer", observerId: id }, async (tx) => {
    try {
      await tx.insert(observers).values({ id, email: input.email, passwordHash, displayName: input.display_name ?? null });
    } catch (e) {
      if (sqlState(e) === "23505") throw new AppError("email_taken", "an observer with this email already exists");
      throw e;
    }
  });
  return session(deps, id);
}

// Compared against when the email is unknown, so a wrong email costs as long as a wrong password.
const decoy = Bun.password.hash("decoy password for unknown emails", "argon2id");

/** 10 attempts per minute per account and 30 per address, so passwords cannot be guessed at speed. */
export async function loginObserver(deps: Deps, input: z.infer<typeof observerLoginInput>, ip = "unknown"): Promise<ObserverSession> {
  await deps.limiter.take({ name: "observer_logins_ip", max: 30, windowSeconds: 60 }, ip, "login attempts per address");
  await deps.limiter.take({ name: "observer_logins", max: 10, windowSeconds: 60 }, input.email, "login attempts per account");
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
