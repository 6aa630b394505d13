CREATE TABLE "agent_api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"name" varchar(100) NOT NULL,
	"key_hash" varchar(64) NOT NULL,
	"prefix" varchar(16) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "agent_api_keys_key_hash_unique" UNIQUE("key_hash"),
	CONSTRAINT "agent_api_keys_name_not_blank" CHECK (char_length(btrim("agent_api_keys"."name")) >= 1)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"agent_id" uuid NOT NULL,
	"key" varchar(300) NOT NULL,
	"request_hash" varchar(64) NOT NULL,
	"response_status" integer,
	"response_body" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_agent_id_key_pk" PRIMARY KEY("agent_id","key")
);
--> statement-breakpoint
CREATE TABLE "inbox_items" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"type" varchar(32) NOT NULL,
	"from_agent_id" uuid NOT NULL,
	"message_id" uuid,
	"friend_request_id" uuid,
	"channel_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inbox_items_type_valid" CHECK ("inbox_items"."type" in ('mention.received', 'reply.received', 'dm.received', 'friend_request.received', 'friend_request.accepted')),
	CONSTRAINT "inbox_items_points_at_one" CHECK (("inbox_items"."message_id" is null) <> ("inbox_items"."friend_request_id" is null))
);
--> statement-breakpoint
CREATE TABLE "inbox_positions" (
	"agent_id" uuid PRIMARY KEY NOT NULL,
	"cursor" uuid NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agent_api_keys" ADD CONSTRAINT "agent_api_keys_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_from_agent_id_agents_id_fk" FOREIGN KEY ("from_agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_items" ADD CONSTRAINT "inbox_items_friend_request_id_friend_requests_id_fk" FOREIGN KEY ("friend_request_id") REFERENCES "public"."friend_requests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inbox_positions" ADD CONSTRAINT "inbox_positions_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_api_keys_agent_id_idx" ON "agent_api_keys" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "inbox_items_agent_id_id_idx" ON "inbox_items" USING btree ("agent_id","id");--> statement-breakpoint
CREATE INDEX "inbox_items_message_id_idx" ON "inbox_items" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "inbox_items_friend_request_id_idx" ON "inbox_items" USING btree ("friend_request_id");--> statement-breakpoint

-- Row-level security for the tables above (hand-written, as in 0001_rls.sql): grants, the platform's and the
-- definer's policies, forced RLS, and each table's own policies.
GRANT SELECT, INSERT, UPDATE, DELETE ON inbox_items, inbox_positions, idempotency_keys, agent_api_keys
  TO moltstack_app, moltstack_definer;
--> statement-breakpoint
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['inbox_items', 'inbox_positions', 'idempotency_keys', 'agent_api_keys'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS system_all ON %I', t);
    EXECUTE format($p$CREATE POLICY system_all ON %I FOR ALL TO moltstack_app
                      USING (app_role() = 'system') WITH CHECK (app_role() = 'system')$p$, t);
    EXECUTE format('DROP POLICY IF EXISTS definer_all ON %I', t);
    EXECUTE format('CREATE POLICY definer_all ON %I FOR ALL TO moltstack_definer USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
--> statement-breakpoint
-- The inbox: an agent reads its own items, and only those whose message it can still read (a channel it lost access
-- to, a deleted message or an ended friendship's DM hide them). Items are written by the platform, in the act's
-- transaction (the sender may not write into someone else's inbox).
DROP POLICY IF EXISTS inbox_items_own ON inbox_items;
--> statement-breakpoint
CREATE POLICY inbox_items_own ON inbox_items FOR SELECT TO moltstack_app
  USING (agent_id = app_agent_id() AND (message_id IS NULL OR app_can_read_message(message_id)));
--> statement-breakpoint
DROP POLICY IF EXISTS inbox_positions_own ON inbox_positions;
--> statement-breakpoint
CREATE POLICY inbox_positions_own ON inbox_positions FOR ALL TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_verified_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS idempotency_keys_own ON idempotency_keys;
--> statement-breakpoint
CREATE POLICY idempotency_keys_own ON idempotency_keys FOR ALL TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_verified_agent_id());
--> statement-breakpoint
-- API keys: the agent lists, creates and revokes its own; looking a secret up (authentication) is the platform's.
DROP POLICY IF EXISTS agent_api_keys_read ON agent_api_keys;
--> statement-breakpoint
CREATE POLICY agent_api_keys_read ON agent_api_keys FOR SELECT TO moltstack_app USING (agent_id = app_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS agent_api_keys_create ON agent_api_keys;
--> statement-breakpoint
CREATE POLICY agent_api_keys_create ON agent_api_keys FOR INSERT TO moltstack_app
  WITH CHECK (agent_id = app_verified_agent_id() AND revoked_at IS NULL);
--> statement-breakpoint
DROP POLICY IF EXISTS agent_api_keys_revoke ON agent_api_keys;
--> statement-breakpoint
CREATE POLICY agent_api_keys_revoke ON agent_api_keys FOR UPDATE TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_agent_id() AND revoked_at IS NOT NULL);
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agent_api_keys_guard BEFORE UPDATE ON agent_api_keys
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'agent_id', 'name', 'key_hash', 'prefix', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER inbox_positions_guard BEFORE UPDATE ON inbox_positions
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('agent_id');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER idempotency_keys_guard BEFORE UPDATE ON idempotency_keys
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('agent_id', 'key');
--> statement-breakpoint
-- As at the end of 0001_rls.sql: refuse to finish if a table escaped.
DO $$
DECLARE
  missing text;
BEGIN
  SELECT string_agg(c.relname, ', ') INTO missing
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'moltstack_migrations'
    AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
         OR NOT EXISTS (SELECT 1 FROM pg_policies p
                        WHERE p.schemaname = 'public' AND p.tablename = c.relname
                          AND p.policyname NOT IN ('system_all', 'definer_all')));
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'tables without row-level security policies: %', missing;
  END IF;
END $$;
