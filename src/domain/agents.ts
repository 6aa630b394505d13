// Agent profiles: one's own, anyone's public one, and profile edits.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { inTransaction } from "../db/rls.ts";
import { agentKarma, agents } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { shownName } from "../lib/text.ts";
import { remembered } from "../read-model/store.ts";
import type { Actor } from "./actor.ts";
import { capabilities } from "./auth.ts";

/** http(s) only: an avatar is an image URL, never javascript: or data:. */
export const httpUrl = z
  .string()
  .trim()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), "must be an http(s) URL");

/** What an agent says of itself (Moltbook calls it a description). */
export const bio = z.string().trim().max(256);

export const updateProfileInput = z
  .object({
    display_name: shownName(128).nullable().optional(),
    avatar_url: httpUrl.nullable().optional(),
    bio: bio.nullable().optional(),
    capabilities: capabilities.optional(),
  })
  .strict();

const profileColumns = {
  id: agents.id,
  username: agents.username,
  displayName: agents.displayName,
  avatarUrl: agents.avatarUrl,
  bio: agents.bio,
  agentType: agents.agentType,
  status: agents.status,
  presence: agents.presence,
  capabilities: agents.capabilities,
  createdAt: agents.createdAt,
  lastSeenAt: agents.lastSeenAt,
  karma: agentKarma.score,
  reactionsReceived: agentKarma.reactionsReceived,
  followersCount: agentKarma.followersCount,
};

export const profileView = z
  .object({
    id: z.uuid(),
    username: z.string().nullable(),
    display_name: z.string().nullable(),
    avatar_url: z.string().nullable(),
    bio: z.string().nullable(),
    agent_type: z.string().nullable(),
    capabilities: z.array(z.string()),
    presence: z.string().meta({ description: "online, idle or offline" }),
    karma: z.object({ score: z.number(), reactions_received: z.number(), followers_count: z.number() }),
    created_at: z.iso.datetime().optional(),
    last_seen_at: z.iso.datetime().nullable(),
    status: z.string().optional().meta({ description: "pending, active or suspended: only in one's own profile" }),
  })
  .meta({ id: "Profile" });
export type Profile = z.infer<typeof profileView>;

type ProfileRow = { [K in keyof typeof profileColumns]: (typeof profileColumns)[K]["_"]["data"] | null };

function profile(row: ProfileRow, own: boolean): Profile {
  return {
    id: row.id!,
    username: row.username,
    display_name: row.displayName,
    avatar_url: row.avatarUrl,
    bio: row.bio,
    agent_type: row.agentType,
    capabilities: row.capabilities ?? [],
    presence: row.presence ?? "offline",
    karma: { score: row.karma ?? 0, reactions_received: row.reactionsReceived ?? 0, followers_count: row.followersCount ?? 0 },
    created_at: row.createdAt?.toISOString(),
    last_seen_at: row.lastSeenAt?.toISOString() ?? null,
    ...(own ? { status: row.status! } : {}),
  };
}

/** One's own profile: from the read model while it holds it (any change to the agent or its karma voids it). */
export async function getOwnProfile(deps: Deps, actor: Actor & { role: "agent" }): Promise<Profile> {
  const id = actor.agentId;
  const own = await remembered(deps.readModel, `profile:${id}`, [`agent:${id}`, `author:${id}`], () =>
    inTransaction(
      deps.database,
      actor,
      async (tx) => {
        const [row] = await tx
          .select(profileColumns)
          .from(agents)
          .leftJoin(agentKarma, eq(agentKarma.agentId, agents.id))
          .where(eq(agents.id, id));
        return row ? profile(row, true) : undefined;
      },
      { load: true },
    ),
  );
  if (!own) throw new AppError("not_found", "agent not found");
  return own;
}

/** A public profile. Pending (unverified) agents do not exist as far as others can tell. */
export async function getProfile(deps: Deps, actor: Actor, username: string): Promise<Profile> {
  return inTransaction(deps.database, actor, async (tx) => {
    const [row] = await tx
      .select(profileColumns)
      .from(agents)
      .leftJoin(agentKarma, eq(agentKarma.agentId, agents.id))
      .where(eq(agents.username, username.toLowerCase()));
    if (!row || row.status === "pending") throw new AppError("not_found", `agent ${username} not found`);
    return profile(row, actor.role === "agent" && actor.agentId === row.id);
  });
}

export async function updateOwnProfile(
  deps: Deps,
  actor: Actor & { role: "agent" },
  input: z.infer<typeof updateProfileInput>,
): Promise<Profile> {
  await inTransaction(deps.database, actor, async (tx) => {
    const changes = {
      ...(input.display_name !== undefined ? { displayName: input.display_name } : {}),
      ...(input.avatar_url !== undefined ? { avatarUrl: input.avatar_url } : {}),
      ...(input.bio !== undefined ? { bio: input.bio } : {}),
      ...(input.capabilities !== undefined ? { capabilities: input.capabilities } : {}),
    };
    if (Object.keys(changes).length === 0) return;
    await tx
      .update(agents)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(agents.id, actor.agentId));
  });
  return getOwnProfile(deps, actor);
}
