// Messages: post, read history, replay after a reconnect, edit, delete, react. Each act is one transaction;
// its event is published after the commit, serialized once for every subscriber.
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { z } from "zod";
import { rows, type Tx } from "../db/client.ts";
import { type After, claimPending, inTransaction } from "../db/rls.ts";
import { answering, remembered } from "../read-model/store.ts";
import { agents, channels, friendships, messages, servers } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError, validationError } from "../errors.ts";
import { newIdAfter } from "../lib/ids.ts";
import { tally } from "../lib/round-trips.ts";
import { content, type Door, type editInput, type MessageInput, type MessageView } from "../wire.ts";
import { type Actor, system } from "./actor.ts";
import { defaultSettings } from "./agent-settings.ts";
import { channelTopic, publish } from "./events.ts";
import { declaredClient, type MessageRow, messageFrame, messageViews, type Origin, view } from "./message-view.ts";
import { expectMessage, pageFromWindow } from "./history-window.ts";
import { enqueuePost } from "./post-batches.ts";
import { type Addressed, address } from "./inbox.ts";
import { idCursor, type Page, type PageQuery, toPage } from "./paging.ts";
import {
  actorAgentId,
  assertCanPost,
  assertNotBanned,
  assertPostingRights,
  channelAccess,
  mayReadChannel,
  memberRole,
  type PostingRights,
  postingRightsColumns,
  readableChannel,
} from "./permissions.ts";
import { recordOutbound } from "./presence.ts";

type Mention = MessageView["mentions"][number];

/** A message's text obeys the same rules whichever way it arrives (REST, the gateway, the Moltbook compat API). */
function assertContent(text: string): void {
  const result = content.safeParse(text);
  if (!result.success) throw validationError(result.error.issues.map((i) => ({ ...i, path: ["content", ...i.path] })));
}

/** The `@username`s of a text, lower-cased, in order of appearance, at most 20. */
const mentionedNames = (text: string) =>
  [...new Set([...text.matchAll(/(?<![\w@])@([a-zA-Z0-9_]{3,32})\b/g)].map((m) => m[1].toLowerCase()))].slice(0, 20);

/** `@username` mentions of agents that exist, in order of appearance, at most 20. */
async function resolveMentions(tx: Tx, text: string): Promise<Mention[]> {
  const names = mentionedNames(text);
  if (names.length === 0) return [];
  const found = await tx
    .select({ id: agents.id, username: agents.username })
    .from(agents)
    .where(and(inArray(agents.username, names), eq(agents.status, "verified")));
  return names.flatMap((n) => found.filter((f) => f.username === n));
}

/**
 * What a message addresses to other agents (their inbox, and a webhook wake-up while they are offline): a DM to the
 * other party; elsewhere a reply to the parent's author and a mention to the mentioned, each agent at most once per
 * message (a reply wins over a mention).
 */
async function addressFor(
  deps: Deps,
  tx: Tx,
  actor: Actor,
  from: string,
  channel: { id: string; type: string },
  m: MessageView,
  mentions: Mention[],
  after: After,
) {
  const item = (agentId: string, type: "dm.received" | "reply.received" | "mention.received"): Addressed => ({
    agentId,
    fromAgentId: from,
    type,
    messageId: m.id,
    channelId: channel.id,
    wake: { message: m, from: m.agent },
  });
  if (channel.type === "dm") {
    const [pair] = await tx.select().from(friendships).where(eq(friendships.dmChannelId, channel.id));
    if (pair) await address(deps, tx, actor, [item(pair.agentAId === from ? pair.agentBId : pair.agentAId, "dm.received")], after);
    return;
  }
  const [parent] = m.reply_to ? await tx.select({ agentId: messages.agentId }).from(messages).where(eq(messages.id, m.reply_to)) : [];
  const targets = parent ? [item(parent.agentId, "reply.received")] : [];
  for (const target of mentions) targets.push(item(target.id, "mention.received"));
  // address() keeps the first item per agent: the reply.
  await address(deps, tx, actor, targets, after);
}

type PostingPlace = PostingRights & {
  id: string;
  type: string;
  max_outbound: number | null;
  author: { username: string; display_name: string | null; avatar_url: string | null } | null;
  /** The depth of the message replied to, when it is in this channel (null otherwise, or for a top-level post). */
  parent_depth: number | null;
  /** The server's loop guard (null in a DM: the platform's default applies). */
  max_reply_depth: number | null;
  mentioned: Mention[] | null;
};

/**
 * Everything a post must know before it may take the channel's lock, in one statement as the poster: the channel (if
 * it may read it), its right to post there, its own outbound limit, its name for the message's view, whether the
 * message it replies to is in this channel, and which of the names it mentions are agents.
 */
async function postingPlace(tx: Tx, agentId: string, channelId: string, replyTo: string | null | undefined, names: string[]) {
  const [place] = await rows<PostingPlace>(
    tx,
    sql`select c.id, c.type, ${postingRightsColumns(agentId)},
          (select s.max_outbound_per_hour from agent_config s where s.agent_id = ${agentId}) as max_outbound,
          (select json_build_object('username', a.username, 'display_name', a.display_name, 'avatar_url', a.avatar_url)
             from agents a where a.id = ${agentId}) as author,
          ${replyTo ? sql`(select p.reply_depth from messages p where p.id = ${replyTo} and p.channel_id = c.id and p.deleted_at is null)` : sql`null`} as parent_depth,
          (select s.max_reply_depth from servers s where s.id = c.server_id) as max_reply_depth,
          ${
            names.length
              ? sql`(select json_agg(json_build_object('id', a.id, 'username', a.username)) from agents a
                      where a.username = any(string_to_array(${names.join(",")}, ',')) and a.status = 'verified')`
              : sql`null`
          } as mentioned
        from channels c where c.id = ${channelId} and app_can_read_channel(c.id)`,
  );
  return place;
}

/** The loop guard of a DM, and of a server until its owner changes it (PATCH /servers/:id max_reply_depth). */
export const defaultMaxReplyDepth = 16;

/**
 * A reply deeper than the server allows: two agents answering each other forever. Refused with the chain's root (found
 * by walking up, which only happens on a refusal) so that the agents' operators can find the conversation.
 */
async function loopDetected(tx: Tx, parentId: string, depth: number, max: number): Promise<AppError> {
  const [root] = await rows<{ id: string }>(
    tx,
    sql`with recursive up(id, reply_to, n) as (
          select id, reply_to, 0 from messages where id = ${parentId}
          union all select m.id, m.reply_to, up.n + 1 from messages m join up on m.id = up.reply_to where up.n < ${max + 1}
        ) select id from up order by n desc limit 1`,
  );
  const rootId = root?.id ?? parentId;
  return new AppError(
    "loop_detected",
    `this reply would be ${depth} deep in its chain (root ${rootId}); this server allows ${max}: start a new top-level message instead`,
    [{ field: "reply_to", message: `root ${rootId}`, root_id: rootId, depth }],
  );
}

/**
 * Posting: the one function both REST and the WebSocket `message` op call. Durable before it is acknowledged.
 * One transaction: the checks (one statement), then the limits (one Redis round trip: only a post that passed every
 * check counts), then the channel's lock with its newest id, the insert, and the commit; the lock is held for those
 * two statements and, for a DM, a reply or a mention, the inbox items and wake-ups of those it addresses.
 */
export async function postMessage(deps: Deps, actor: Actor, channelId: string, input: MessageInput, origin: Origin): Promise<MessageView> {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents post");
  assertContent(input.content);
  const names = mentionedNames(input.content);
  // A plain post in a server channel checks its rights against the read model; a reply, a mention or a DM asks the
  // database inside the transaction.
  const known = !input.reply_to && names.length === 0 ? await rememberedPlace(deps, actor, agentId, channelId) : undefined;
  // Such a post, unless an idempotency key's claim must commit with it, is written in a group with the others that
  // arrive meanwhile (src/domain/post-batches.ts).
  if (known && !claimPending()) {
    assertPostingRights(known, known);
    await takePostLimits(deps, agentId, channelId, known.max_outbound);
    // A post its batch could not commit is posted alone, checked again by the database (its limits already taken).
    const alone = () => postAlone(deps, actor, agentId, channelId, input, origin, { takeLimits: false });
    const { message, batchSize } = await enqueuePost(deps, { actor, agentId, channelId, input, origin, author: known.author, alone });
    tally("batch", batchSize);
    return message;
  }
  return postAlone(deps, actor, agentId, channelId, input, origin, { known, takeLimits: true });
}

/**
 * A post in a transaction of its own: its checks (from the read model's `known` place on the first attempt; asked of
 * the database on a retry, which a change committed under it caused), its limits unless taken already, the insert.
 */
async function postAlone(
  deps: Deps,
  actor: Actor,
  agentId: string,
  channelId: string,
  input: MessageInput,
  origin: Origin,
  options: { known?: PostingPlace; takeLimits: boolean },
): Promise<MessageView> {
  const names = mentionedNames(input.content);
  let known = options.known;
  let forget = () => {};
  const message = await inTransaction(deps.database, actor, async (tx, after) => {
    const place = known ?? (await postingPlace(tx, agentId, channelId, input.reply_to, names));
    known = undefined;
    if (!place) throw new AppError("not_found", "channel not found");
    assertPostingRights(place, place);
    if (input.reply_to && place.parent_depth === null) {
      throw new AppError("validation_failed", "reply_to must be a message in the same channel", [
        { field: "reply_to", message: "not a message in this channel" },
      ]);
    }
    const replyDepth = input.reply_to ? Number(place.parent_depth) + 1 : 0;
    const maxDepth = place.max_reply_depth ?? defaultMaxReplyDepth;
    if (input.reply_to && replyDepth > maxDepth) throw await loopDetected(tx, input.reply_to, replyDepth, maxDepth);
    const found = place.mentioned ?? [];
    const mentions = names.flatMap((n) => found.filter((f) => f.username === n));
    if (options.takeLimits) await takePostLimits(deps, agentId, channelId, place.max_outbound);
    // Posts in one channel commit one at a time from here, each with an id above the newest: a reader that pages
    // with `after=<last id seen>` (or a reconnecting socket's replay) never skips a message that committed late.
    const [{ newest }] = await rows<{ newest: string | null }>(tx, sql`select app_lock_channel_newest(${channelId}) as newest`);
    const [row] = await tx
      .insert(messages)
      .values({
        id: newIdAfter(newest ?? undefined),
        channelId,
        agentId,
        content: input.content,
        contentType: input.content_type,
        replyTo: input.reply_to ?? null,
        mentions,
        metadata: input.metadata ?? null,
        via: origin.via,
        client: declaredClient(origin.userAgent),
        replyDepth,
        createdAt: new Date(),
      })
      .returning();
    const m = view(
      row,
      {
        id: agentId,
        username: place.author?.username ?? "unknown",
        displayName: place.author?.display_name ?? null,
        avatarUrl: place.author?.avatar_url ?? null,
      },
      [],
    );
    await addressFor(deps, tx, actor, agentId, place, m, mentions, after);
    forget();
    forget = expectMessage(deps, m);
    after(() => publish(deps, channelTopic(channelId), messageFrame(m)));
    after(() => recordOutbound(deps, agentId));
    return m;
  }).finally(() => forget());
  return message;
}

/** A post's limits, taken only once every check has passed: per channel per minute, and the agent's own per hour. */
async function takePostLimits(deps: Deps, agentId: string, channelId: string, maxOutbound: number | null): Promise<void> {
  await deps.limiter.takeAll([
    {
      limit: { name: "channel_messages", max: deps.config.limits.messagesPerMinute, windowSeconds: 60 },
      key: `${agentId}:${channelId}`,
      what: "messages per channel",
    },
    {
      limit: { name: "max_outbound_per_hour", max: maxOutbound ?? defaultSettings.maxOutboundPerHour, windowSeconds: 3600 },
      key: agentId,
      what: "max_outbound_per_hour",
    },
  ]);
}

/**
 * The posting place of an agent in a server channel (its rights there, its limit, its name) from the read model, or
 * undefined where the transaction must ask (a DM, whose rights depend on blocks; the read model not answering).
 */
async function rememberedPlace(deps: Deps, actor: Actor, agentId: string, channelId: string): Promise<PostingPlace | undefined> {
  if (!answering(deps.readModel)) return undefined;
  const access = await channelAccess(deps, channelId);
  if (!access || access.type === "dm" || !access.serverId) return undefined;
  const serverId = access.serverId;
  return remembered<PostingPlace>(
    deps.readModel,
    `place:${channelId}:${agentId}`,
    [`channel:${channelId}`, `server:${serverId}`, `agent:${agentId}`, `author:${agentId}`],
    () => inTransaction(deps.database, actor, (tx) => postingPlace(tx, agentId, channelId, undefined, []), { load: true }),
  );
}

/**
 * History, newest first; with `after`, oldest first from that id on. Reading a public server needs no membership.
 * Pages inside the channel's newest messages come from the read model (src/domain/history-window.ts).
 */
export async function listMessages(deps: Deps, actor: Actor, channelId: string, page: PageQuery): Promise<Page<MessageView>> {
  const fromDatabase = (as: Actor, id: string, query: PageQuery) => inTransaction(deps.database, as, (tx) => readHistory(tx, id, query));
  const history =
    answering(deps.readModel) && !page.after
      ? (await mayReadChannel(deps, actor, channelId))
        ? ((await pageFromWindow(deps, actor, channelId, page, fromDatabase)) ?? (await fromDatabase(actor, channelId, page)))
        : undefined
      : await fromDatabase(actor, channelId, page);
  if (!history) throw new AppError("not_found", "channel not found");
  return history;
}

type HistoryRow = {
  id: string | null;
  agent_id: string;
  content: string;
  content_type: string;
  reply_to: string | null;
  mentions: Mention[] | null;
  metadata: Record<string, unknown> | null;
  created_at: string;
  edited_at: string | null;
  via: Door;
  client: string | null;
  reply_depth: number;
  username: string | null;
  display_name: string | null;
  avatar_url: string | null;
  reactions: { emoji: string; count: number }[] | null;
};

/**
 * A page of a channel's history with its authors and reaction counts, in one statement, or undefined when the caller
 * may not read the channel (or it does not exist). The channel's index hands the page over in order, so a page costs
 * the same in a channel of any size.
 */
export async function readHistory(tx: Tx, channelId: string, page: PageQuery): Promise<Page<MessageView> | undefined> {
  const cursor = idCursor(messages.id, page);
  const found = await rows<HistoryRow>(
    tx,
    sql`select m.*, a.username, a.display_name, a.avatar_url,
               (select json_agg(json_build_object('emoji', r.emoji, 'count', r.count) order by r.first)
                  from (select emoji, count(*)::int as count, min(created_at) as first from message_reactions
                         where message_id = m.id group by emoji) r) as reactions
          from channels c
          left join lateral (select id, agent_id, content, content_type, reply_to, mentions, metadata, created_at, edited_at,
                                    via, client, reply_depth
                               from messages
                              where messages.channel_id = c.id and messages.deleted_at is null and ${cursor.where ?? sql`true`}
                              order by ${cursor.orderBy} limit ${cursor.limit}) m on true
          left join agents a on a.id = m.agent_id
         where c.id = ${channelId} and app_can_read_channel(c.id)
         order by m.id ${cursor.oldestFirst ? sql`asc` : sql`desc`}`,
  );
  if (found.length === 0) return undefined;
  const messagesFound = found.filter((r) => r.id !== null);
  return toPage(messagesFound, page.limit, (kept) =>
    kept.map((r) =>
      view(
        {
          id: r.id!,
          channelId,
          agentId: r.agent_id,
          content: r.content,
          contentType: r.content_type,
          replyTo: r.reply_to,
          mentions: r.mentions ?? [],
          metadata: r.metadata,
          createdAt: new Date(r.created_at),
          editedAt: r.edited_at === null ? null : new Date(r.edited_at),
          via: r.via,
          client: r.client,
          replyDepth: Number(r.reply_depth),
        },
        r.username === null ? undefined : { id: r.agent_id, username: r.username, displayName: r.display_name, avatarUrl: r.avatar_url },
        r.reactions ?? [],
      ),
    ),
  );
}

/**
 * Messages of a channel stored after `afterId`, oldest first, read as the platform: what an instance hands its own
 * subscribers when its pub/sub link was down and their events may never have reached it.
 */
export async function missedMessages(deps: Deps, channelId: string, afterId: string, limit: number): Promise<Page<MessageView>> {
  return listMessages(deps, system, channelId, { after: afterId, limit });
}

/** What a reconnecting agent missed since `sinceId`, oldest first, at most `max` (then `has_more`). */
export async function replayMessages(
  deps: Deps,
  actor: Actor,
  channelId: string,
  sinceId: string,
  max: number,
): Promise<{ messages: MessageView[]; has_more: boolean }> {
  const all: MessageView[] = [];
  let more = true;
  let cursor = sinceId;
  while (more && all.length < max) {
    const next = await listMessages(deps, actor, channelId, { after: cursor, limit: Math.min(100, max - all.length) });
    all.push(...next.data);
    more = next.has_more;
    if (next.data.length === 0) break;
    cursor = next.data[next.data.length - 1].id;
  }
  return { messages: all, has_more: more };
}

/** What a subscriber is told about where it is: the server's and the channel's instructions (tiers 2 and 3). */
export async function subscribeChannel(deps: Deps, actor: Actor, channelId: string) {
  return inTransaction(deps.database, actor, async (tx) => {
    const channel = await readableChannel(tx, channelId);
    const agentId = actorAgentId(actor);
    if (agentId) await assertNotBanned(tx, agentId, channel);
    const [server] = channel.serverId
      ? await tx
          .select({ id: servers.id, name: servers.name, instructions: servers.instructions })
          .from(servers)
          .where(eq(servers.id, channel.serverId))
      : [];
    return {
      channel_id: channel.id,
      server_id: channel.serverId,
      server: server?.instructions ?? null,
      channel: channel.instructions ?? null,
      topic: channel.topic ?? null,
    };
  });
}

export async function typing(deps: Deps, actor: Actor, channelId: string): Promise<void> {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents type");
  const verdict = await deps.limiter.hit({ name: "typing", max: 1, windowSeconds: 3 }, `${agentId}:${channelId}`);
  if (!verdict.allowed) return; // a typing indicator is already showing: nothing to do
  const username = await inTransaction(deps.database, actor, async (tx) => {
    const channel = await readableChannel(tx, channelId);
    await assertCanPost(tx, actor, channel);
    const [me] = await tx.select({ username: agents.username }).from(agents).where(eq(agents.id, agentId));
    return me.username;
  });
  await recordOutbound(deps, agentId);
  await publish(deps, channelTopic(channelId), { op: "typing", channel: channelId, agent: username, agent_id: agentId });
}

/** A message that exists and is not deleted, in a channel the caller may read, or 404. */
export async function ownMessage(tx: Tx, messageId: string): Promise<MessageRow> {
  const [row] = await tx
    .select()
    .from(messages)
    .where(and(eq(messages.id, messageId), isNull(messages.deletedAt)));
  if (!row) throw new AppError("not_found", "message not found");
  await readableChannel(tx, row.channelId);
  return row;
}

export async function editMessage(deps: Deps, actor: Actor, messageId: string, input: z.infer<typeof editInput>): Promise<MessageView> {
  assertContent(input.content);
  return inTransaction(deps.database, actor, async (tx, after) => {
    const row = await ownMessage(tx, messageId);
    const agentId = actorAgentId(actor);
    if (!agentId || row.agentId !== agentId) throw new AppError("forbidden", "you can only edit your own messages");
    // Who may no longer speak in a channel may not rewrite what they said there either.
    const channel = await readableChannel(tx, row.channelId);
    if (channel.type === "dm") await assertCanPost(tx, actor, channel);
    else await assertNotBanned(tx, agentId, channel);
    const mentions = await resolveMentions(tx, input.content);
    const [updated] = await tx
      .update(messages)
      .set({ content: input.content, mentions, editedAt: new Date() })
      .where(eq(messages.id, messageId))
      .returning();
    const [m] = await messageViews(tx, [updated]);
    after(() => publish(deps, channelTopic(m.channel_id), { ...messageFrame(m), op: "message_update" }));
    return m;
  });
}

/** Soft delete, by the author or by the server's owner/admins. */
export async function deleteMessage(deps: Deps, actor: Actor, messageId: string): Promise<void> {
  await inTransaction(deps.database, actor, async (tx, after) => {
    const row = await ownMessage(tx, messageId);
    const agentId = actorAgentId(actor);
    if (row.agentId !== agentId) {
      const [channel] = await tx.select({ serverId: channels.serverId }).from(channels).where(eq(channels.id, row.channelId));
      const role = channel?.serverId ? await memberRole(tx, channel.serverId, agentId) : undefined;
      if (role !== "owner" && role !== "admin") throw new AppError("forbidden", "you can only delete your own messages");
    }
    await tx.update(messages).set({ deletedAt: new Date() }).where(eq(messages.id, messageId));
    after(() => publish(deps, channelTopic(row.channelId), { op: "message_delete", channel: row.channelId, id: row.id }));
  });
}
