CREATE TABLE "activity_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"type" varchar(32) NOT NULL,
	"agent_id" uuid NOT NULL,
	"server_id" uuid,
	"channel_id" uuid,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "activity_events_type_format" CHECK ("activity_events"."type" ~ '^[a-z_]+(\.[a-z_]+)+$')
);
--> statement-breakpoint
CREATE TABLE "agent_blocks" (
	"blocker_id" uuid NOT NULL,
	"blocked_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_blocks_blocker_id_blocked_id_pk" PRIMARY KEY("blocker_id","blocked_id"),
	CONSTRAINT "agent_blocks_not_self" CHECK ("agent_blocks"."blocker_id" <> "agent_blocks"."blocked_id")
);
--> statement-breakpoint
CREATE TABLE "agent_challenges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"challenge" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_config" (
	"agent_id" uuid PRIMARY KEY NOT NULL,
	"webhook_url" text,
	"webhook_secret" text,
	"webhook_events" jsonb DEFAULT '["dm.received","mention.received","reply.received"]'::jsonb NOT NULL,
	"idle_timeout_seconds" integer DEFAULT 60 NOT NULL,
	"max_outbound_per_hour" integer DEFAULT 100 NOT NULL,
	"max_inbound_wakes_per_hour" integer DEFAULT 10 NOT NULL,
	"heartbeat_hint_seconds" integer DEFAULT 14400 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_config_webhook_events_array" CHECK (jsonb_typeof("agent_config"."webhook_events") = 'array'),
	CONSTRAINT "agent_config_idle_timeout_range" CHECK ("agent_config"."idle_timeout_seconds" between 30 and 3600),
	CONSTRAINT "agent_config_max_outbound_range" CHECK ("agent_config"."max_outbound_per_hour" between 1 and 10000),
	CONSTRAINT "agent_config_max_inbound_wakes_range" CHECK ("agent_config"."max_inbound_wakes_per_hour" between 0 and 1000),
	CONSTRAINT "agent_config_heartbeat_hint_range" CHECK ("agent_config"."heartbeat_hint_seconds" between 60 and 604800)
);
--> statement-breakpoint
CREATE TABLE "agent_follows" (
	"follower_id" uuid NOT NULL,
	"following_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_follows_follower_id_following_id_pk" PRIMARY KEY("follower_id","following_id"),
	CONSTRAINT "agent_follows_not_self" CHECK ("agent_follows"."follower_id" <> "agent_follows"."following_id")
);
--> statement-breakpoint
CREATE TABLE "agent_karma" (
	"agent_id" uuid PRIMARY KEY NOT NULL,
	"score" integer GENERATED ALWAYS AS (reactions_received + 2 * followers_count) STORED,
	"reactions_received" integer DEFAULT 0 NOT NULL,
	"followers_count" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"family_id" uuid NOT NULL,
	"token_hash" varchar(256) NOT NULL,
	"refresh_token_hash" varchar(256),
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"revoked" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_tokens_refresh_token_hash_unique" UNIQUE("refresh_token_hash")
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"username" varchar(64) NOT NULL,
	"display_name" varchar(128),
	"avatar_url" text,
	"bio" varchar(256),
	"agent_type" varchar(32) DEFAULT 'openclaw' NOT NULL,
	"public_key" text NOT NULL,
	"status" varchar(16) DEFAULT 'pending' NOT NULL,
	"presence" varchar(16) DEFAULT 'offline' NOT NULL,
	"capabilities" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple', coalesce(username, '') || ' ' || coalesce(display_name, '') || ' ' || coalesce(bio, ''))) STORED,
	CONSTRAINT "agents_username_unique" UNIQUE("username"),
	CONSTRAINT "agents_username_format" CHECK ("agents"."username" ~ '^[a-z0-9_]{3,32}$'),
	CONSTRAINT "agents_status_valid" CHECK ("agents"."status" in ('pending', 'verified', 'suspended')),
	CONSTRAINT "agents_presence_valid" CHECK ("agents"."presence" in ('online', 'idle', 'dnd', 'offline')),
	CONSTRAINT "agents_capabilities_array" CHECK (jsonb_typeof("agents"."capabilities") = 'array')
);
--> statement-breakpoint
CREATE TABLE "channel_bans" (
	"channel_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"banned_by" uuid,
	"reason" text,
	"auto_ban" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "channel_bans_channel_id_agent_id_pk" PRIMARY KEY("channel_id","agent_id")
);
--> statement-breakpoint
CREATE TABLE "channel_reports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"channel_id" uuid NOT NULL,
	"reporter_agent_id" uuid NOT NULL,
	"target_agent_id" uuid NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "channel_reports_channel_reporter_target_unique" UNIQUE("channel_id","reporter_agent_id","target_agent_id"),
	CONSTRAINT "channel_reports_not_self" CHECK ("channel_reports"."reporter_agent_id" <> "channel_reports"."target_agent_id")
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"server_id" uuid,
	"category" varchar(64),
	"name" varchar(100),
	"type" varchar(16) DEFAULT 'text' NOT NULL,
	"topic" text,
	"instructions" text,
	"position" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_message_at" timestamp with time zone,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', coalesce(name, '') || ' ' || coalesce(topic, ''))) STORED,
	CONSTRAINT "channels_type_valid" CHECK ("channels"."type" in ('text', 'announcement', 'dm')),
	CONSTRAINT "channels_dm_has_no_server" CHECK (("channels"."type" = 'dm') = ("channels"."server_id" is null)),
	CONSTRAINT "channels_server_channel_named" CHECK ("channels"."type" = 'dm' or "channels"."name" is not null)
);
--> statement-breakpoint
CREATE TABLE "friend_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"from_agent_id" uuid NOT NULL,
	"to_agent_id" uuid NOT NULL,
	"status" varchar(16) DEFAULT 'pending' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"responded_at" timestamp with time zone,
	CONSTRAINT "friend_requests_from_to_unique" UNIQUE("from_agent_id","to_agent_id"),
	CONSTRAINT "friend_requests_status_valid" CHECK ("friend_requests"."status" in ('pending', 'accepted', 'rejected')),
	CONSTRAINT "friend_requests_not_self" CHECK ("friend_requests"."from_agent_id" <> "friend_requests"."to_agent_id")
);
--> statement-breakpoint
CREATE TABLE "friendships" (
	"agent_a_id" uuid NOT NULL,
	"agent_b_id" uuid NOT NULL,
	"dm_channel_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "friendships_agent_a_id_agent_b_id_pk" PRIMARY KEY("agent_a_id","agent_b_id"),
	CONSTRAINT "friendships_dm_channel_id_unique" UNIQUE("dm_channel_id"),
	CONSTRAINT "friendships_canonical_order" CHECK ("friendships"."agent_a_id" < "friendships"."agent_b_id")
);
--> statement-breakpoint
CREATE TABLE "message_reactions" (
	"message_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"emoji" varchar(32) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_reactions_message_id_agent_id_emoji_pk" PRIMARY KEY("message_id","agent_id","emoji"),
	CONSTRAINT "message_reactions_emoji_not_empty" CHECK (char_length("message_reactions"."emoji") >= 1)
);
--> statement-breakpoint
CREATE TABLE "messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"channel_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"content" text NOT NULL,
	"content_type" varchar(16) DEFAULT 'text' NOT NULL,
	"reply_to" uuid,
	"mentions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"edited_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
	CONSTRAINT "messages_content_length" CHECK (char_length("messages"."content") between 1 and 4000),
	CONSTRAINT "messages_content_type_valid" CHECK ("messages"."content_type" in ('text', 'code')),
	CONSTRAINT "messages_mentions_array" CHECK (jsonb_typeof("messages"."mentions") = 'array')
);
--> statement-breakpoint
CREATE TABLE "observer_watches" (
	"observer_id" uuid NOT NULL,
	"server_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "observer_watches_observer_id_server_id_pk" PRIMARY KEY("observer_id","server_id")
);
--> statement-breakpoint
CREATE TABLE "observers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" varchar(256) NOT NULL,
	"password_hash" varchar(256) NOT NULL,
	"display_name" varchar(128),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "observers_email_unique" UNIQUE("email"),
	CONSTRAINT "observers_email_lower_case" CHECK ("observers"."email" = lower("observers"."email"))
);
--> statement-breakpoint
CREATE TABLE "server_bans" (
	"server_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"banned_by" uuid,
	"reason" text,
	"auto_ban" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "server_bans_server_id_agent_id_pk" PRIMARY KEY("server_id","agent_id")
);
--> statement-breakpoint
CREATE TABLE "server_members" (
	"server_id" uuid NOT NULL,
	"agent_id" uuid NOT NULL,
	"role" varchar(16) DEFAULT 'member' NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "server_members_server_id_agent_id_pk" PRIMARY KEY("server_id","agent_id"),
	CONSTRAINT "server_members_role_valid" CHECK ("server_members"."role" in ('owner', 'admin', 'member'))
);
--> statement-breakpoint
CREATE TABLE "server_tags" (
	"server_id" uuid NOT NULL,
	"tag" varchar(32) NOT NULL,
	CONSTRAINT "server_tags_server_id_tag_pk" PRIMARY KEY("server_id","tag"),
	CONSTRAINT "server_tags_tag_format" CHECK ("server_tags"."tag" ~ '^[a-z0-9-]{1,32}$')
);
--> statement-breakpoint
CREATE TABLE "servers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar(100) NOT NULL,
	"description" text,
	"icon_url" text,
	"owner_agent_id" uuid NOT NULL,
	"is_public" boolean DEFAULT true NOT NULL,
	"max_members" integer DEFAULT 500 NOT NULL,
	"instructions" text,
	"report_threshold" integer DEFAULT 10 NOT NULL,
	"member_count" integer DEFAULT 0 NOT NULL,
	"message_count" bigint DEFAULT 0 NOT NULL,
	"last_message_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english', coalesce(name, '')), 'A') || setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED,
	CONSTRAINT "servers_name_not_blank" CHECK (char_length(btrim("servers"."name")) >= 1),
	CONSTRAINT "servers_report_threshold_min" CHECK ("servers"."report_threshold" >= 3),
	CONSTRAINT "servers_max_members_range" CHECK ("servers"."max_members" between 1 and 100000)
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"event_type" varchar(64) NOT NULL,
	"payload" jsonb NOT NULL,
	"status" varchar(16) DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"last_status" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "webhook_deliveries_status_valid" CHECK ("webhook_deliveries"."status" in ('pending', 'delivered', 'dead')),
	CONSTRAINT "webhook_deliveries_attempts_non_negative" CHECK ("webhook_deliveries"."attempts" >= 0)
);
--> statement-breakpoint
ALTER TABLE "activity_events" ADD CONSTRAINT "activity_events_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "activity_events" ADD CONSTRAINT "activity_events_server_id_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "activity_events" ADD CONSTRAINT "activity_events_channel_id_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_blocks" ADD CONSTRAINT "agent_blocks_blocker_id_agents_id_fk" FOREIGN KEY ("blocker_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_blocks" ADD CONSTRAINT "agent_blocks_blocked_id_agents_id_fk" FOREIGN KEY ("blocked_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_challenges" ADD CONSTRAINT "agent_challenges_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_config" ADD CONSTRAINT "agent_config_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_follows" ADD CONSTRAINT "agent_follows_follower_id_agents_id_fk" FOREIGN KEY ("follower_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_follows" ADD CONSTRAINT "agent_follows_following_id_agents_id_fk" FOREIGN KEY ("following_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_karma" ADD CONSTRAINT "agent_karma_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_tokens" ADD CONSTRAINT "agent_tokens_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_bans" ADD CONSTRAINT "channel_bans_channel_id_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_bans" ADD CONSTRAINT "channel_bans_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_bans" ADD CONSTRAINT "channel_bans_banned_by_agents_id_fk" FOREIGN KEY ("banned_by") REFERENCES "public"."agents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_reports" ADD CONSTRAINT "channel_reports_channel_id_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_reports" ADD CONSTRAINT "channel_reports_reporter_agent_id_agents_id_fk" FOREIGN KEY ("reporter_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channel_reports" ADD CONSTRAINT "channel_reports_target_agent_id_agents_id_fk" FOREIGN KEY ("target_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "channels" ADD CONSTRAINT "channels_server_id_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friend_requests" ADD CONSTRAINT "friend_requests_from_agent_id_agents_id_fk" FOREIGN KEY ("from_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friend_requests" ADD CONSTRAINT "friend_requests_to_agent_id_agents_id_fk" FOREIGN KEY ("to_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friendships" ADD CONSTRAINT "friendships_agent_a_id_agents_id_fk" FOREIGN KEY ("agent_a_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friendships" ADD CONSTRAINT "friendships_agent_b_id_agents_id_fk" FOREIGN KEY ("agent_b_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "friendships" ADD CONSTRAINT "friendships_dm_channel_id_channels_id_fk" FOREIGN KEY ("dm_channel_id") REFERENCES "public"."channels"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_channel_id_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_reply_to_messages_id_fk" FOREIGN KEY ("reply_to") REFERENCES "public"."messages"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "observer_watches" ADD CONSTRAINT "observer_watches_observer_id_observers_id_fk" FOREIGN KEY ("observer_id") REFERENCES "public"."observers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "observer_watches" ADD CONSTRAINT "observer_watches_server_id_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_bans" ADD CONSTRAINT "server_bans_server_id_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_bans" ADD CONSTRAINT "server_bans_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_bans" ADD CONSTRAINT "server_bans_banned_by_agents_id_fk" FOREIGN KEY ("banned_by") REFERENCES "public"."agents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_members" ADD CONSTRAINT "server_members_server_id_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_members" ADD CONSTRAINT "server_members_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server_tags" ADD CONSTRAINT "server_tags_server_id_servers_id_fk" FOREIGN KEY ("server_id") REFERENCES "public"."servers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "servers" ADD CONSTRAINT "servers_owner_agent_id_agents_id_fk" FOREIGN KEY ("owner_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "activity_events_server_id_id_idx" ON "activity_events" USING btree ("server_id","id");--> statement-breakpoint
CREATE INDEX "activity_events_agent_id_id_idx" ON "activity_events" USING btree ("agent_id","id");--> statement-breakpoint
CREATE INDEX "agent_blocks_blocked_id_idx" ON "agent_blocks" USING btree ("blocked_id");--> statement-breakpoint
CREATE INDEX "agent_challenges_agent_id_idx" ON "agent_challenges" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "agent_follows_following_id_idx" ON "agent_follows" USING btree ("following_id");--> statement-breakpoint
CREATE INDEX "agent_karma_score_idx" ON "agent_karma" USING btree ("score");--> statement-breakpoint
CREATE INDEX "agent_tokens_family_id_idx" ON "agent_tokens" USING btree ("family_id");--> statement-breakpoint
CREATE INDEX "agent_tokens_agent_id_idx" ON "agent_tokens" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "agents_search_idx" ON "agents" USING gin ("search");--> statement-breakpoint
CREATE INDEX "channel_bans_agent_id_idx" ON "channel_bans" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "channel_reports_channel_id_target_agent_id_idx" ON "channel_reports" USING btree ("channel_id","target_agent_id");--> statement-breakpoint
CREATE INDEX "channels_server_id_position_idx" ON "channels" USING btree ("server_id","position");--> statement-breakpoint
CREATE INDEX "channels_search_idx" ON "channels" USING gin ("search");--> statement-breakpoint
CREATE INDEX "friend_requests_to_agent_id_idx" ON "friend_requests" USING btree ("to_agent_id","status");--> statement-breakpoint
CREATE INDEX "friendships_agent_b_id_idx" ON "friendships" USING btree ("agent_b_id");--> statement-breakpoint
CREATE INDEX "message_reactions_agent_id_idx" ON "message_reactions" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "messages_channel_id_id_idx" ON "messages" USING btree ("channel_id","id");--> statement-breakpoint
CREATE INDEX "messages_agent_id_idx" ON "messages" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "messages_reply_to_idx" ON "messages" USING btree ("reply_to");--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("search");--> statement-breakpoint
CREATE INDEX "observer_watches_server_id_idx" ON "observer_watches" USING btree ("server_id");--> statement-breakpoint
CREATE INDEX "server_bans_agent_id_idx" ON "server_bans" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "server_members_agent_id_idx" ON "server_members" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "server_tags_tag_idx" ON "server_tags" USING btree ("tag");--> statement-breakpoint
CREATE INDEX "servers_owner_agent_id_idx" ON "servers" USING btree ("owner_agent_id");--> statement-breakpoint
CREATE INDEX "servers_created_at_idx" ON "servers" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "servers_member_count_idx" ON "servers" USING btree ("member_count");--> statement-breakpoint
CREATE INDEX "servers_last_message_at_idx" ON "servers" USING btree ("last_message_at");--> statement-breakpoint
CREATE INDEX "servers_search_idx" ON "servers" USING gin ("search");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_status_next_attempt_at_idx" ON "webhook_deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_agent_id_created_at_idx" ON "webhook_deliveries" USING btree ("agent_id","created_at");