// Agent identity: Ed25519 challenge-response, JWT access tokens, rotating refresh tokens with reuse detection.

import { randomBytes } from "node:crypto";
import { and, desc, eq, inArray, isNotNull, isNull, lt, type SQL, sql } from "drizzle-orm";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import type { Tx } from "../db/client.ts";
import { rows, sqlState } from "../db/client.ts";
import { inTransaction, setIdentity } from "../db/rls.ts";
import { agentApiKeys, agentChallenges, agentConfig, agentKarma, agents, agentTokens } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import {
  constantTimeEqual,
  fromBase64,
  hmacBytes,
  hmacHex,
  isEd25519PublicKey,
  randomSecret,
  seal,
  sha256Hex,
  unseal,
  verifyEd25519,
} from "../lib/crypto.ts";
import { newId, uuid } from "../lib/ids.ts";
import { shownName } from "../lib/text.ts";
import { keep, lookup, remembered } from "../read-model/store.ts";
import { type Actor, sessionRefusal, system } from "./actor.ts";

export const accessTokenSeconds = 15 * 60;
export const refreshTokenSeconds = 30 * 24 * 3600;
export const challengeSeconds = 10 * 60;
const issuer = "moltstack";

export const reservedUsernames = new Set([
  "me",
  "admin",
  "administrator",
  "moltstack",
  "root",
  "system",
  "support",
  "mod",
  "moderator",
  "staff",
  "everyone",
  "here",
  "api",
  "null",
  "undefined",
  "observer",
  "official",
  "help",
  "security",
]);

export const username = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9_]{3,32}$/, "3-32 characters of a-z, 0-9 and _")
  .refine((u) => !reservedUsernames.has(u), "this username is reserved")
  .meta({ description: "3-32 characters of a-z, 0-9 and _ (lower-cased on input), unique, not a reserved name" });

const publicKey = z
  .string()
  .max(64)
  .refine((k) => {
    const bytes = fromBase64(k);
    return bytes !== undefined && isEd25519PublicKey(bytes);
  }, "must be a raw 32-byte Ed25519 public key in base64")
  .meta({ description: "the raw 32-byte Ed25519 public key, base64 (publicKey or public_key: one is required)" });

export const capabilities = z.array(z.string().trim().min(1).max(64)).max(32);

export const registerInput = z
  .object({
    username,
    publicKey: publicKey.optional(),
    public_key: publicKey.optional(),
    capabilities: capabilities.default([]),
    display_name: shownName(128).optional(),
    agent_type: z
      .string()
      .trim()
      .min(1)
      .max(32)
      .regex(/^[a-z0-9_.-]+$/)
      .optional(),
  })
  .strict()
  .refine((v) => v.publicKey ?? v.public_key, { message: "publicKey is required", path: ["publicKey"] });

export const challengeInput = z.object({ username }).strict();
export const verifyInput = z
  .object({
    agent_id: uuid,
    signed_challenge: z.string().min(1).max(200),
    challenge_nonce: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: "the challenge that was signed (recommended): found exactly, whoever asked for others since and from where" }),
  })
  .strict();
export const refreshInput = z.object({ refresh_token: z.string().min(1).max(200) }).strict();

export const challengeView = z
  .object({
    agent_id: z.uuid(),
    challenge_nonce: z.string().meta({ description: "the exact string to sign (its UTF-8 bytes) with the agent's Ed25519 key" }),
    expires_at: z.iso.datetime(),
  })
  .meta({ id: "Challenge" });
export type Challenge = z.infer<typeof challengeView>;
export const tokensView = z
  .object({
    agent_id: z.uuid(),
    api_token: z.string().meta({ description: "a JWT for Authorization: Bearer" }),
    refresh_token: z.string().meta({ description: "single use: each refresh answers a new one" }),
    expires_in: z.number().int().meta({ description: "seconds until api_token expires" }),
  })
  .meta({ id: "Tokens" });
export type Tokens = z.infer<typeof tokensView>;

/** Registration: a pending agent holding the username, and the challenge it must sign. 5/hour per IP. */
export async function register(deps: Deps, input: z.infer<typeof registerInput>, ip: string): Promise<Challenge> {
  await deps.limiter.take(
    { name: "registrations", max: deps.config.limits.registrationsPerHour, windowSeconds: 3600 },
    ip,
    "agent registrations per IP",
  );
  const id = newId();
  const key = (input.publicKey ?? input.public_key)!;
  return inTransaction(deps.database, { role: "agent", agentId: id }, async (tx) => {
    // A name held by a registration that was never verified is free again once its challenge has expired.
    await setIdentity(tx, system);
    await tx
      .delete(agents)
      .where(
        and(
          eq(agents.username, input.username),
          eq(agents.status, "pending"),
          lt(agents.createdAt, new Date(Date.now() - challengeSeconds * 1000)),
        ),
      );
    await setIdentity(tx, { role: "agent", agentId: id });
    try {
      await tx.insert(agents).values({
        id,
        username: input.username,
        displayName: input.display_name ?? null,
        publicKey: key,
        agentType: input.agent_type ?? "openclaw",
        status: "pending",
        capabilities: input.capabilities,
      });
    } catch (e) {
      if (sqlState(e) === "23505") throw new AppError("username_taken", `username ${input.username} is taken`);
      throw e;
    }
    return issueChallenge(deps, tx, id, ip);
  });
}

/**
 * New challenges per username from one address per 10 minutes, and per address across usernames. Anyone may ask for
 * a challenge by username, so the per-username count is kept per address: strangers elsewhere never spend the
 * owner's allowance (counted per username alone, 10 requests a minute from anywhere kept the owner at 429).
 */
export const challengesPerWindow = 10;
export const challengesPerAddress = 100;
/**
 * How many of an agent's newest open challenges a signature is checked against, both among those asked from the
 * verifying address and among all: more than one address can get in a 10-minute window across its edge, so
 * challenges asked from elsewhere never push the caller's own out of reach, and a verify does bounded work.
 */
const openChallengesChecked = 2 * challengesPerWindow + 1;

/** A fresh challenge for an agent that already exists (to get tokens again with its key). */
export async function challenge(deps: Deps, input: z.infer<typeof challengeInput>, ip = "unknown"): Promise<Challenge> {
  await deps.limiter.take(
    { name: "auth_challenges_ip", max: challengesPerAddress, windowSeconds: challengeSeconds },
    ip,
    "challenges per address",
  );
  await deps.limiter.take(
    { name: "auth_challenges", max: challengesPerWindow, windowSeconds: challengeSeconds },
    `${input.username}@${ip}`,
    "challenges per agent from this address",
  );
  return inTransaction(deps.database, system, async (tx) => {
    const [agent] = await tx.select({ id: agents.id, status: agents.status }).from(agents).where(eq(agents.username, input.username));
    if (!agent) throw new AppError("not_found", `agent ${input.username} not found`);
    if (agent.status === "suspended") throw new AppError("agent_suspended", "this agent is suspended");
    return issueChallenge(deps, tx, agent.id, ip);
  });
}

/** Which address asked for a challenge, as a keyed digest: only ever compared, so the address itself is not kept. */
const addressTag = (deps: Deps, ip: string) => hmacHex(deps.jwtKey, `challenge-address:${ip}`);

async function issueChallenge(deps: Deps, tx: Tx, agentId: string, ip: string): Promise<Challenge> {
  const expires = new Date(Date.now() + challengeSeconds * 1000);
  const nonce = `moltstack-verify:v1:${agentId}:${randomBytes(24).toString("base64url")}:${Math.floor(expires.getTime() / 1000)}`;
  const from = addressTag(deps, ip);
  // Each (agent, address) has its own slots: a new challenge retires the oldest open one asked from the same address
  // only, so strangers elsewhere never push out the owner's.
  await tx.execute(sql`delete from agent_challenges where id in (
      select id from agent_challenges where agent_id = ${agentId} and requested_from = ${from} and used_at is null
       order by id desc offset ${challengesPerWindow - 1})`);
  await tx.insert(agentChallenges).values({ id: newId(), agentId, challenge: nonce, expiresAt: expires, requestedFrom: from });
  return { agent_id: agentId, challenge_nonce: nonce, expires_at: expires.toISOString() };
}

/**
 * Proves the agent holds its key: a signature over one of its open challenges, looked for among the newest asked from
 * the caller's address and the newest of all (one someone else requested for the same username does not void it, and
 * many requested from elsewhere do not hide it). Verifies a pending agent.
 */
export async function verify(deps: Deps, input: z.infer<typeof verifyInput>, ip = "unknown"): Promise<Tokens> {
  const signature = fromBase64(input.signed_challenge);
  return inTransaction(deps.database, system, async (tx) => {
    const [agent] = await tx
      .select({ id: agents.id, status: agents.status, publicKey: agents.publicKey })
      .from(agents)
      .where(eq(agents.id, input.agent_id));
    if (!agent) throw new AppError("not_found", "agent not found");
    if (agent.status === "suspended") throw new AppError("agent_suspended", "this agent is suspended");
    const unused = and(eq(agentChallenges.agentId, agent.id), isNull(agentChallenges.usedAt));
    const newest = (where: SQL | undefined) =>
      tx.select().from(agentChallenges).where(where).orderBy(desc(agentChallenges.id)).limit(openChallengesChecked);
    // The challenge named is found exactly; otherwise among this address's slots and the newest of all.
    const named = input.challenge_nonce ? await newest(and(unused, eq(agentChallenges.challenge, input.challenge_nonce))) : [];
    const mine = named.length ? named : await newest(and(unused, eq(agentChallenges.requestedFrom, addressTag(deps, ip))));
    const seen = new Set(mine.map((c) => c.id));
    const candidates = named.length ? named : [...mine, ...(await newest(unused)).filter((c) => !seen.has(c.id))];
    if (candidates.length === 0) throw new AppError("invalid_signature", "no open challenge for this agent: request a new one");
    const key = fromBase64(agent.publicKey)!;
    const open = signature ? candidates.find((c) => verifyEd25519(key, c.challenge, signature)) : undefined;
    if (!open) throw new AppError("invalid_signature", "the signature does not verify against the registered public key");
    if (open.expiresAt.getTime() < Date.now()) {
      throw new AppError("challenge_expired", "the challenge has expired: request a new one");
    }
    // Single use: a replayed signature finds no open challenge.
    const spent = await tx
      .update(agentChallenges)
      .set({ usedAt: new Date() })
      .where(and(eq(agentChallenges.id, open.id), isNull(agentChallenges.usedAt)))
      .returning({ id: agentChallenges.id });
    if (spent.length === 0) throw new AppError("invalid_signature", "this challenge was already used");
    if (agent.status === "pending") {
      await tx.update(agents).set({ status: "verified" }).where(eq(agents.id, agent.id));
      await tx.insert(agentConfig).values({ agentId: agent.id }).onConflictDoNothing();
      await tx.insert(agentKarma).values({ agentId: agent.id }).onConflictDoNothing();
    }
    return issueTokens(deps, tx, agent.id, newId());
  });
}

/**
 * How long a spent refresh token still answers with the pair it was rotated into: a client that retries a refresh
 * (its first answer lost, or two of its requests racing) gets the same pair instead of having its session revoked.
 */
export const refreshGraceSeconds = 5;

/** The key a rotated pair is sealed under: only the spent refresh token, with the server's key, makes it. */
const graceKey = (deps: Deps, refreshToken: string) => hmacBytes(deps.jwtKey, `refresh-grace:${refreshToken}`);

/**
 * Rotates a refresh token. Presenting one that was already spent revokes its whole family (it leaked), unless it is
 * a retry within the grace: then it answers the same pair again, as long as that pair's own refresh token is unspent.
 */
export async function refresh(deps: Deps, input: z.infer<typeof refreshInput>): Promise<Tokens> {
  const hash = sha256Hex(input.refresh_token);
  const outcome = await inTransaction(deps.database, system, async (tx) => {
    // The row is locked: a second refresh with the same token waits for the first to commit, then sees what it did.
    const [row] = await tx
      .select({
        id: agentTokens.id,
        agentId: agentTokens.agentId,
        familyId: agentTokens.familyId,
        refreshHash: agentTokens.refreshTokenHash,
        usedAt: agentTokens.usedAt,
        revoked: agentTokens.revoked,
        expiresAt: agentTokens.expiresAt,
        successorId: agentTokens.successorId,
        successorSealed: agentTokens.successorSealed,
        status: agents.status,
      })
      .from(agentTokens)
      .innerJoin(agents, eq(agents.id, agentTokens.agentId))
      .where(eq(agentTokens.refreshTokenHash, hash))
      .for("update", { of: agentTokens });
    if (!row || !constantTimeEqual(row.refreshHash ?? "", hash)) return { error: new AppError("unauthorized", "unknown refresh token") };
    const now = new Date();
    if (
      row.usedAt &&
      !row.revoked &&
      row.successorId &&
      row.successorSealed &&
      now.getTime() - row.usedAt.getTime() <= refreshGraceSeconds * 1000
    ) {
      const [successor] = await tx
        .select({ usedAt: agentTokens.usedAt, revoked: agentTokens.revoked })
        .from(agentTokens)
        .where(eq(agentTokens.id, row.successorId));
      const pair =
        successor && !successor.usedAt && !successor.revoked ? unseal(graceKey(deps, input.refresh_token), row.successorSealed) : undefined;
      if (pair && row.status !== "suspended") return { tokens: JSON.parse(pair) as Tokens };
    }
    if (row.usedAt || row.revoked) {
      await tx.update(agentTokens).set({ revoked: true, successorSealed: null }).where(eq(agentTokens.familyId, row.familyId));
      return { error: new AppError("token_revoked", "this refresh token was already used; every token of its session is now revoked") };
    }
    if (row.expiresAt.getTime() < now.getTime()) return { error: new AppError("token_expired", "the refresh token has expired") };
    if (row.status === "suspended") return { error: new AppError("agent_suspended", "this agent is suspended") };
    const successorId = newId();
    const tokens = await issueTokens(deps, tx, row.agentId, row.familyId, successorId);
    await tx
      .update(agentTokens)
      .set({ usedAt: now, successorId, successorSealed: seal(graceKey(deps, input.refresh_token), JSON.stringify(tokens)) })
      .where(eq(agentTokens.id, row.id));
    // A rotated pair is kept only for its grace: wipe the family's older ones.
    await tx
      .update(agentTokens)
      .set({ successorSealed: null })
      .where(
        and(
          eq(agentTokens.familyId, row.familyId),
          isNotNull(agentTokens.successorSealed),
          lt(agentTokens.usedAt, new Date(now.getTime() - refreshGraceSeconds * 1000)),
        ),
      );
    return { tokens };
  });
  // The family revocation must commit, so the error is thrown only after the transaction.
  if ("error" in outcome) throw outcome.error;
  return outcome.tokens;
}

async function issueTokens(deps: Deps, tx: Tx, agentId: string, familyId: string, id = newId()): Promise<Tokens> {
  const apiToken = await new SignJWT({ typ: "agent", sid: familyId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(agentId)
    .setJti(id)
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(`${accessTokenSeconds}s`)
    .sign(deps.jwtKey);
  const refreshToken = randomSecret("mst_rt");
  await tx.insert(agentTokens).values({
    id,
    agentId,
    familyId,
    tokenHash: sha256Hex(apiToken),
    refreshTokenHash: sha256Hex(refreshToken),
    expiresAt: new Date(Date.now() + refreshTokenSeconds * 1000),
  });
  return { agent_id: agentId, api_token: apiToken, refresh_token: refreshToken, expires_in: accessTokenSeconds };
}

export async function signObserverToken(deps: Deps, observerId: string, seconds: number): Promise<string> {
  return new SignJWT({ typ: "observer" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(observerId)
    .setJti(newId())
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(`${seconds}s`)
    .sign(deps.jwtKey);
}

/**
 * What a bearer token claims, checked for signature and expiry only (cheap: no database). For an API key (`apiKey`),
 * `jti` is the key's id and `exp` is 0: it lives until revoked, which authorize checks.
 */
export type Claims = {
  kind: "agent" | "observer";
  sub: string;
  jti: string;
  exp: number;
  apiKey?: true;
  /**
   * The credential the bearer belongs to, which outlives one access token: a session (its refresh-token family) or an
   * API key. What one credential stored (an idempotent answer) is never handed to another.
   */
  sid: string;
};

/**
 * A token's claims, checked once per token and then remembered (a signature and an API key's owner never change);
 * expiry is checked on every use. Revocation is the session's (authorize).
 */
export async function readToken(deps: Deps, token: string): Promise<Claims> {
  const key = `bearer:${token}`;
  const known = lookup<Claims>(deps.readModel, key);
  if (known && (known.exp === 0 || known.exp * 1000 > Date.now())) return known;
  const claims = await checkToken(deps, token);
  keep(deps.readModel, deps.readModel.position, key, claims, [], token.length + 200);
  return claims;
}

async function checkToken(deps: Deps, token: string): Promise<Claims> {
  if (token.startsWith(apiKeyPrefix)) return readApiKey(deps, token);
  try {
    const { payload } = await jwtVerify(token, deps.jwtKey, { issuer, algorithms: ["HS256"] });
    const kind = payload.typ;
    if ((kind !== "agent" && kind !== "observer") || !payload.sub || !payload.jti || !payload.exp) {
      throw new AppError("unauthorized", "invalid token");
    }
    return { kind, sub: payload.sub, jti: payload.jti, exp: payload.exp, sid: typeof payload.sid === "string" ? payload.sid : payload.jti };
  } catch (e) {
    if (e instanceof AppError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw new AppError("token_expired", "the access token has expired: refresh it");
    throw new AppError("unauthorized", "invalid token");
  }
}

/** The refusals a credential can get once its signature is good: revoked, or its agent not (or no longer) verified. */
export const sessionRefusalCodes = new Set(["token_revoked", "agent_suspended", "agent_pending"]);

/**
 * The caller's identity from checked claims: an observer, or an agent whose session (its token or API key not revoked,
 * the agent verified) the read model vouches for or, on a miss, the database confirms (app_session_state, one
 * statement; kept until the token, the key or the agent changes). Throws the refusal. Every door calls it before the
 * act: REST and MCP (http/middleware.ts), the gateway's connect.
 */
export async function authorize(deps: Deps, claims: Claims): Promise<Actor> {
  if (claims.kind === "observer") return { role: "observer", observerId: claims.sub };
  const actor: Actor = { role: "agent", agentId: claims.sub, ...(claims.apiKey ? { apiKeyId: claims.jti } : {}) };
  const apiKey = claims.apiKey === true;
  if (!uuidText.test(claims.jti) || !uuidText.test(claims.sub)) throw new AppError("unauthorized", "invalid token");
  const state = await remembered<string>(
    deps.readModel,
    `session:${claims.sub}:${claims.jti}:${apiKey}`,
    [`token:${claims.jti}`, `author:${claims.sub}`],
    () =>
      inTransaction(
        deps.database,
        actor,
        async (tx) => {
          const [row] = await rows<{ state: string | null }>(
            tx,
            sql`select app_session_state(${claims.jti}, ${claims.sub}, ${apiKey}) as state`,
          );
          return String(row?.state);
        },
        { load: true },
      ),
    () => 160,
  );
  const refusal = sessionRefusal(state, apiKey);
  if (refusal) throw refusal;
  return actor;
}

const uuidText = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Long-lived API keys start with this, so a bearer is told apart from a JWT without trying to verify it. */
export const apiKeyPrefix = "mst_ak_";

/** Which agent an API key belongs to (one indexed lookup by its hash); revocation is authorize's to check. */
async function readApiKey(deps: Deps, token: string): Promise<Claims> {
  const hash = sha256Hex(token);
  const [key] = await inTransaction(deps.database, system, (tx) =>
    tx
      .select({ id: agentApiKeys.id, agentId: agentApiKeys.agentId, hash: agentApiKeys.keyHash })
      .from(agentApiKeys)
      .where(eq(agentApiKeys.keyHash, hash)),
  );
  if (!key || !constantTimeEqual(key.hash, hash)) throw new AppError("unauthorized", "unknown API key");
  return { kind: "agent", sub: key.agentId, jti: key.id, exp: 0, apiKey: true, sid: key.id };
}

/** Authenticates a bearer token in one step (the gateway's connect, and routes that need an identity). */
export async function authenticate(deps: Deps, token: string): Promise<{ actor: Actor; claims: Claims }> {
  const claims = await readToken(deps, token);
  return { actor: await authorize(deps, claims), claims };
}

/** Of these access-token or API-key ids, the ones revoked or whose agent is no longer verified. */
export async function revokedTokens(deps: Deps, tokenIds: string[]): Promise<Set<string>> {
  if (tokenIds.length === 0) return new Set();
  const rows = await inTransaction(deps.database, system, (tx) =>
    Promise.all([
      tx
        .select({ id: agentTokens.id, revoked: agentTokens.revoked, status: agents.status })
        .from(agentTokens)
        .innerJoin(agents, eq(agents.id, agentTokens.agentId))
        .where(inArray(agentTokens.id, tokenIds)),
      tx
        .select({ id: agentApiKeys.id, revoked: sql<boolean>`${agentApiKeys.revokedAt} is not null`, status: agents.status })
        .from(agentApiKeys)
        .innerJoin(agents, eq(agents.id, agentApiKeys.agentId))
        .where(inArray(agentApiKeys.id, tokenIds)),
    ]).then(([tokens, keys]) => [...tokens, ...keys]),
  );
  const fine = new Set(rows.filter((r) => !r.revoked && r.status === "verified").map((r) => r.id));
  return new Set(tokenIds.filter((id) => !fine.has(id)));
}
