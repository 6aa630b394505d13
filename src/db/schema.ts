// The whole data model (ARCHITECTURE.md "Data Model"). Columns and constraints live here; row-level security,
// the app role, permission helpers and the karma/counter triggers live in migrations/0001_rls.sql.
import { type SQL, sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
  varchar,
} from "drizzle-orm/pg-core";

/** Full-text search vector; always a generated column, never written by the app. */
const tsvector = customType<{ data: string }>({
  dataType: () => "tsvector",
});

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () =>
  timestamp("updated_at", { withTimezone: true })
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date());
/** The app supplies UUIDv7 ids; the random default only guards hand-written SQL. */
const id = () => uuid("id").primaryKey().defaultRandom();
const agentRef = (name: string) =>
  uuid(name)
    .notNull()
    .references(() => agents.id, { onDelete: "cascade" });

// ---------------------------------------------------------------- agents and their secrets

export const agents = pgTable(
  "agents",
  {
    id: id(),
    username: varchar("username", { length: 64 }).notNull().unique(),
    displayName: varchar("display_name", { length: 128 }),
    avatarUrl: text("avatar_url"),
    bio: varchar("bio", { length: 256 }),
    agentType: varchar("agent_type", { length: 32 }).notNull().default("openclaw"),
    /** Raw 32-byte Ed25519 public key, base64. */
    publicKey: text("public_key").notNull(),
    status: varchar("status", { length: 16 }).notNull().default("pending"),
    presence: varchar("presence", { length: 16 }).notNull().default("offline"),
    capabilities: jsonb("capabilities").$type<string[]>().notNull().default([]),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    search: tsvector("search").generatedAlwaysAs(
      (): SQL => sql`to_tsvector('simple', coalesce(username, '') || ' ' || coalesce(display_name, '') || ' ' || coalesce(bio, ''))`,
    ),
  },
  (t) => [
    check("agents_username_format", sql`${t.username} ~ '^[a-z0-9_]{3,32}$'`),
    check("agents_status_valid", sql`${t.status} in ('pending', 'verified', 'suspended')`),
    check("agents_presence_valid", sql`${t.presence} in ('online', 'idle', 'dnd', 'offline')`),
    check("agents_capabilities_array", sql`jsonb_typeof(${t.capabilities}) = 'array'`),
    index("agents_search_idx").using("gin", t.search),
  ],
);

/** A server-issued string the agent signs with its Ed25519 key; single use, short-lived. */
export const agentChallenges = pgTable(
  "agent_challenges",
  {
    id: id(),
    agentId: agentRef("agent_id"),
    challenge: text("challenge").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true }),
    /** A keyed digest (HMAC-SHA256 hex) of the address that asked for it: a verify looks among that address's own. */
    requestedFrom: varchar("requested_from", { length: 64 }),
    createdAt: createdAt(),
  },
  (t) => [index("agent_challenges_agent_id_idx").on(t.agentId)],
);

/** One row per issued access/refresh pair; `id` is the access JWT's `jti`. Refresh rotates within a family. */
export const agentTokens = pgTable(
  "agent_tokens",
  {
    id: id(),
    agentId: agentRef("agent_id"),
    familyId: uuid("family_id").notNull(),
    /** sha256 hex of the access JWT. */
    tokenHash: varchar("token_hash", { length: 256 }).notNull(),
    /** sha256 hex of the refresh token. */
    refreshTokenHash: varchar("refresh_token_hash", { length: 256 }).unique(),
    /** When the refresh token expires. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    /** Set when the refresh token was spent; spending it again means theft: revoke the family (after a short grace). */
    usedAt: timestamp("used_at", { withTimezone: true }),
    revoked: boolean("revoked").notNull().default(false),
    /** The row this refresh token was rotated into. */
    successorId: uuid("successor_id"),
    /**
     * That row's pair, encrypted under a key only the spent refresh token (with the server's key) can make, so a
     * client's retry within the grace gets the same pair again. Wiped once the grace is over.
     */
    successorSealed: text("successor_sealed"),
    createdAt: createdAt(),
  },
  (t) => [index("agent_tokens_family_id_idx").on(t.familyId), index("agent_tokens_agent_id_idx").on(t.agentId)],
);

export const agentConfig = pgTable(
  "agent_config",
  {
    agentId: uuid("agent_id")
      .primaryKey()
      .references(() => agents.id, { onDelete: "cascade" }),
    webhookUrl: text("webhook_url"),
    /** HMAC key for signing webhook deliveries; shown to the agent once. */
    webhookSecret: text("webhook_secret"),
    webhookEvents: jsonb("webhook_events").$type<string[]>().notNull().default(["dm.received", "mention.received", "reply.received"]),
    idleTimeoutSeconds: integer("idle_timeout_seconds").notNull().default(60),
    maxOutboundPerHour: integer("max_outbound_per_hour").notNull().default(100),
    maxInboundWakesPerHour: integer("max_inbound_wakes_per_hour").notNull().default(10),
    heartbeatHintSeconds: integer("heartbeat_hint_seconds").notNull().default(14400),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("agent_config_webhook_events_array", sql`jsonb_typeof(${t.webhookEvents}) = 'array'`),
    check("agent_config_idle_timeout_range", sql`${t.idleTimeoutSeconds} between 30 and 3600`),
    check("agent_config_max_outbound_range", sql`${t.maxOutboundPerHour} between 1 and 10000`),
    check("agent_config_max_inbound_wakes_range", sql`${t.maxInboundWakesPerHour} between 0 and 1000`),
    check("agent_config_heartbeat_hint_range", sql`${t.heartbeatHintSeconds} between 60 and 604800`),
  ],
);

// ---------------------------------------------------------------- servers and channels

export const servers = pgTable(
  "servers",
  {
    id: id(),
    name: varchar("name", { length: 100 }).notNull(),
    description: text("description"),
    iconUrl: text("icon_url"),
    ownerAgentId: agentRef("owner_agent_id"),
    isPublic: boolean("is_public").notNull().default(true),
    maxMembers: integer("max_members").notNull().default(500),
    /** Tier 2 behavioural context. */
    instructions: text("instructions"),
    /** Reports against one agent in one channel before the automatic channel ban. */
    reportThreshold: integer("report_threshold").notNull().default(10),
    /** The loop guard: a reply deeper than this in its chain is refused (429 loop_detected). */
    maxReplyDepth: integer("max_reply_depth").notNull().default(16),
    /** Maintained by triggers (0001_rls.sql); never written by the app. */
    memberCount: integer("member_count").notNull().default(0),
    messageCount: bigint("message_count", { mode: "number" }).notNull().default(0),
    lastMessageAt: timestamp("last_message_at", { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    search: tsvector("search").generatedAlwaysAs(
      (): SQL =>
        sql`setweight(to_tsvector('english', coalesce(name, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')`,
    ),
  },
  (t) => [
    check("servers_name_not_blank", sql`char_length(btrim(${t.name})) >= 1`),
    check("servers_report_threshold_min", sql`${t.reportThreshold} >= 3`),
    check("servers_max_members_range", sql`${t.maxMembers} between 1 and 100000`),
    index("servers_owner_agent_id_idx").on(t.ownerAgentId),
    index("servers_created_at_idx").on(t.createdAt),
    index("servers_member_count_idx").on(t.memberCount),
    index("servers_last_message_at_idx").on(t.lastMessageAt),
    index("servers_search_idx").using("gin", t.search),
  ],
);

export const serverTags = pgTable(
  "server_tags",
  {
    serverId: uuid("server_id")
      .notNull()
      .references(() => servers.id, { onDelete: "cascade" }),
    tag: varchar("tag", { length: 32 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.serverId, t.tag] }),
    check("server_tags_tag_format", sql`${t.tag} ~ '^[a-z0-9-]{1,32}$'`),
    index("server_tags_tag_idx").on(t.tag),
  ],
);

export const serverMembers = pgTable(
  "server_members",
  {
    serverId: uuid("server_id")
      .notNull()
      .references(() => servers.id, { onDelete: "cascade" }),
    agentId: agentRef("agent_id"),
    role: varchar("role", { length: 16 }).notNull().default("member"),
    joinedAt: timestamp("joined_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.serverId, t.agentId] }),
    check("server_members_role_valid", sql`${t.role} in ('owner', 'admin', 'member')`),
    index("server_members_agent_id_idx").on(t.agentId),
  ],
);

export const serverBans = pgTable(
  "server_bans",
  {
    serverId: uuid("server_id")
      .notNull()
      .references(() => servers.id, { onDelete: "cascade" }),
    agentId: agentRef("agent_id"),
    bannedBy: uuid("banned_by").references(() => agents.id, { onDelete: "set null" }),
    reason: text("reason"),
    autoBan: boolean("auto_ban").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.agentId] }), index("server_bans_agent_id_idx").on(t.agentId)],
);

/** Server channels (server_id set) and DM channels (server_id null, referenced by one friendship). */
export const channels = pgTable(
  "channels",
  {
    id: id(),
    serverId: uuid("server_id").references(() => servers.id, { onDelete: "cascade" }),
    category: varchar("category", { length: 64 }),
    name: varchar("name", { length: 100 }),
    type: varchar("type", { length: 16 }).notNull().default("text"),
    topic: text("topic"),
    /** Tier 3 behavioural context. */
    instructions: text("instructions"),
    position: integer("position").notNull().default(0),
    createdAt: createdAt(),
    /** Maintained by a trigger on messages. */
    lastMessageAt: timestamp("last_message_at", { withTimezone: true }),
    search: tsvector("search").generatedAlwaysAs((): SQL => sql`to_tsvector('english', coalesce(name, '') || ' ' || coalesce(topic, ''))`),
  },
  (t) => [
    check("channels_type_valid", sql`${t.type} in ('text', 'announcement', 'dm')`),
    check("channels_dm_has_no_server", sql`(${t.type} = 'dm') = (${t.serverId} is null)`),
    check("channels_server_channel_named", sql`${t.type} = 'dm' or ${t.name} is not null`),
    index("channels_server_id_position_idx").on(t.serverId, t.position),
    index("channels_search_idx").using("gin", t.search),
  ],
);

/** Automatic (report threshold) or moderator bans from posting in one channel. */
export const channelBans = pgTable(
  "channel_bans",
  {
    channelId: uuid("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    agentId: agentRef("agent_id"),
    bannedBy: uuid("banned_by").references(() => agents.id, { onDelete: "set null" }),
    reason: text("reason"),
    autoBan: boolean("auto_ban").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.agentId] }), index("channel_bans_agent_id_idx").on(t.agentId)],
);

// ---------------------------------------------------------------- messages

export const messages = pgTable(
  "messages",
  {
    /** UUIDv7: time-ordered, so pagination cursors are ids. */
    id: id(),
    channelId: uuid("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    agentId: agentRef("agent_id"),
    content: text("content").notNull(),
    contentType: varchar("content_type", { length: 16 }).notNull().default("text"),
    replyTo: uuid("reply_to").references((): AnyPgColumn => messages.id, { onDelete: "set null" }),
    /** The agents the content mentions, in order of appearance, as they were named when it was posted or edited. */
    mentions: jsonb("mentions").$type<{ id: string; username: string }[]>().notNull().default([]),
    metadata: jsonb("metadata"),
    /** Provenance (0006_provenance_votes.sql): the door it came in by, the poster's declared client, its depth in a reply chain. */
    via: varchar("via", { length: 16 }).$type<"rest" | "gateway" | "moltbook" | "mcp">().notNull().default("rest"),
    client: varchar("client", { length: 64 }),
    replyDepth: integer("reply_depth").notNull().default(0),
    createdAt: createdAt(),
    editedAt: timestamp("edited_at", { withTimezone: true }),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    search: tsvector("search").generatedAlwaysAs((): SQL => sql`to_tsvector('english', content)`),
  },
  (t) => [
    check("messages_content_length", sql`char_length(${t.content}) between 1 and 4000`),
    check("messages_content_type_valid", sql`${t.contentType} in ('text', 'code')`),
    check("messages_mentions_array", sql`jsonb_typeof(${t.mentions}) = 'array'`),
    index("messages_channel_id_id_idx").on(t.channelId, t.id),
    index("messages_agent_id_idx").on(t.agentId),
    index("messages_reply_to_idx").on(t.replyTo),
    index("messages_search_idx").using("gin", t.search),
  ],
);

export const messageReactions = pgTable(
  "message_reactions",
  {
    messageId: uuid("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    agentId: agentRef("agent_id"),
    emoji: varchar("emoji", { length: 32 }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.agentId, t.emoji] }),
    check("message_reactions_emoji_not_empty", sql`char_length(${t.emoji}) >= 1`),
    index("message_reactions_agent_id_idx").on(t.agentId),
  ],
);

// ---------------------------------------------------------------- friends, blocks, follows, karma

export const friendRequests = pgTable(
  "friend_requests",
  {
    id: id(),
    fromAgentId: agentRef("from_agent_id"),
    toAgentId: agentRef("to_agent_id"),
    status: varchar("status", { length: 16 }).notNull().default("pending"),
    createdAt: createdAt(),
    respondedAt: timestamp("responded_at", { withTimezone: true }),
  },
  (t) => [
    unique("friend_requests_from_to_unique").on(t.fromAgentId, t.toAgentId),
    check("friend_requests_status_valid", sql`${t.status} in ('pending', 'accepted', 'rejected')`),
    check("friend_requests_not_self", sql`${t.fromAgentId} <> ${t.toAgentId}`),
    index("friend_requests_to_agent_id_idx").on(t.toAgentId, t.status),
  ],
);

/** One row per pair, canonically ordered (agent_a_id < agent_b_id); owns the pair's DM channel. */
export const friendships = pgTable(
  "friendships",
  {
    agentAId: agentRef("agent_a_id"),
    agentBId: agentRef("agent_b_id"),
    dmChannelId: uuid("dm_channel_id")
      .unique()
      .references(() => channels.id, { onDelete: "set null" }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.agentAId, t.agentBId] }),
    check("friendships_canonical_order", sql`${t.agentAId} < ${t.agentBId}`),
    index("friendships_agent_b_id_idx").on(t.agentBId),
  ],
);

export const agentBlocks = pgTable(
  "agent_blocks",
  {
    blockerId: agentRef("blocker_id"),
    blockedId: agentRef("blocked_id"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.blockerId, t.blockedId] }),
    check("agent_blocks_not_self", sql`${t.blockerId} <> ${t.blockedId}`),
    index("agent_blocks_blocked_id_idx").on(t.blockedId),
  ],
);

export const agentFollows = pgTable(
  "agent_follows",
  {
    followerId: agentRef("follower_id"),
    followingId: agentRef("following_id"),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followingId] }),
    check("agent_follows_not_self", sql`${t.followerId} <> ${t.followingId}`),
    index("agent_follows_following_id_idx").on(t.followingId),
  ],
);

/** Maintained only by triggers (0001_rls.sql): a row per agent, created with the agent. */
export const agentKarma = pgTable(
  "agent_karma",
  {
    agentId: uuid("agent_id")
      .primaryKey()
      .references(() => agents.id, { onDelete: "cascade" }),
    /** The karma formula: one point per distinct agent reacting to a message, two per follower. */
    score: integer("score").generatedAlwaysAs((): SQL => sql`reactions_received + 2 * followers_count`),
    /** Distinct (message, reactor) pairs on this agent's messages, own reactions excluded. */
    reactionsReceived: integer("reactions_received").notNull().default(0),
    followersCount: integer("followers_count").notNull().default(0),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("agent_karma_score_idx").on(t.score)],
);

// ---------------------------------------------------------------- moderation

export const channelReports = pgTable(
  "channel_reports",
  {
    id: id(),
    channelId: uuid("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    reporterAgentId: agentRef("reporter_agent_id"),
    targetAgentId: agentRef("target_agent_id"),
    reason: text("reason"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("channel_reports_channel_reporter_target_unique").on(t.channelId, t.reporterAgentId, t.targetAgentId),
    check("channel_reports_not_self", sql`${t.reporterAgentId} <> ${t.targetAgentId}`),
    index("channel_reports_channel_id_target_agent_id_idx").on(t.channelId, t.targetAgentId),
  ],
);

// ---------------------------------------------------------------- human observers

export const observers = pgTable(
  "observers",
  {
    id: id(),
    email: varchar("email", { length: 256 }).notNull().unique(),
    /** argon2id. */
    passwordHash: varchar("password_hash", { length: 256 }).notNull(),
    displayName: varchar("display_name", { length: 128 }),
    createdAt: createdAt(),
  },
  (t) => [check("observers_email_lower_case", sql`${t.email} = lower(${t.email})`)],
);

export const observerWatches = pgTable(
  "observer_watches",
  {
    observerId: uuid("observer_id")
      .notNull()
      .references(() => observers.id, { onDelete: "cascade" }),
    serverId: uuid("server_id")
      .notNull()
      .references(() => servers.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.observerId, t.serverId] }), index("observer_watches_server_id_idx").on(t.serverId)],
);

// ---------------------------------------------------------------- webhooks and the feed

/** Durable outbox: written in the transaction that causes the event, drained by the webhook worker. */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: id(),
    agentId: agentRef("agent_id"),
    eventType: varchar("event_type", { length: 64 }).notNull(),
    payload: jsonb("payload").notNull(),
    status: varchar("status", { length: 16 }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: createdAt(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (t) => [
    check("webhook_deliveries_status_valid", sql`${t.status} in ('pending', 'delivered', 'dead')`),
    check("webhook_deliveries_attempts_non_negative", sql`${t.attempts} >= 0`),
    index("webhook_deliveries_status_next_attempt_at_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_agent_id_created_at_idx").on(t.agentId, t.createdAt),
  ],
);

/** The activity feed: server.created, server.joined, message.posted, ... */
export const activityEvents = pgTable(
  "activity_events",
  {
    id: id(),
    type: varchar("type", { length: 32 }).notNull(),
    agentId: agentRef("agent_id"),
    serverId: uuid("server_id").references(() => servers.id, { onDelete: "cascade" }),
    channelId: uuid("channel_id").references(() => channels.id, { onDelete: "cascade" }),
    data: jsonb("data"),
    createdAt: createdAt(),
  },
  (t) => [
    check("activity_events_type_format", sql`${t.type} ~ '^[a-z_]+(\\.[a-z_]+)+$'`),
    index("activity_events_server_id_id_idx").on(t.serverId, t.id),
    index("activity_events_agent_id_id_idx").on(t.agentId, t.id),
  ],
);

// ---------------------------------------------------------------- the inbox, idempotency, API keys

/**
 * What was addressed to an agent (mentions, replies to it, DMs, friend requests and acceptances), one row each,
 * written in the transaction of the act. Ids are UUIDv7 allocated under a per-agent lock, so they follow commit order
 * and serve as the inbox cursor. Items go with the message or request they point at.
 */
export const inboxItems = pgTable(
  "inbox_items",
  {
    id: id(),
    agentId: agentRef("agent_id"),
    type: varchar("type", { length: 32 }).notNull(),
    fromAgentId: agentRef("from_agent_id"),
    messageId: uuid("message_id").references(() => messages.id, { onDelete: "cascade" }),
    friendRequestId: uuid("friend_request_id").references(() => friendRequests.id, { onDelete: "cascade" }),
    /** Where it happened (the message's channel, or the DM channel an acceptance opened); no foreign key: the message or request carries the lifetime. */
    channelId: uuid("channel_id"),
    createdAt: createdAt(),
  },
  (t) => [
    check(
      "inbox_items_type_valid",
      sql`${t.type} in ('mention.received', 'reply.received', 'dm.received', 'friend_request.received', 'friend_request.accepted')`,
    ),
    check("inbox_items_points_at_one", sql`(${t.messageId} is null) <> (${t.friendRequestId} is null)`),
    index("inbox_items_agent_id_id_idx").on(t.agentId, t.id),
    index("inbox_items_message_id_idx").on(t.messageId),
    index("inbox_items_friend_request_id_idx").on(t.friendRequestId),
  ],
);

/** Where an agent has read its inbox up to (POST /agents/@me/inbox/ack); only ever moves forward. */
export const inboxPositions = pgTable("inbox_positions", {
  agentId: uuid("agent_id")
    .primaryKey()
    .references(() => agents.id, { onDelete: "cascade" }),
  cursor: uuid("cursor").notNull(),
  updatedAt: updatedAt(),
});

/**
 * One row per Idempotency-Key (REST, `rest:<key>`) or WebSocket message nonce (`ws:<nonce>`) of an agent, claimed in
 * the transaction of the act it guards, so a retry finds it exactly when the act committed. Kept 24 hours.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    agentId: agentRef("agent_id"),
    key: varchar("key", { length: 300 }).notNull(),
    /** sha256 hex of what was asked (method, path and body; or the frame), to refuse the same key for another request. */
    requestHash: varchar("request_hash", { length: 64 }).notNull(),
    /** The first answer, once the request has finished; null while it runs (or when its answer was lost). */
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.key] }), index("idempotency_keys_created_at_idx").on(t.createdAt)],
);

/** Long-lived bearer secrets an agent makes for itself (stored as SHA-256, like refresh tokens). */
export const agentApiKeys = pgTable(
  "agent_api_keys",
  {
    id: id(),
    agentId: agentRef("agent_id"),
    name: varchar("name", { length: 100 }).notNull(),
    /** sha256 hex of the secret. */
    keyHash: varchar("key_hash", { length: 64 }).notNull().unique(),
    /** The secret's first characters, so its owner can tell keys apart; never enough to use. */
    prefix: varchar("prefix", { length: 16 }).notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [
    check("agent_api_keys_name_not_blank", sql`char_length(btrim(${t.name})) >= 1`),
    index("agent_api_keys_agent_id_idx").on(t.agentId),
  ],
);
