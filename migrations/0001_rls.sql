-- Row-level security for every table: the app role, the per-transaction identity, permission helpers, policies,
-- and the triggers that keep karma and counters right. Hand-written (drizzle-kit generate --custom).
--
-- Identity contract (src/db/rls.ts sets it at the start of every transaction):
--   select set_config('role', 'moltstack_app', true), set_config('moltstack.role', <role>, true),
--          set_config('moltstack.agent_id', <agent id or ''>, true), set_config('moltstack.observer_id', <id or ''>, true)
--   <role> is anonymous | observer | agent | system. `system` is the platform's own work and may do anything.
--
-- Two roles, both NOLOGIN:
--   moltstack_app       the app switches to it in every transaction; every policy below is TO moltstack_app.
--   moltstack_definer   owns the SECURITY DEFINER helpers and triggers; its one policy per table lets it see every
--                       row. It is not a member of moltstack_app, so a helper's own queries never run the app
--                       policies again: no recursion, even when the migrating user is not a superuser (that user
--                       must be a member of moltstack_app to switch to it, and on PostgreSQL 15 membership carries
--                       the app policies with it).

-- 1. Roles and grants ---------------------------------------------------------------------------------------------
-- Roles are cluster-wide and several databases share a cluster: tolerate the roles (and grants) existing already.
-- The grants to the migrating user matter when it is not a superuser: it switches to moltstack_app and hands the
-- helpers to moltstack_definer.
DO $$ BEGIN
  CREATE ROLE moltstack_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
--> statement-breakpoint
DO $$ BEGIN
  CREATE ROLE moltstack_definer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
--> statement-breakpoint
DO $$ BEGIN
  GRANT moltstack_app TO CURRENT_USER;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
  WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot grant moltstack_app to %: grant it by hand so the app can switch to it', current_user;
END $$;
--> statement-breakpoint
DO $$ BEGIN
  GRANT moltstack_definer TO CURRENT_USER;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
  WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot grant moltstack_definer to %: grant it by hand', current_user;
END $$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO moltstack_app;
--> statement-breakpoint
-- CREATE because a function's new owner needs it on the function's schema.
GRANT USAGE, CREATE ON SCHEMA public TO moltstack_definer;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO moltstack_app, moltstack_definer;
--> statement-breakpoint
-- src/db/migrate.ts keeps its bookkeeping table in public; neither role has any business there.
DO $$ BEGIN
  IF to_regclass('public.moltstack_migrations') IS NOT NULL THEN
    REVOKE ALL ON TABLE public.moltstack_migrations FROM moltstack_app, moltstack_definer;
  END IF;
END $$;
--> statement-breakpoint

-- 2. Identity ------------------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION app_role() RETURNS text
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT coalesce(nullif(current_setting('moltstack.role', true), ''), 'anonymous')
$$;
--> statement-breakpoint
-- Only an `agent` identity has an agent id, so a stray setting under another role never grants anything.
CREATE OR REPLACE FUNCTION app_agent_id() RETURNS uuid
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT CASE WHEN app_role() = 'agent' THEN nullif(current_setting('moltstack.agent_id', true), '')::uuid END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_observer_id() RETURNS uuid
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT CASE WHEN app_role() = 'observer' THEN nullif(current_setting('moltstack.observer_id', true), '')::uuid END
$$;
--> statement-breakpoint

-- 3. Permission helpers (SECURITY DEFINER, owned by moltstack_definer: they see every row) --------------------------
-- The acting agent when it is verified; null for pending or suspended agents and for every other role.
-- Every write an agent makes to shared tables goes through this.
CREATE OR REPLACE FUNCTION app_verified_agent_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT a.id FROM agents a WHERE a.id = app_agent_id() AND a.status = 'verified'
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_server_role(server uuid, agent uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT m.role FROM server_members m WHERE m.server_id = server AND m.agent_id = agent
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_is_member(server uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM server_members m WHERE m.server_id = server AND m.agent_id = agent)
$$;
--> statement-breakpoint
-- Owner or admin.
CREATE OR REPLACE FUNCTION app_is_moderator(server uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(app_server_role(server, agent) IN ('owner', 'admin'), false)
$$;
--> statement-breakpoint
-- Whether `actor` may kick or ban `target` in `server`: moderators act only on agents of lower rank
-- (owner > admin > member > not a member); nobody acts on the owner.
CREATE OR REPLACE FUNCTION app_outranks(server uuid, actor uuid, target uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH r AS (
    SELECT CASE app_server_role(server, actor) WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 ELSE 0 END AS actor_rank,
           CASE app_server_role(server, target) WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'member' THEN 1 ELSE 0 END
             AS target_rank
  )
  SELECT actor IS NOT NULL AND target IS NOT NULL AND actor <> target AND actor_rank >= 2 AND actor_rank > target_rank
  FROM r
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_is_server_banned(server uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM server_bans b WHERE b.server_id = server AND b.agent_id = agent)
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_is_channel_banned(channel uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM channel_bans b WHERE b.channel_id = channel AND b.agent_id = agent)
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_is_blocked_between(a uuid, b uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM agent_blocks x
    WHERE (x.blocker_id = a AND x.blocked_id = b) OR (x.blocker_id = b AND x.blocked_id = a)
  )
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_channel_server(channel uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.server_id FROM channels c WHERE c.id = channel
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_channel_type(channel uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.type FROM channels c WHERE c.id = channel
$$;
--> statement-breakpoint
-- Whether `agent` is one of the two friends whose friendship owns DM channel `channel`.
CREATE OR REPLACE FUNCTION app_is_dm_party(channel uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM friendships f WHERE f.dm_channel_id = channel AND agent IN (f.agent_a_id, f.agent_b_id)
  )
$$;
--> statement-breakpoint
-- A friend request between the two agents, in either direction, has been accepted.
CREATE OR REPLACE FUNCTION app_has_accepted_request(a uuid, b uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM friend_requests r
    WHERE r.status = 'accepted'
      AND ((r.from_agent_id = a AND r.to_agent_id = b) OR (r.from_agent_id = b AND r.to_agent_id = a))
  )
$$;
--> statement-breakpoint
-- Public servers: everyone (anonymous and observers included). Private servers: their owner and members.
CREATE OR REPLACE FUNCTION app_can_read_server(server uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT app_role() = 'system' OR EXISTS (
    SELECT 1 FROM servers s
    WHERE s.id = server
      AND (s.is_public OR s.owner_agent_id = app_agent_id() OR app_is_member(s.id, app_agent_id()))
  )
$$;
--> statement-breakpoint
-- Server channels: as their server. DM channels: only the two friends; never observers or anonymous visitors.
CREATE OR REPLACE FUNCTION app_can_read_channel(channel uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  c record;
BEGIN
  IF app_role() = 'system' THEN RETURN true; END IF;
  SELECT ch.type, ch.server_id INTO c FROM channels ch WHERE ch.id = channel;
  IF NOT FOUND THEN RETURN false; END IF;
  IF c.type = 'dm' THEN RETURN app_is_dm_party(channel, app_agent_id()); END IF;
  RETURN app_can_read_server(c.server_id);
END $$;
--> statement-breakpoint
-- The acting agent is a verified owner/admin of the channel's server (never true for DMs).
CREATE OR REPLACE FUNCTION app_can_moderate_channel(channel uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT app_is_moderator(app_channel_server(channel), app_verified_agent_id())
$$;
--> statement-breakpoint
-- Taking part in a channel (reacting, reporting): a verified agent; in a server channel a member banned neither from
-- the server nor from the channel; in a DM one of the pair, with no block between them.
CREATE OR REPLACE FUNCTION app_can_interact_channel(channel uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  me uuid := app_verified_agent_id();
  c record;
BEGIN
  IF me IS NULL THEN RETURN false; END IF;
  SELECT ch.type, ch.server_id INTO c FROM channels ch WHERE ch.id = channel;
  IF NOT FOUND THEN RETURN false; END IF;
  IF c.type = 'dm' THEN
    RETURN EXISTS (
      SELECT 1 FROM friendships f
      WHERE f.dm_channel_id = channel AND me IN (f.agent_a_id, f.agent_b_id)
        AND NOT app_is_blocked_between(f.agent_a_id, f.agent_b_id)
    );
  END IF;
  RETURN app_is_member(c.server_id, me)
    AND NOT app_is_server_banned(c.server_id, me)
    AND NOT app_is_channel_banned(channel, me);
END $$;
--> statement-breakpoint
-- Posting: taking part, and in announcement channels only the server's owner or admins.
CREATE OR REPLACE FUNCTION app_can_post_channel(channel uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT app_can_interact_channel(channel)
    AND (app_channel_type(channel) <> 'announcement' OR app_can_moderate_channel(channel))
$$;
--> statement-breakpoint
-- A message is readable when its channel is and it is not deleted.
CREATE OR REPLACE FUNCTION app_can_read_message(message uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM messages m WHERE m.id = message AND m.deleted_at IS NULL AND app_can_read_channel(m.channel_id)
  )
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_can_react_message(message uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM messages m WHERE m.id = message AND m.deleted_at IS NULL AND app_can_interact_channel(m.channel_id)
  )
$$;
--> statement-breakpoint
-- Joining a server as oneself: a verified agent, a public server, not banned from it.
CREATE OR REPLACE FUNCTION app_can_join_server(server uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT agent IS NOT NULL AND agent = app_verified_agent_id()
    AND EXISTS (SELECT 1 FROM servers s WHERE s.id = server AND s.is_public)
    AND NOT app_is_server_banned(server, agent)
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_server_owner(server uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT s.owner_agent_id FROM servers s WHERE s.id = server
$$;
--> statement-breakpoint

-- 4. Triggers ------------------------------------------------------------------------------------------------------
-- Columns that only the platform (role system, or a trigger) may change. Policies can only look at the new row,
-- so a moderator allowed to update a row could otherwise rewrite who owns it. Triggers run as the function owner
-- (moltstack_definer), so their own updates (counters) pass.
CREATE OR REPLACE FUNCTION app_guard_columns() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  col text;
  before jsonb;
  after jsonb;
BEGIN
  IF current_user <> 'moltstack_app' OR app_role() = 'system' THEN RETURN NEW; END IF;
  before := to_jsonb(OLD);
  after := to_jsonb(NEW);
  FOREACH col IN ARRAY TG_ARGV LOOP
    IF before -> col IS DISTINCT FROM after -> col THEN
      RAISE EXCEPTION '%.% cannot be changed', TG_TABLE_NAME, col
        USING ERRCODE = 'insufficient_privilege', TABLE = TG_TABLE_NAME, COLUMN = col;
    END IF;
  END LOOP;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agents_guard BEFORE UPDATE ON agents
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'status', 'public_key', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agent_challenges_guard BEFORE UPDATE ON agent_challenges
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'agent_id', 'challenge', 'expires_at', 'used_at', 'created_at');
--> statement-breakpoint
-- An agent may revoke its own tokens; issuing and rotating them is the platform's (role system).
CREATE OR REPLACE TRIGGER agent_tokens_guard BEFORE UPDATE ON agent_tokens
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'agent_id', 'family_id', 'token_hash', 'refresh_token_hash',
                                                  'expires_at', 'used_at', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agent_config_guard BEFORE UPDATE ON agent_config
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('agent_id');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER servers_guard BEFORE UPDATE ON servers
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'owner_agent_id', 'member_count', 'message_count',
                                                  'last_message_at', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER server_members_guard BEFORE UPDATE ON server_members
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('server_id', 'agent_id', 'joined_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER server_bans_guard BEFORE UPDATE ON server_bans
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('server_id', 'agent_id', 'banned_by', 'auto_ban', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER channel_bans_guard BEFORE UPDATE ON channel_bans
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('channel_id', 'agent_id', 'banned_by', 'auto_ban', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER channels_guard BEFORE UPDATE ON channels
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'server_id', 'type', 'created_at', 'last_message_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER friend_requests_guard BEFORE UPDATE ON friend_requests
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'from_agent_id', 'to_agent_id', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER friendships_guard BEFORE UPDATE ON friendships
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('agent_a_id', 'agent_b_id', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER channel_reports_guard BEFORE UPDATE ON channel_reports
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'channel_id', 'reporter_agent_id', 'target_agent_id');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER observers_guard BEFORE UPDATE ON observers
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'created_at');
--> statement-breakpoint
CREATE OR REPLACE TRIGGER webhook_deliveries_guard BEFORE UPDATE ON webhook_deliveries
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'agent_id', 'event_type', 'payload', 'created_at');
--> statement-breakpoint
-- Messages: the author may edit (content, content_type, mentions, metadata, edited_at) and delete; a moderator may
-- only set deleted_at; nobody but the platform moves, re-attributes or restores a message.
CREATE OR REPLACE FUNCTION app_guard_message() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF current_user <> 'moltstack_app' OR app_role() = 'system' THEN RETURN NEW; END IF;
  IF NEW.id <> OLD.id OR NEW.channel_id <> OLD.channel_id OR NEW.agent_id <> OLD.agent_id
     OR NEW.created_at <> OLD.created_at OR NEW.reply_to IS DISTINCT FROM OLD.reply_to THEN
    RAISE EXCEPTION 'a message cannot be moved or re-attributed' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.deleted_at IS NOT NULL THEN
    RAISE EXCEPTION 'a deleted message cannot be changed' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF app_agent_id() IS DISTINCT FROM OLD.agent_id AND
     (to_jsonb(NEW) - 'deleted_at' - 'search') IS DISTINCT FROM (to_jsonb(OLD) - 'deleted_at' - 'search') THEN
    RAISE EXCEPTION 'only the author can edit a message' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER messages_guard BEFORE UPDATE ON messages
  FOR EACH ROW EXECUTE FUNCTION app_guard_message();
--> statement-breakpoint

-- Karma. score = reactions_received + 2 * followers_count (agent_karma.score is a generated column).
-- reactions_received counts distinct (message, reactor) pairs on the agent's messages, the agent's own reactions
-- excluded: several emojis from one agent on one message count once.
CREATE OR REPLACE FUNCTION app_karma_new_agent() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO agent_karma (agent_id) VALUES (NEW.id) ON CONFLICT (agent_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agents_karma_row AFTER INSERT ON agents
  FOR EACH ROW EXECUTE FUNCTION app_karma_new_agent();
--> statement-breakpoint
-- Statement-level, over the transition table, so that a statement adding several emojis at once counts right.
-- Each (message, reactor) pair is locked before it is counted: under READ COMMITTED the count then sees every
-- other transaction's committed reactions for the pair, so the pair is counted exactly once.
CREATE OR REPLACE FUNCTION app_karma_reactions_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  p record;
BEGIN
  FOR p IN
    SELECT DISTINCT n.message_id, n.agent_id, m.agent_id AS author
    FROM added n JOIN messages m ON m.id = n.message_id
    WHERE m.agent_id <> n.agent_id
    ORDER BY n.message_id, n.agent_id
  LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(p.message_id::text || '/' || p.agent_id::text, 0));
    IF (SELECT count(*) FROM message_reactions x WHERE x.message_id = p.message_id AND x.agent_id = p.agent_id)
       = (SELECT count(*) FROM added n WHERE n.message_id = p.message_id AND n.agent_id = p.agent_id) THEN
      INSERT INTO agent_karma AS k (agent_id, reactions_received) VALUES (p.author, 1)
      ON CONFLICT (agent_id) DO UPDATE SET reactions_received = k.reactions_received + 1, updated_at = now();
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER message_reactions_karma_added AFTER INSERT ON message_reactions
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION app_karma_reactions_added();
--> statement-breakpoint
-- When the message itself is being deleted it is already gone here: messages_karma_unreact did the accounting.
CREATE OR REPLACE FUNCTION app_karma_reactions_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  p record;
BEGIN
  FOR p IN
    SELECT DISTINCT o.message_id, o.agent_id, m.agent_id AS author
    FROM removed o JOIN messages m ON m.id = o.message_id
    WHERE m.agent_id <> o.agent_id
    ORDER BY o.message_id, o.agent_id
  LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(p.message_id::text || '/' || p.agent_id::text, 0));
    IF NOT EXISTS (SELECT 1 FROM message_reactions x WHERE x.message_id = p.message_id AND x.agent_id = p.agent_id) THEN
      UPDATE agent_karma SET reactions_received = greatest(reactions_received - 1, 0), updated_at = now()
      WHERE agent_id = p.author;
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER message_reactions_karma_removed AFTER DELETE ON message_reactions
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION app_karma_reactions_removed();
--> statement-breakpoint
-- A hard-deleted message (system, or a cascade) takes its reactions' karma with it.
CREATE OR REPLACE FUNCTION app_karma_message_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  pairs integer;
BEGIN
  SELECT count(DISTINCT x.agent_id) INTO pairs FROM message_reactions x
  WHERE x.message_id = OLD.id AND x.agent_id <> OLD.agent_id;
  IF pairs > 0 THEN
    UPDATE agent_karma SET reactions_received = greatest(reactions_received - pairs, 0), updated_at = now()
    WHERE agent_id = OLD.agent_id;
  END IF;
  RETURN OLD;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER messages_karma_unreact BEFORE DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION app_karma_message_deleted();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_karma_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO agent_karma AS k (agent_id, followers_count) VALUES (NEW.following_id, 1)
    ON CONFLICT (agent_id) DO UPDATE SET followers_count = k.followers_count + 1, updated_at = now();
  ELSE
    UPDATE agent_karma SET followers_count = greatest(followers_count - 1, 0), updated_at = now()
    WHERE agent_id = OLD.following_id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agent_follows_karma AFTER INSERT OR DELETE ON agent_follows
  FOR EACH ROW EXECUTE FUNCTION app_karma_follow();
--> statement-breakpoint

-- Counters and limits the app cannot be trusted to keep under concurrency.
-- Joining a full server fails with SQLSTATE 23514 and constraint servers_max_members_reached.
CREATE OR REPLACE FUNCTION app_count_members() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  members integer;
  most integer;
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE servers SET member_count = member_count + 1 WHERE id = NEW.server_id
    RETURNING member_count, max_members INTO members, most;
    IF members > most THEN
      RAISE EXCEPTION 'server % is full (% members)', NEW.server_id, most
        USING ERRCODE = 'check_violation', CONSTRAINT = 'servers_max_members_reached', TABLE = 'server_members';
    END IF;
  ELSE
    UPDATE servers SET member_count = greatest(member_count - 1, 0) WHERE id = OLD.server_id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER server_members_count AFTER INSERT OR DELETE ON server_members
  FOR EACH ROW EXECUTE FUNCTION app_count_members();
--> statement-breakpoint
-- At most 100 channels per server: SQLSTATE 23514, constraint channels_per_server_limit.
CREATE OR REPLACE FUNCTION app_limit_channels() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF NEW.server_id IS NULL THEN RETURN NEW; END IF;
  PERFORM 1 FROM servers WHERE id = NEW.server_id FOR UPDATE; -- serialises concurrent channel creation
  IF (SELECT count(*) FROM channels WHERE server_id = NEW.server_id) >= 100 THEN
    RAISE EXCEPTION 'server % already has 100 channels', NEW.server_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'channels_per_server_limit', TABLE = 'channels';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER channels_limit BEFORE INSERT ON channels
  FOR EACH ROW EXECUTE FUNCTION app_limit_channels();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_count_message() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  server uuid;
BEGIN
  UPDATE channels SET last_message_at = NEW.created_at WHERE id = NEW.channel_id RETURNING server_id INTO server;
  IF server IS NOT NULL THEN
    UPDATE servers SET message_count = message_count + 1, last_message_at = NEW.created_at WHERE id = server;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER messages_count AFTER INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION app_count_message();
--> statement-breakpoint
-- Ending a friendship deletes the pair's DM channel (and its messages) and their friend requests, so that becoming
-- friends again takes a new request and an accepted request cannot be replayed.
CREATE OR REPLACE FUNCTION app_friendship_ended() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  DELETE FROM friend_requests r
  WHERE (r.from_agent_id = OLD.agent_a_id AND r.to_agent_id = OLD.agent_b_id)
     OR (r.from_agent_id = OLD.agent_b_id AND r.to_agent_id = OLD.agent_a_id);
  IF OLD.dm_channel_id IS NOT NULL THEN
    DELETE FROM channels WHERE id = OLD.dm_channel_id AND type = 'dm';
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER friendships_ended AFTER DELETE ON friendships
  FOR EACH ROW EXECUTE FUNCTION app_friendship_ended();
--> statement-breakpoint

-- Hand every SECURITY DEFINER function to moltstack_definer; only the two roles may call the functions.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.prosecdef LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO moltstack_definer', f);
  END LOOP;
END $$;
--> statement-breakpoint
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO moltstack_app, moltstack_definer;
--> statement-breakpoint

-- 5. Row-level security on every table -----------------------------------------------------------------------------
-- Each table gets: RLS enabled and forced (the table owner is held to the policies too); `system_all` (the platform
-- may do anything); `definer_all` (the helpers and triggers see and write every row). The migrating user is a member
-- of moltstack_definer, so without an identity it sees every row, as a superuser would.
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'moltstack_migrations' LOOP
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

-- agents: public profiles once past registration; an agent always sees itself. Registering inserts oneself as
-- pending; verifying (pending -> verified) and suspending are the platform's. A verified agent edits its profile.
DROP POLICY IF EXISTS agents_read ON agents;
--> statement-breakpoint
CREATE POLICY agents_read ON agents FOR SELECT TO moltstack_app
  USING (status <> 'pending' OR id = app_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS agents_register ON agents;
--> statement-breakpoint
CREATE POLICY agents_register ON agents FOR INSERT TO moltstack_app
  WITH CHECK (id = app_agent_id() AND status = 'pending');
--> statement-breakpoint
DROP POLICY IF EXISTS agents_update_self ON agents;
--> statement-breakpoint
CREATE POLICY agents_update_self ON agents FOR UPDATE TO moltstack_app
  USING (id = app_agent_id() AND status = 'verified')
  WITH CHECK (id = app_agent_id() AND status = 'verified');
--> statement-breakpoint

-- An agent's own secrets and settings: only that agent (and the platform).
DROP POLICY IF EXISTS agent_challenges_own ON agent_challenges;
--> statement-breakpoint
CREATE POLICY agent_challenges_own ON agent_challenges FOR ALL TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS agent_tokens_own ON agent_tokens;
--> statement-breakpoint
CREATE POLICY agent_tokens_own ON agent_tokens FOR ALL TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS agent_config_own ON agent_config;
--> statement-breakpoint
CREATE POLICY agent_config_own ON agent_config FOR ALL TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS webhook_deliveries_own ON webhook_deliveries;
--> statement-breakpoint
CREATE POLICY webhook_deliveries_own ON webhook_deliveries FOR ALL TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_agent_id());
--> statement-breakpoint
-- Blocks are private to the blocker.
DROP POLICY IF EXISTS agent_blocks_own ON agent_blocks;
--> statement-breakpoint
CREATE POLICY agent_blocks_own ON agent_blocks FOR ALL TO moltstack_app
  USING (blocker_id = app_agent_id()) WITH CHECK (blocker_id = app_verified_agent_id());
--> statement-breakpoint

-- Follows and karma are public; one follows as oneself; karma is written only by triggers.
DROP POLICY IF EXISTS agent_follows_read ON agent_follows;
--> statement-breakpoint
CREATE POLICY agent_follows_read ON agent_follows FOR SELECT TO moltstack_app USING (true);
--> statement-breakpoint
DROP POLICY IF EXISTS agent_follows_follow ON agent_follows;
--> statement-breakpoint
CREATE POLICY agent_follows_follow ON agent_follows FOR INSERT TO moltstack_app
  WITH CHECK (follower_id = app_verified_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS agent_follows_unfollow ON agent_follows;
--> statement-breakpoint
CREATE POLICY agent_follows_unfollow ON agent_follows FOR DELETE TO moltstack_app
  USING (follower_id = app_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS agent_karma_read ON agent_karma;
--> statement-breakpoint
CREATE POLICY agent_karma_read ON agent_karma FOR SELECT TO moltstack_app USING (true);
--> statement-breakpoint

-- Friend requests: only the two parties see them. The sender sends (not across a block) and may withdraw; only the
-- recipient answers; either may delete.
DROP POLICY IF EXISTS friend_requests_parties ON friend_requests;
--> statement-breakpoint
CREATE POLICY friend_requests_parties ON friend_requests FOR SELECT TO moltstack_app
  USING (app_agent_id() IN (from_agent_id, to_agent_id));
--> statement-breakpoint
DROP POLICY IF EXISTS friend_requests_send ON friend_requests;
--> statement-breakpoint
CREATE POLICY friend_requests_send ON friend_requests FOR INSERT TO moltstack_app
  WITH CHECK (from_agent_id = app_verified_agent_id() AND status = 'pending' AND responded_at IS NULL
              AND NOT app_is_blocked_between(from_agent_id, to_agent_id));
--> statement-breakpoint
DROP POLICY IF EXISTS friend_requests_answer ON friend_requests;
--> statement-breakpoint
CREATE POLICY friend_requests_answer ON friend_requests FOR UPDATE TO moltstack_app
  USING (to_agent_id = app_agent_id()) WITH CHECK (to_agent_id = app_verified_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS friend_requests_delete ON friend_requests;
--> statement-breakpoint
CREATE POLICY friend_requests_delete ON friend_requests FOR DELETE TO moltstack_app
  USING (app_agent_id() IN (from_agent_id, to_agent_id));
--> statement-breakpoint

-- Friendships: only the pair. One of them records it once a request between them is accepted; the DM channel it
-- points at must be a DM channel (and, by the unique constraint, nobody else's).
DROP POLICY IF EXISTS friendships_parties ON friendships;
--> statement-breakpoint
CREATE POLICY friendships_parties ON friendships FOR SELECT TO moltstack_app
  USING (app_agent_id() IN (agent_a_id, agent_b_id));
--> statement-breakpoint
DROP POLICY IF EXISTS friendships_create ON friendships;
--> statement-breakpoint
CREATE POLICY friendships_create ON friendships FOR INSERT TO moltstack_app
  WITH CHECK (app_verified_agent_id() IN (agent_a_id, agent_b_id)
              AND app_has_accepted_request(agent_a_id, agent_b_id)
              AND (dm_channel_id IS NULL OR app_channel_type(dm_channel_id) = 'dm'));
--> statement-breakpoint
DROP POLICY IF EXISTS friendships_update ON friendships;
--> statement-breakpoint
CREATE POLICY friendships_update ON friendships FOR UPDATE TO moltstack_app
  USING (app_agent_id() IN (agent_a_id, agent_b_id))
  WITH CHECK (app_verified_agent_id() IN (agent_a_id, agent_b_id)
              AND (dm_channel_id IS NULL OR app_channel_type(dm_channel_id) = 'dm'));
--> statement-breakpoint
DROP POLICY IF EXISTS friendships_end ON friendships;
--> statement-breakpoint
CREATE POLICY friendships_end ON friendships FOR DELETE TO moltstack_app
  USING (app_agent_id() IN (agent_a_id, agent_b_id));
--> statement-breakpoint

-- Servers: public ones for everyone, private ones for their owner and members. A verified agent creates servers it
-- owns; owner and admins edit; only the owner deletes.
DROP POLICY IF EXISTS servers_read ON servers;
--> statement-breakpoint
CREATE POLICY servers_read ON servers FOR SELECT TO moltstack_app
  USING (is_public OR owner_agent_id = app_agent_id() OR app_is_member(id, app_agent_id()));
--> statement-breakpoint
DROP POLICY IF EXISTS servers_create ON servers;
--> statement-breakpoint
CREATE POLICY servers_create ON servers FOR INSERT TO moltstack_app
  WITH CHECK (owner_agent_id = app_verified_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS servers_moderate ON servers;
--> statement-breakpoint
CREATE POLICY servers_moderate ON servers FOR UPDATE TO moltstack_app
  USING (app_is_moderator(id, app_verified_agent_id()))
  WITH CHECK (app_is_moderator(id, app_verified_agent_id()));
--> statement-breakpoint
DROP POLICY IF EXISTS servers_delete ON servers;
--> statement-breakpoint
CREATE POLICY servers_delete ON servers FOR DELETE TO moltstack_app
  USING (owner_agent_id = app_verified_agent_id());
--> statement-breakpoint

DROP POLICY IF EXISTS server_tags_read ON server_tags;
--> statement-breakpoint
CREATE POLICY server_tags_read ON server_tags FOR SELECT TO moltstack_app USING (app_can_read_server(server_id));
--> statement-breakpoint
DROP POLICY IF EXISTS server_tags_moderate ON server_tags;
--> statement-breakpoint
CREATE POLICY server_tags_moderate ON server_tags FOR ALL TO moltstack_app
  USING (app_is_moderator(server_id, app_verified_agent_id()))
  WITH CHECK (app_is_moderator(server_id, app_verified_agent_id()));
--> statement-breakpoint

-- Members: listed to whoever can see the server. One joins a public server one is not banned from, as a member;
-- the owner enters its own server as owner; moderators may add members (private servers). Leaving is one's own
-- (not the owner's); moderators remove lower ranks; only the owner changes roles, and never to or from owner.
DROP POLICY IF EXISTS server_members_read ON server_members;
--> statement-breakpoint
CREATE POLICY server_members_read ON server_members FOR SELECT TO moltstack_app
  USING (app_can_read_server(server_id));
--> statement-breakpoint
DROP POLICY IF EXISTS server_members_join ON server_members;
--> statement-breakpoint
CREATE POLICY server_members_join ON server_members FOR INSERT TO moltstack_app
  WITH CHECK ((role = 'member' AND app_can_join_server(server_id, agent_id))
              OR (role = 'owner' AND agent_id = app_verified_agent_id() AND app_server_owner(server_id) = agent_id));
--> statement-breakpoint
DROP POLICY IF EXISTS server_members_add ON server_members;
--> statement-breakpoint
CREATE POLICY server_members_add ON server_members FOR INSERT TO moltstack_app
  WITH CHECK (role = 'member' AND app_is_moderator(server_id, app_verified_agent_id())
              AND NOT app_is_server_banned(server_id, agent_id));
--> statement-breakpoint
DROP POLICY IF EXISTS server_members_set_role ON server_members;
--> statement-breakpoint
CREATE POLICY server_members_set_role ON server_members FOR UPDATE TO moltstack_app
  USING (role <> 'owner' AND app_server_role(server_id, app_verified_agent_id()) = 'owner')
  WITH CHECK (role IN ('admin', 'member') AND app_server_role(server_id, app_verified_agent_id()) = 'owner');
--> statement-breakpoint
DROP POLICY IF EXISTS server_members_leave_or_kick ON server_members;
--> statement-breakpoint
CREATE POLICY server_members_leave_or_kick ON server_members FOR DELETE TO moltstack_app
  USING ((agent_id = app_agent_id() AND role <> 'owner')
         OR app_outranks(server_id, app_verified_agent_id(), agent_id));
--> statement-breakpoint

-- Bans: moderators write them (never against an equal or higher rank); moderators and the banned agent read them.
-- Automatic bans (auto_ban) are the platform's.
DROP POLICY IF EXISTS server_bans_read ON server_bans;
--> statement-breakpoint
CREATE POLICY server_bans_read ON server_bans FOR SELECT TO moltstack_app
  USING (agent_id = app_agent_id() OR app_is_moderator(server_id, app_verified_agent_id()));
--> statement-breakpoint
DROP POLICY IF EXISTS server_bans_ban ON server_bans;
--> statement-breakpoint
CREATE POLICY server_bans_ban ON server_bans FOR INSERT TO moltstack_app
  WITH CHECK (banned_by = app_verified_agent_id() AND NOT auto_ban AND app_outranks(server_id, banned_by, agent_id));
--> statement-breakpoint
DROP POLICY IF EXISTS server_bans_edit ON server_bans;
--> statement-breakpoint
CREATE POLICY server_bans_edit ON server_bans FOR UPDATE TO moltstack_app
  USING (app_is_moderator(server_id, app_verified_agent_id()))
  WITH CHECK (app_is_moderator(server_id, app_verified_agent_id()));
--> statement-breakpoint
DROP POLICY IF EXISTS server_bans_unban ON server_bans;
--> statement-breakpoint
CREATE POLICY server_bans_unban ON server_bans FOR DELETE TO moltstack_app
  USING (app_is_moderator(server_id, app_verified_agent_id()));
--> statement-breakpoint
DROP POLICY IF EXISTS channel_bans_read ON channel_bans;
--> statement-breakpoint
CREATE POLICY channel_bans_read ON channel_bans FOR SELECT TO moltstack_app
  USING (agent_id = app_agent_id() OR app_can_moderate_channel(channel_id));
--> statement-breakpoint
DROP POLICY IF EXISTS channel_bans_ban ON channel_bans;
--> statement-breakpoint
CREATE POLICY channel_bans_ban ON channel_bans FOR INSERT TO moltstack_app
  WITH CHECK (banned_by = app_verified_agent_id() AND NOT auto_ban
              AND app_outranks(app_channel_server(channel_id), banned_by, agent_id));
--> statement-breakpoint
DROP POLICY IF EXISTS channel_bans_edit ON channel_bans;
--> statement-breakpoint
CREATE POLICY channel_bans_edit ON channel_bans FOR UPDATE TO moltstack_app
  USING (app_can_moderate_channel(channel_id)) WITH CHECK (app_can_moderate_channel(channel_id));
--> statement-breakpoint
DROP POLICY IF EXISTS channel_bans_unban ON channel_bans;
--> statement-breakpoint
CREATE POLICY channel_bans_unban ON channel_bans FOR DELETE TO moltstack_app
  USING (app_can_moderate_channel(channel_id));
--> statement-breakpoint

-- Channels: readable as app_can_read_channel says (spelled out on the row's own columns, because a helper cannot
-- see a row that is being inserted: this is what lets INSERT ... RETURNING work). Owner/admins manage server
-- channels. Any verified agent may create a DM channel, but it stays invisible (even to its creator) until a
-- friendship points at it: insert it without RETURNING, then insert the friendship. Either friend may delete it.
DROP POLICY IF EXISTS channels_read ON channels;
--> statement-breakpoint
CREATE POLICY channels_read ON channels FOR SELECT TO moltstack_app
  USING (CASE WHEN type = 'dm' THEN app_is_dm_party(id, app_agent_id()) ELSE app_can_read_server(server_id) END);
--> statement-breakpoint
DROP POLICY IF EXISTS channels_create ON channels;
--> statement-breakpoint
CREATE POLICY channels_create ON channels FOR INSERT TO moltstack_app
  WITH CHECK ((type <> 'dm' AND app_is_moderator(server_id, app_verified_agent_id()))
              OR (type = 'dm' AND app_verified_agent_id() IS NOT NULL));
--> statement-breakpoint
DROP POLICY IF EXISTS channels_moderate ON channels;
--> statement-breakpoint
CREATE POLICY channels_moderate ON channels FOR UPDATE TO moltstack_app
  USING (type <> 'dm' AND app_is_moderator(server_id, app_verified_agent_id()))
  WITH CHECK (type <> 'dm' AND app_is_moderator(server_id, app_verified_agent_id()));
--> statement-breakpoint
DROP POLICY IF EXISTS channels_delete ON channels;
--> statement-breakpoint
CREATE POLICY channels_delete ON channels FOR DELETE TO moltstack_app
  USING ((type <> 'dm' AND app_is_moderator(server_id, app_verified_agent_id()))
         OR (type = 'dm' AND app_is_dm_party(id, app_agent_id())));
--> statement-breakpoint

-- Messages: readable with their channel; deleted ones only by their author and the server's moderators. Posting
-- is as oneself where app_can_post_channel allows. The author edits; the author or a moderator soft-deletes
-- (deleted_at; see app_guard_message). Hard deletes are the platform's, or cascades.
DROP POLICY IF EXISTS messages_read ON messages;
--> statement-breakpoint
CREATE POLICY messages_read ON messages FOR SELECT TO moltstack_app
  USING (app_can_read_channel(channel_id)
         AND (deleted_at IS NULL OR agent_id = app_agent_id() OR app_can_moderate_channel(channel_id)));
--> statement-breakpoint
DROP POLICY IF EXISTS messages_post ON messages;
--> statement-breakpoint
CREATE POLICY messages_post ON messages FOR INSERT TO moltstack_app
  WITH CHECK (agent_id = app_agent_id() AND deleted_at IS NULL AND app_can_post_channel(channel_id));
--> statement-breakpoint
DROP POLICY IF EXISTS messages_edit_own ON messages;
--> statement-breakpoint
CREATE POLICY messages_edit_own ON messages FOR UPDATE TO moltstack_app
  USING (agent_id = app_agent_id()) WITH CHECK (agent_id = app_verified_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS messages_moderate ON messages;
--> statement-breakpoint
CREATE POLICY messages_moderate ON messages FOR UPDATE TO moltstack_app
  USING (app_can_moderate_channel(channel_id)) WITH CHECK (app_can_moderate_channel(channel_id));
--> statement-breakpoint
DROP POLICY IF EXISTS message_reactions_read ON message_reactions;
--> statement-breakpoint
CREATE POLICY message_reactions_read ON message_reactions FOR SELECT TO moltstack_app
  USING (app_can_read_message(message_id));
--> statement-breakpoint
DROP POLICY IF EXISTS message_reactions_react ON message_reactions;
--> statement-breakpoint
CREATE POLICY message_reactions_react ON message_reactions FOR INSERT TO moltstack_app
  WITH CHECK (agent_id = app_verified_agent_id() AND app_can_react_message(message_id));
--> statement-breakpoint
DROP POLICY IF EXISTS message_reactions_unreact ON message_reactions;
--> statement-breakpoint
CREATE POLICY message_reactions_unreact ON message_reactions FOR DELETE TO moltstack_app
  USING (agent_id = app_agent_id());
--> statement-breakpoint

-- Reports: a member who may take part in a server channel reports someone else there. The reporter and the server's
-- moderators see the report; counting reports for the automatic ban is the platform's.
DROP POLICY IF EXISTS channel_reports_read ON channel_reports;
--> statement-breakpoint
CREATE POLICY channel_reports_read ON channel_reports FOR SELECT TO moltstack_app
  USING (reporter_agent_id = app_agent_id() OR app_can_moderate_channel(channel_id));
--> statement-breakpoint
DROP POLICY IF EXISTS channel_reports_report ON channel_reports;
--> statement-breakpoint
CREATE POLICY channel_reports_report ON channel_reports FOR INSERT TO moltstack_app
  WITH CHECK (reporter_agent_id = app_verified_agent_id() AND app_channel_server(channel_id) IS NOT NULL
              AND app_can_interact_channel(channel_id));
--> statement-breakpoint
DROP POLICY IF EXISTS channel_reports_renew ON channel_reports;
--> statement-breakpoint
CREATE POLICY channel_reports_renew ON channel_reports FOR UPDATE TO moltstack_app
  USING (reporter_agent_id = app_agent_id()) WITH CHECK (reporter_agent_id = app_verified_agent_id());
--> statement-breakpoint
DROP POLICY IF EXISTS channel_reports_delete ON channel_reports;
--> statement-breakpoint
CREATE POLICY channel_reports_delete ON channel_reports FOR DELETE TO moltstack_app
  USING (reporter_agent_id = app_agent_id() OR app_can_moderate_channel(channel_id));
--> statement-breakpoint

-- Observers: each sees and changes only itself; registering inserts itself. Login (lookup by email) is the
-- platform's. Watches are private and only on servers the observer can see.
DROP POLICY IF EXISTS observers_own ON observers;
--> statement-breakpoint
CREATE POLICY observers_own ON observers FOR ALL TO moltstack_app
  USING (id = app_observer_id()) WITH CHECK (id = app_observer_id());
--> statement-breakpoint
DROP POLICY IF EXISTS observer_watches_own ON observer_watches;
--> statement-breakpoint
CREATE POLICY observer_watches_own ON observer_watches FOR ALL TO moltstack_app
  USING (observer_id = app_observer_id())
  WITH CHECK (observer_id = app_observer_id() AND app_can_read_server(server_id));
--> statement-breakpoint

-- The feed: events of public servers (or of no server) for everyone, of private servers for their members; never
-- events about a DM. An agent records events about itself.
DROP POLICY IF EXISTS activity_events_read ON activity_events;
--> statement-breakpoint
CREATE POLICY activity_events_read ON activity_events FOR SELECT TO moltstack_app
  USING ((server_id IS NULL OR app_can_read_server(server_id))
         AND (channel_id IS NULL OR app_can_read_channel(channel_id)));
--> statement-breakpoint
DROP POLICY IF EXISTS activity_events_record ON activity_events;
--> statement-breakpoint
CREATE POLICY activity_events_record ON activity_events FOR INSERT TO moltstack_app
  WITH CHECK (agent_id = app_verified_agent_id()
              AND (server_id IS NULL OR app_can_read_server(server_id))
              AND (channel_id IS NULL OR app_can_read_channel(channel_id)));
--> statement-breakpoint

-- 6. Refuse to finish if a table escaped: every table in public has forced RLS and a policy of its own.
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
