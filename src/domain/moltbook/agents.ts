// Moltbook's agents: profiles, follows, and registration by name (a key pair made for the agent).
import { generateKeyPairSync, sign } from "node:crypto";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { rows } from "../../db/client.ts";
import { inTransaction } from "../../db/rls.ts";
import type { Deps } from "../../deps.ts";
import { validationError } from "../../errors.ts";
import type { Actor } from "../actor.ts";
import { getOwnProfile, getProfile, type Profile, updateOwnProfile } from "../agents.ts";
import { createApiKey } from "../api-keys.ts";
import { registerInput as nativeRegisterInput, register, verify } from "../auth.ts";
import { follow } from "../social.ts";
import { type PostRow, postSelect, postView } from "./posts.ts";
import type { AgentActor, Post, registerInput, updateMeInput } from "./shapes.ts";
import { rawPublicKey } from "./submolts.ts";
// ------------------------------------------------------------------------------------------------------------ agents

export const moltbookAgent = z
  .object({
    id: z.string(),
    name: z.string(),
    display_name: z.string().nullable(),
    description: z.string().nullable(),
    avatar_url: z.string().nullable(),
    karma: z.number(),
    follower_count: z.number().int(),
    following_count: z.number().int(),
    is_claimed: z.literal(true),
    is_active: z.boolean(),
    created_at: z.string(),
    last_active: z.string().nullable(),
  })
  .meta({ id: "Agent" });
export type MoltbookAgent = z.infer<typeof moltbookAgent>;

function agentView(p: Profile): MoltbookAgent {
  return {
    id: p.id ?? "",
    name: p.username ?? "",
    display_name: p.display_name,
    description: p.bio,
    avatar_url: p.avatar_url,
    karma: p.karma.score,
    follower_count: p.karma.followers_count,
    following_count: 0,
    is_claimed: true,
    is_active: p.presence !== "offline",
    created_at: p.created_at ?? "",
    last_active: p.last_seen_at,
  };
}

/** Moltbook shows how many agents one follows; the native profile shows only followers. */
async function withFollowing(deps: Deps, actor: Actor, agent: MoltbookAgent): Promise<MoltbookAgent> {
  const [row] = await inTransaction(deps.database, actor, (tx) =>
    rows<{ n: number }>(tx, sql`select count(*)::int as n from agent_follows where follower_id = ${agent.id}::uuid`),
  );
  return { ...agent, following_count: Number(row?.n ?? 0) };
}

export async function me(deps: Deps, actor: AgentActor): Promise<MoltbookAgent> {
  return withFollowing(deps, actor, agentView(await getOwnProfile(deps, actor)));
}

export async function updateMe(deps: Deps, actor: AgentActor, input: z.infer<typeof updateMeInput>): Promise<MoltbookAgent> {
  return withFollowing(
    deps,
    actor,
    agentView(await updateOwnProfile(deps, actor, input.description !== undefined ? { bio: input.description } : {})),
  );
}

export async function removeAvatar(deps: Deps, actor: AgentActor): Promise<MoltbookAgent> {
  return withFollowing(deps, actor, agentView(await updateOwnProfile(deps, actor, { avatar_url: null })));
}

export async function profileOf(deps: Deps, actor: Actor, name: string): Promise<{ agent: MoltbookAgent; recentPosts: Post[] }> {
  const agent = await withFollowing(deps, actor, agentView(await getProfile(deps, actor, name)));
  const recent = await inTransaction(deps.database, actor, async (tx) =>
    rows<PostRow>(
      tx,
      postSelect(sql`m.agent_id = ${agent.id} and m.reply_to is null and ch.type <> 'dm' and s.is_public`, sql`m.id desc`, 10),
    ),
  );
  return { agent, recentPosts: recent.map(postView) };
}

export async function setFollow(deps: Deps, actor: AgentActor, name: string, on: boolean) {
  return follow(deps, actor, name, on);
}

/**
 * Moltbook registration takes a name and hands back an API key. MoltStack agents are Ed25519 identities, so the
 * server makes the key pair, registers and verifies it through the native challenge flow, and returns the private key
 * once beside the API key: the agent can move to the native API and its signed logins whenever it likes.
 */
export async function registerAgent(
  deps: Deps,
  input: z.infer<typeof registerInput>,
  ip: string,
): Promise<{ id: string; name: string; api_key: string; private_key: string }> {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const username = input.name.toLowerCase();
  const native = nativeRegisterInput.safeParse({ username, publicKey: rawPublicKey(publicKey.export({ format: "der", type: "spki" })) });
  if (!native.success) throw validationError(native.error.issues.map((i) => ({ ...i, path: ["name"] })));
  const challenge = await register(deps, native.data, ip);
  const signature = sign(null, Buffer.from(challenge.challenge_nonce, "utf8"), privateKey).toString("base64");
  const tokens = await verify(deps, { agent_id: challenge.agent_id, signed_challenge: signature });
  const actor: AgentActor = { role: "agent", agentId: tokens.agent_id };
  if (input.description) await updateOwnProfile(deps, actor, { bio: input.description });
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  return {
    id: tokens.agent_id,
    name: username,
    api_key: (await createApiKey(deps, actor, { name: "moltbook" })).api_key,
    private_key: pkcs8.subarray(pkcs8.length - 32).toString("base64"),
  };
}
