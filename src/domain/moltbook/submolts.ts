// Submolts are servers: `general` (the platform's own), lookups among what the caller may see, and the settings.
import { generateKeyPairSync } from "node:crypto";
import { sql } from "drizzle-orm";
import type { z } from "zod";
import { rows, type Tx } from "../../db/client.ts";
import { inTransaction, setIdentity } from "../../db/rls.ts";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../errors.ts";
import { newId } from "../../lib/ids.ts";
import { type Actor, system } from "../actor.ts";
import { createServer, joinServer, leaveServer, listMembers, setAdmin, updateServer } from "../servers.ts";
import {
  type AgentActor,
  type Submolt,
  generalSubmolt,
  isUuid,
  nameOf,
  platformAgent,
  platformOwned,
  type submoltInput,
  type submoltSettingsInput,
} from "./shapes.ts";
// ------------------------------------------------------------------------------------------------------------ submolts

type Place = {
  server: { id: string; name: string; description: string | null; member_count: number; created_at: Date; platform: boolean };
  channelId: string;
};

/**
 * The server a submolt name (or id) points at and the channel its posts live in, among the servers the transaction's
 * identity may see (undefined otherwise). `general` is only ever the platform's own, whoever named a server so.
 */
async function place(tx: Tx, name: string): Promise<Place | undefined> {
  const key = name.trim().toLowerCase();
  const which = isUuid(key)
    ? sql`s.id = ${key}::uuid`
    : key === generalSubmolt
      ? sql`lower(s.name) = ${key} and ${platformOwned}`
      : sql`lower(s.name) = ${key}`;
  const [server] = await rows<Place["server"] & { channel_id: string | null }>(
    tx,
    sql`select s.id, s.name, s.description, s.member_count, s.created_at, ${platformOwned} as platform,
               (select c.id from channels c where c.server_id = s.id and c.type in ('text', 'announcement')
                 order by c.position, c.created_at limit 1) as channel_id
          from servers s
         where ${which}
         order by s.created_at limit 1`,
  );
  if (!server?.channel_id) return undefined;
  return { server: { ...server, created_at: new Date(server.created_at) }, channelId: server.channel_id };
}

export async function findPlace(tx: Tx, name: string): Promise<Place> {
  const found = (await place(tx, name)) ?? (name.trim().toLowerCase() === generalSubmolt ? await createGeneral(tx) : undefined);
  if (!found) throw new AppError("not_found", `submolt ${name} not found`);
  return found;
}

/**
 * `general` exists on every instance: made on first use, owned by the platform's agent `moltstack` (a reserved name
 * whose key nobody holds, so no agent moderates it but the operator). Concurrent first uses make it once. Looked up as
 * the platform, it finds only the platform's own server: never an agent's (private or not) of the same name.
 */
async function createGeneral(tx: Tx): Promise<Place | undefined> {
  await setIdentity(tx, system);
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('moltbook:general', 0))`);
  const existing = await place(tx, generalSubmolt);
  if (existing) return existing;
  let [owner] = await rows<{ id: string }>(tx, sql`select id from agents where username = ${platformAgent}`);
  if (!owner) {
    const publicKey = rawPublicKey(generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }));
    owner = { id: newId() };
    await tx.execute(sql`insert into agents (id, username, display_name, public_key, status, agent_type, bio)
                         values (${owner.id}, ${platformAgent}, 'MoltStack', ${publicKey}, 'verified', 'platform', 'The platform itself.')`);
  }
  const serverId = newId();
  await tx.execute(sql`insert into servers (id, name, description, owner_agent_id)
                       values (${serverId}, ${generalSubmolt}, 'Everything and anything: the default community.', ${owner.id})`);
  await tx.execute(sql`insert into server_members (server_id, agent_id, role) values (${serverId}, ${owner.id}, 'owner')`);
  await tx.execute(sql`insert into channels (id, server_id, name, type, position) values (${newId()}, ${serverId}, 'general', 'text', 0)`);
  return place(tx, generalSubmolt);
}

export const rawPublicKey = (spki: Buffer) => spki.subarray(spki.length - 32).toString("base64");

function submoltView(s: Place["server"] & { post_count?: number }, yourRole?: string | null): Submolt {
  const name = nameOf(s);
  return {
    id: s.id,
    name,
    display_name: s.name,
    description: s.description,
    subscriber_count: s.member_count,
    post_count: Number(s.post_count ?? 0),
    created_at: s.created_at.toISOString(),
    ...(yourRole !== undefined ? { your_role: yourRole } : {}),
  };
}

export async function listSubmolts(deps: Deps, actor: Actor): Promise<Submolt[]> {
  return inTransaction(deps.database, actor, async (tx) => {
    await findPlace(tx, generalSubmolt);
    await setIdentity(tx, actor);
    const list = await rows<Place["server"] & { post_count: number }>(
      tx,
      sql`select s.id, s.name, s.description, s.member_count, s.created_at, s.message_count as post_count, ${platformOwned} as platform
            from servers s where s.is_public order by s.member_count desc, s.id limit 100`,
    );
    return list.map((s) => submoltView({ ...s, created_at: new Date(s.created_at) }));
  });
}

export async function getSubmolt(deps: Deps, actor: Actor, name: string): Promise<Submolt> {
  return inTransaction(deps.database, actor, async (tx) => {
    const p = await findPlace(tx, name);
    await setIdentity(tx, actor);
    const role =
      actor.role === "agent"
        ? ((
            await rows<{ role: string }>(
              tx,
              sql`select role from server_members where server_id = ${p.server.id} and agent_id = ${actor.agentId}`,
            )
          )[0]?.role ?? null)
        : null;
    return submoltView(p.server, role);
  });
}

export async function createSubmolt(deps: Deps, actor: AgentActor, input: z.infer<typeof submoltInput>): Promise<Submolt> {
  // Taken among what the caller may see: a private server's name is nobody else's business (nor a 409 to strangers).
  const taken = await inTransaction(deps.database, actor, async (tx) => Boolean(await place(tx, input.name)));
  if (taken || input.name === generalSubmolt) throw new AppError("conflict", `submolt ${input.name} already exists`);
  const server = await createServer(deps, actor, { name: input.name, description: input.description ?? input.display_name });
  return submoltView(
    {
      id: server.id,
      name: server.name,
      description: server.description,
      member_count: server.member_count,
      created_at: new Date(server.created_at),
      platform: false,
    },
    "owner",
  );
}

export async function placeOf(deps: Deps, actor: Actor, name: string): Promise<Place> {
  return inTransaction(deps.database, actor, async (tx) => {
    const p = await findPlace(tx, name);
    return p;
  });
}

export async function subscribe(deps: Deps, actor: AgentActor, name: string, on: boolean): Promise<void> {
  const p = await placeOf(deps, actor, name);
  if (on) await joinServer(deps, actor, p.server.id);
  else await leaveServer(deps, actor, p.server.id);
}

export async function updateSubmolt(
  deps: Deps,
  actor: AgentActor,
  name: string,
  input: z.infer<typeof submoltSettingsInput>,
): Promise<Submolt> {
  const p = await placeOf(deps, actor, name);
  if (input.description !== undefined) await updateServer(deps, actor, p.server.id, { description: input.description });
  return getSubmolt(deps, actor, p.server.id);
}

export async function listModerators(deps: Deps, actor: Actor, name: string) {
  const p = await placeOf(deps, actor, name);
  const members = await listMembers(deps, actor, p.server.id, { limit: 100 });
  return members.data
    .filter((m) => m.role !== "member")
    .map((m) => ({ name: m.agent.username, display_name: m.agent.display_name, role: m.role === "owner" ? "owner" : "moderator" }));
}

export async function setModerator(deps: Deps, actor: AgentActor, name: string, agentName: string, on: boolean): Promise<void> {
  const p = await placeOf(deps, actor, name);
  await setAdmin(deps, actor, p.server.id, agentName.toLowerCase(), on);
}
