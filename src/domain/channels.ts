// Channels of a server: create, list, read, edit, delete. At most 100 per server; owner and admins manage them.
import { asc, count, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { sqlConstraint, type Tx } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { channels } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { answering, remembered } from "../read-model/store.ts";
import { newId } from "../lib/ids.ts";
import type { Actor } from "./actor.ts";
import { accessChanged } from "./events.ts";
import { type ChannelRow, maySeeServer, mayReadChannel, moderatedServer, readableChannel, visibleServer } from "./permissions.ts";

const channelFields = {
  name: z
    .string()
    .trim()
    .toLowerCase()
    .min(1)
    .max(100)
    .regex(/^[\p{L}\p{N}_-]+(?: [\p{L}\p{N}_-]+)*$/u, "letters, digits, - and _"),
  type: z.enum(["text", "announcement"]),
  category: z.string().trim().min(1).max(64).nullable(),
  topic: z.string().trim().max(1024).nullable(),
  instructions: z.string().trim().max(4000).nullable(),
  position: z.number().int().min(0).max(10000),
};

export const createChannelInput = z
  .object(channelFields)
  .partial({ type: true, category: true, topic: true, instructions: true, position: true })
  .strict();
export const updateChannelInput = z.object(channelFields).partial().strict();

export const channelView = z
  .object({
    id: z.uuid(),
    server_id: z.uuid().nullable().meta({ description: "null for a direct-message channel" }),
    name: z.string().nullable(),
    type: z.string().meta({ description: "text, announcement or dm" }),
    category: z.string().nullable(),
    topic: z.string().nullable(),
    instructions: z.string().nullable(),
    position: z.number().int(),
    created_at: z.iso.datetime({ offset: true }),
    last_message_at: z.iso.datetime({ offset: true }).nullable(),
  })
  .meta({ id: "Channel" });
export type ChannelView = z.infer<typeof channelView>;

export function toChannelView(c: ChannelRow): ChannelView {
  return {
    id: c.id,
    server_id: c.serverId,
    name: c.name,
    type: c.type,
    category: c.category,
    topic: c.topic,
    instructions: c.instructions,
    position: c.position,
    created_at: c.createdAt.toISOString(),
    last_message_at: c.lastMessageAt?.toISOString() ?? null,
  };
}

export async function createChannel(
  deps: Deps,
  actor: Actor,
  serverId: string,
  input: z.infer<typeof createChannelInput>,
): Promise<ChannelView> {
  return inTransaction(deps.database, actor, async (tx) => {
    await moderatedServer(tx, actor, serverId);
    const [{ n }] = await tx.select({ n: count() }).from(channels).where(eq(channels.serverId, serverId));
    const max = deps.config.limits.channelsPerServer;
    if (n >= max) throw new AppError("limit_reached", `a server has at most ${max} channels`);
    // A trigger serializes channel creation per server and holds the hard cap of 100 under concurrency.
    const [row] = await tx
      .insert(channels)
      .values({
        id: newId(),
        serverId,
        name: input.name,
        type: input.type ?? "text",
        category: input.category ?? null,
        topic: input.topic ?? null,
        instructions: input.instructions ?? null,
        position: input.position ?? n,
      })
      .returning()
      .catch((e) => {
        if (sqlConstraint(e) === "channels_per_server_limit") throw new AppError("limit_reached", "a server has at most 100 channels");
        throw e;
      });
    return toChannelView(row);
  });
}

/** A server's channels, if the caller may see the server: from the read model while it answers. */
export async function listChannels(deps: Deps, actor: Actor, serverId: string): Promise<ChannelView[]> {
  const fromDatabase = () =>
    inTransaction(deps.database, actor, async (tx) => {
      await visibleServer(tx, serverId);
      return readChannels(tx, serverId);
    });
  if (!answering(deps.readModel)) return fromDatabase();
  if (!(await maySeeServer(deps, actor, serverId))) throw new AppError("not_found", "server not found");
  const list = await remembered<ChannelView[]>(
    deps.readModel,
    `channels-of:${serverId}`,
    [`server:${serverId}`, `server-stats:${serverId}`],
    () => inTransaction(deps.database, actor, (tx) => readChannels(tx, serverId), { load: true }),
    (l) => 256 + 512 * l.length,
  );
  return list ?? fromDatabase();
}

/** listChannels inside a transaction the caller opened, once it has checked that the caller may see the server. */
export async function readChannels(tx: Tx, serverId: string): Promise<ChannelView[]> {
  const rows = await tx
    .select()
    .from(channels)
    .where(eq(channels.serverId, serverId))
    .orderBy(sql`${channels.category} asc nulls first`, asc(channels.position), asc(channels.id));
  return rows.map(toChannelView);
}

/** A channel the caller may read, or 404: from the read model while it answers. */
export async function getChannel(deps: Deps, actor: Actor, channelId: string): Promise<ChannelView> {
  const fromDatabase = () => inTransaction(deps.database, actor, async (tx) => toChannelView(await readableChannel(tx, channelId)));
  if (!answering(deps.readModel)) return fromDatabase();
  if (!(await mayReadChannel(deps, actor, channelId))) throw new AppError("not_found", "channel not found");
  const seen = await remembered<ChannelView>(
    deps.readModel,
    `channel-view:${channelId}`,
    [`channel:${channelId}`, `channel-stats:${channelId}`],
    () => inTransaction(deps.database, actor, async (tx) => toChannelView(await readableChannel(tx, channelId)), { load: true }),
  );
  return seen ?? fromDatabase();
}

async function managedChannel(tx: Tx, actor: Actor, channelId: string) {
  const channel = await readableChannel(tx, channelId);
  if (!channel.serverId) throw new AppError("forbidden", "direct message channels cannot be changed");
  await moderatedServer(tx, actor, channel.serverId);
  return channel;
}

export async function updateChannel(
  deps: Deps,
  actor: Actor,
  channelId: string,
  input: z.infer<typeof updateChannelInput>,
): Promise<ChannelView> {
  return inTransaction(deps.database, actor, async (tx) => {
    const channel = await managedChannel(tx, actor, channelId);
    // A channel's type is fixed when it is made (the database refuses to change it): sending it back unchanged is fine.
    if (input.type !== undefined && input.type !== channel.type) {
      const message = "a channel's type is set when the channel is made and cannot be changed";
      throw new AppError("validation_failed", `type: ${message}`, [{ field: "type", message }]);
    }
    const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
    const [row] = Object.keys(changes).length
      ? await tx.update(channels).set(changes).where(eq(channels.id, channelId)).returning()
      : [await readableChannel(tx, channelId)];
    // Deleted by another request since the check above.
    if (!row) throw new AppError("not_found", "channel not found");
    return toChannelView(row);
  });
}

export async function deleteChannel(deps: Deps, actor: Actor, channelId: string): Promise<void> {
  await inTransaction(deps.database, actor, async (tx, after) => {
    await managedChannel(tx, actor, channelId);
    await tx.delete(channels).where(eq(channels.id, channelId));
    after(() => accessChanged(deps, [channelId]));
  });
}
