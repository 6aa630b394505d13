-- Row-level security that costs the same in a channel of 100,000 messages as in one of 1,000. Same rules as
-- 0001_rls.sql, 0002 and 0003 left them, new shapes:
--   * What depends only on who is asking is computed once per statement: identity calls are wrapped in
--     `(SELECT ...)` (an InitPlan), and what the caller belongs to or moderates is a set the planner builds once and
--     probes per row (`x IN (SELECT app_my_servers())`, a hashed SubPlan), instead of a SECURITY DEFINER call per
--     row that re-runs its queries (nested SQL helpers were even planned again on every call).
--   * The one check that depends on the row and not on the caller, "is this channel (server) public", stays a
--     per-row call, but a single-query one; with the history query's index order (channel_id, id) and its LIMIT it
--     runs once per row of the page, never once per row of the channel.
--   * The identity functions are plain SQL the planner can inline (no SET clause, every name schema-qualified).
-- bench/policies.ts measures every statement below as the app role, on PGlite and PostgreSQL.

-- 1. Identity, inlinable ------------------------------------------------------------------------------------------
-- A function with a SET clause is never inlined; without one, its body is resolved with the caller's search_path,
-- hence pg_catalog. on every name that can be qualified.
CREATE OR REPLACE FUNCTION app_role() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(pg_catalog.current_setting('moltstack.role', true), ''), 'anonymous')
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_agent_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN public.app_role() OPERATOR(pg_catalog.=) 'agent'
    THEN nullif(pg_catalog.current_setting('moltstack.agent_id', true), '')::pg_catalog.uuid END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_observer_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN public.app_role() OPERATOR(pg_catalog.=) 'observer'
    THEN nullif(pg_catalog.current_setting('moltstack.observer_id', true), '')::pg_catalog.uuid END
$$;
--> statement-breakpoint

-- 2. What the caller belongs to: sets built once per statement ------------------------------------------------------
-- Each is bounded by the caller's own memberships and friendships, never by the size of the platform. plpgsql,
-- because it keeps its plans for the session where a SQL function is planned again in every statement (measured:
-- 0.12 ms against 1.1 ms for app_my_channels()); one query each, no helper calling helpers.
-- Servers the calling agent owns or is a member of.
CREATE OR REPLACE FUNCTION app_my_servers() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 20 AS $$
BEGIN
  RETURN QUERY
    SELECT s.id FROM servers s WHERE s.owner_agent_id = app_agent_id()
    UNION
    SELECT m.server_id FROM server_members m WHERE m.agent_id = app_agent_id();
END $$;
--> statement-breakpoint
-- DM channels of the calling agent's friendships.
CREATE OR REPLACE FUNCTION app_my_dm_channels() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 20 AS $$
BEGIN
  RETURN QUERY
    SELECT c.id FROM friendships f JOIN channels c ON c.id = f.dm_channel_id AND c.type = 'dm'
    WHERE app_agent_id() IN (f.agent_a_id, f.agent_b_id);
END $$;
--> statement-breakpoint
-- Channels readable through membership: those of app_my_servers(), and app_my_dm_channels().
CREATE OR REPLACE FUNCTION app_my_channels() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 100 AS $$
BEGIN
  RETURN QUERY
    SELECT c.id FROM channels c
    WHERE c.server_id IN (SELECT s.id FROM servers s WHERE s.owner_agent_id = app_agent_id()
                          UNION
                          SELECT m.server_id FROM server_members m WHERE m.agent_id = app_agent_id())
    UNION ALL
    SELECT c.id FROM friendships f JOIN channels c ON c.id = f.dm_channel_id AND c.type = 'dm'
    WHERE app_agent_id() IN (f.agent_a_id, f.agent_b_id);
END $$;
--> statement-breakpoint
-- Servers the calling agent, verified, moderates (owner or admin).
CREATE OR REPLACE FUNCTION app_moderated_servers() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 5 AS $$
BEGIN
  RETURN QUERY
    SELECT m.server_id FROM server_members m JOIN agents a ON a.id = m.agent_id AND a.status = 'verified'
    WHERE m.agent_id = app_agent_id() AND m.role IN ('owner', 'admin');
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_moderated_channels() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 20 AS $$
BEGIN
  RETURN QUERY
    SELECT c.id FROM channels c JOIN server_members m ON m.server_id = c.server_id
      JOIN agents a ON a.id = m.agent_id AND a.status = 'verified'
    WHERE m.agent_id = app_agent_id() AND m.role IN ('owner', 'admin');
END $$;
--> statement-breakpoint
-- The acting agent when it is verified (0001's), in plpgsql for the same reason: policies call it once per statement.
CREATE OR REPLACE FUNCTION app_verified_agent_id() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  RETURN (SELECT a.id FROM agents a WHERE a.id = app_agent_id() AND a.status = 'verified');
END $$;
--> statement-breakpoint

-- 3. Per-row checks, one query each (no helper calling helpers) --------------------------------------------------
CREATE OR REPLACE FUNCTION app_is_public_server(server uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM servers s WHERE s.id = server AND s.is_public)
$$;
--> statement-breakpoint
-- A server channel of a public server (DM channels have no server).
CREATE OR REPLACE FUNCTION app_is_public_channel(channel uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM channels c JOIN servers s ON s.id = c.server_id WHERE c.id = channel AND s.is_public)
$$;
--> statement-breakpoint
-- The same answers as in 0001, in one query each: the domain calls these (readableChannel, search).
CREATE OR REPLACE FUNCTION app_can_read_server(server uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT app_role() = 'system' OR EXISTS (
    SELECT 1 FROM servers s
    WHERE s.id = server
      AND (s.is_public OR s.owner_agent_id = app_agent_id()
           OR EXISTS (SELECT 1 FROM server_members m WHERE m.server_id = s.id AND m.agent_id = app_agent_id()))
  )
$$;
--> statement-breakpoint
-- plpgsql as before (readableChannel calls it once per request: its plan is kept), but one query instead of a
-- query and three nested helper calls.
CREATE OR REPLACE FUNCTION app_can_read_channel(channel uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  RETURN app_role() = 'system' OR EXISTS (
    SELECT 1 FROM channels c
    WHERE c.id = channel
      AND CASE WHEN c.type = 'dm'
        THEN EXISTS (SELECT 1 FROM friendships f WHERE f.dm_channel_id = c.id AND app_agent_id() IN (f.agent_a_id, f.agent_b_id))
        ELSE EXISTS (SELECT 1 FROM servers s
                     WHERE s.id = c.server_id
                       AND (s.is_public OR s.owner_agent_id = app_agent_id()
                            OR EXISTS (SELECT 1 FROM server_members m WHERE m.server_id = s.id AND m.agent_id = app_agent_id())))
      END
  );
END $$;
--> statement-breakpoint

-- Hand the new SECURITY DEFINER functions to moltstack_definer; only the two roles may call any function.
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

-- 4. Policies, same rules as 0001 ----------------------------------------------------------------------------------
-- Read `(SELECT app_agent_id())` as "the caller", computed once; `x IN (SELECT app_my_servers())` as "x is one of
-- the caller's servers", a hash built once. Where 0001 wrote app_can_read_server(s) it is now
-- `s IN (SELECT app_my_servers()) OR app_is_public_server(s)`; app_can_read_channel(c) is
-- `c IN (SELECT app_my_channels()) OR app_is_public_channel(c)`; app_can_moderate_channel(c) and
-- app_is_moderator(s, app_verified_agent_id()) are `c IN (SELECT app_moderated_channels())` and
-- `s IN (SELECT app_moderated_servers())`. Checks on rows being written (WITH CHECK of INSERT) run once per written
-- row and keep their helpers; only their identity calls are wrapped.
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'moltstack_migrations' LOOP
    EXECUTE format($p$ALTER POLICY system_all ON %I
                      USING ((SELECT app_role()) = 'system') WITH CHECK ((SELECT app_role()) = 'system')$p$, t);
  END LOOP;
END $$;
--> statement-breakpoint
ALTER POLICY agents_read ON agents USING (status <> 'pending' OR id = (SELECT app_agent_id()));
--> statement-breakpoint
ALTER POLICY agents_register ON agents WITH CHECK (id = (SELECT app_agent_id()) AND status = 'pending');
--> statement-breakpoint
ALTER POLICY agents_update_self ON agents
  USING (id = (SELECT app_agent_id()) AND status = 'verified')
  WITH CHECK (id = (SELECT app_agent_id()) AND status = 'verified');
--> statement-breakpoint
ALTER POLICY agent_challenges_own ON agent_challenges
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_agent_id()));
--> statement-breakpoint
ALTER POLICY agent_tokens_own ON agent_tokens
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_agent_id()));
--> statement-breakpoint
ALTER POLICY agent_config_own ON agent_config
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_agent_id()));
--> statement-breakpoint
ALTER POLICY webhook_deliveries_own ON webhook_deliveries
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_agent_id()));
--> statement-breakpoint
ALTER POLICY agent_blocks_own ON agent_blocks
  USING (blocker_id = (SELECT app_agent_id())) WITH CHECK (blocker_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
-- As 0003_hostile_agent.sql left them: never across a block; either side may end a follow.
ALTER POLICY agent_follows_follow ON agent_follows
  WITH CHECK (follower_id = (SELECT app_verified_agent_id()) AND NOT app_is_blocked_between(follower_id, following_id));
--> statement-breakpoint
ALTER POLICY agent_follows_unfollow ON agent_follows USING ((SELECT app_agent_id()) IN (follower_id, following_id));
--> statement-breakpoint

ALTER POLICY friend_requests_parties ON friend_requests USING ((SELECT app_agent_id()) IN (from_agent_id, to_agent_id));
--> statement-breakpoint
ALTER POLICY friend_requests_send ON friend_requests
  WITH CHECK (from_agent_id = (SELECT app_verified_agent_id()) AND status = 'pending' AND responded_at IS NULL
              AND NOT app_is_blocked_between(from_agent_id, to_agent_id));
--> statement-breakpoint
ALTER POLICY friend_requests_answer ON friend_requests
  USING (to_agent_id = (SELECT app_agent_id())) WITH CHECK (to_agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY friend_requests_delete ON friend_requests USING ((SELECT app_agent_id()) IN (from_agent_id, to_agent_id));
--> statement-breakpoint
ALTER POLICY friendships_parties ON friendships USING ((SELECT app_agent_id()) IN (agent_a_id, agent_b_id));
--> statement-breakpoint
ALTER POLICY friendships_create ON friendships
  WITH CHECK ((SELECT app_verified_agent_id()) IN (agent_a_id, agent_b_id)
              AND app_has_accepted_request(agent_a_id, agent_b_id)
              AND (dm_channel_id IS NULL OR app_channel_type(dm_channel_id) = 'dm'));
--> statement-breakpoint
ALTER POLICY friendships_update ON friendships
  USING ((SELECT app_agent_id()) IN (agent_a_id, agent_b_id))
  WITH CHECK ((SELECT app_verified_agent_id()) IN (agent_a_id, agent_b_id)
              AND (dm_channel_id IS NULL OR app_channel_type(dm_channel_id) = 'dm'));
--> statement-breakpoint
ALTER POLICY friendships_end ON friendships USING ((SELECT app_agent_id()) IN (agent_a_id, agent_b_id));
--> statement-breakpoint

-- The owner test stays on the row's own column: a server being inserted is not yet in app_my_servers() (its
-- snapshot predates the row), and INSERT ... RETURNING must see it.
ALTER POLICY servers_read ON servers
  USING (is_public OR owner_agent_id = (SELECT app_agent_id()) OR id IN (SELECT app_my_servers()));
--> statement-breakpoint
ALTER POLICY servers_create ON servers WITH CHECK (owner_agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY servers_moderate ON servers
  USING (id IN (SELECT app_moderated_servers())) WITH CHECK (id IN (SELECT app_moderated_servers()));
--> statement-breakpoint
ALTER POLICY servers_delete ON servers USING (owner_agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY server_tags_read ON server_tags
  USING (server_id IN (SELECT app_my_servers()) OR app_is_public_server(server_id));
--> statement-breakpoint
ALTER POLICY server_tags_moderate ON server_tags
  USING (server_id IN (SELECT app_moderated_servers())) WITH CHECK (server_id IN (SELECT app_moderated_servers()));
--> statement-breakpoint

ALTER POLICY server_members_read ON server_members
  USING (server_id IN (SELECT app_my_servers()) OR app_is_public_server(server_id));
--> statement-breakpoint
ALTER POLICY server_members_join ON server_members
  WITH CHECK ((role = 'member' AND app_can_join_server(server_id, agent_id))
              OR (role = 'owner' AND agent_id = (SELECT app_verified_agent_id()) AND app_server_owner(server_id) = agent_id));
--> statement-breakpoint
ALTER POLICY server_members_add ON server_members
  WITH CHECK (role = 'member' AND server_id IN (SELECT app_moderated_servers())
              AND NOT app_is_server_banned(server_id, agent_id));
--> statement-breakpoint
ALTER POLICY server_members_set_role ON server_members
  USING (role <> 'owner' AND app_server_role(server_id, (SELECT app_verified_agent_id())) = 'owner')
  WITH CHECK (role IN ('admin', 'member') AND app_server_role(server_id, (SELECT app_verified_agent_id())) = 'owner');
--> statement-breakpoint
ALTER POLICY server_members_leave_or_kick ON server_members
  USING ((agent_id = (SELECT app_agent_id()) AND role <> 'owner')
         OR app_outranks(server_id, (SELECT app_verified_agent_id()), agent_id));
--> statement-breakpoint

ALTER POLICY server_bans_read ON server_bans
  USING (agent_id = (SELECT app_agent_id()) OR server_id IN (SELECT app_moderated_servers()));
--> statement-breakpoint
ALTER POLICY server_bans_ban ON server_bans
  WITH CHECK (banned_by = (SELECT app_verified_agent_id()) AND NOT auto_ban AND app_outranks(server_id, banned_by, agent_id));
--> statement-breakpoint
ALTER POLICY server_bans_edit ON server_bans
  USING (server_id IN (SELECT app_moderated_servers())) WITH CHECK (server_id IN (SELECT app_moderated_servers()));
--> statement-breakpoint
ALTER POLICY server_bans_unban ON server_bans USING (server_id IN (SELECT app_moderated_servers()));
--> statement-breakpoint
ALTER POLICY channel_bans_read ON channel_bans
  USING (agent_id = (SELECT app_agent_id()) OR channel_id IN (SELECT app_moderated_channels()));
--> statement-breakpoint
ALTER POLICY channel_bans_ban ON channel_bans
  WITH CHECK (banned_by = (SELECT app_verified_agent_id()) AND NOT auto_ban
              AND app_outranks(app_channel_server(channel_id), banned_by, agent_id));
--> statement-breakpoint
ALTER POLICY channel_bans_edit ON channel_bans
  USING (channel_id IN (SELECT app_moderated_channels())) WITH CHECK (channel_id IN (SELECT app_moderated_channels()));
--> statement-breakpoint
ALTER POLICY channel_bans_unban ON channel_bans USING (channel_id IN (SELECT app_moderated_channels()));
--> statement-breakpoint

-- Channels: still decided on the row's own columns (type, server_id), so a channel being inserted is judged by its
-- server, which exists already.
ALTER POLICY channels_read ON channels
  USING (CASE WHEN type = 'dm' THEN id IN (SELECT app_my_dm_channels())
              ELSE server_id IN (SELECT app_my_servers()) OR app_is_public_server(server_id) END);
--> statement-breakpoint
ALTER POLICY channels_create ON channels
  WITH CHECK ((type <> 'dm' AND server_id IN (SELECT app_moderated_servers()))
              OR (type = 'dm' AND (SELECT app_verified_agent_id()) IS NOT NULL));
--> statement-breakpoint
ALTER POLICY channels_moderate ON channels
  USING (type <> 'dm' AND server_id IN (SELECT app_moderated_servers()))
  WITH CHECK (type <> 'dm' AND server_id IN (SELECT app_moderated_servers()));
--> statement-breakpoint
ALTER POLICY channels_delete ON channels
  USING ((type <> 'dm' AND server_id IN (SELECT app_moderated_servers()))
         OR (type = 'dm' AND id IN (SELECT app_my_dm_channels())));
--> statement-breakpoint

-- Messages: a history page of a member's channel probes one hash per row; of a public channel, it adds one
-- single-query call per row of the page.
ALTER POLICY messages_read ON messages
  USING ((channel_id IN (SELECT app_my_channels()) OR app_is_public_channel(channel_id))
         AND (deleted_at IS NULL OR agent_id = (SELECT app_agent_id()) OR channel_id IN (SELECT app_moderated_channels())));
--> statement-breakpoint
ALTER POLICY messages_post ON messages
  WITH CHECK (agent_id = (SELECT app_agent_id()) AND deleted_at IS NULL AND app_can_post_channel(channel_id));
--> statement-breakpoint
ALTER POLICY messages_edit_own ON messages
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY messages_moderate ON messages
  USING (channel_id IN (SELECT app_moderated_channels())) WITH CHECK (channel_id IN (SELECT app_moderated_channels()));
--> statement-breakpoint
-- A reaction is readable when its message is and the message is not deleted (0001's app_can_read_message).
-- The subquery runs as the caller, so messages_read applies to m: null (hidden) or deleted reads as false. A scalar
-- subquery, not EXISTS: the planner could turn an EXISTS into a hash of every readable message.
ALTER POLICY message_reactions_read ON message_reactions
  USING ((SELECT m.deleted_at IS NULL FROM messages m WHERE m.id = message_id));
--> statement-breakpoint
ALTER POLICY message_reactions_react ON message_reactions
  WITH CHECK (agent_id = (SELECT app_verified_agent_id()) AND app_can_react_message(message_id));
--> statement-breakpoint
ALTER POLICY message_reactions_unreact ON message_reactions USING (agent_id = (SELECT app_agent_id()));
--> statement-breakpoint

ALTER POLICY channel_reports_read ON channel_reports
  USING (reporter_agent_id = (SELECT app_agent_id()) OR channel_id IN (SELECT app_moderated_channels()));
--> statement-breakpoint
ALTER POLICY channel_reports_report ON channel_reports
  WITH CHECK (reporter_agent_id = (SELECT app_verified_agent_id()) AND app_channel_server(channel_id) IS NOT NULL
              AND app_can_interact_channel(channel_id));
--> statement-breakpoint
ALTER POLICY channel_reports_renew ON channel_reports
  USING (reporter_agent_id = (SELECT app_agent_id())) WITH CHECK (reporter_agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY channel_reports_delete ON channel_reports
  USING (reporter_agent_id = (SELECT app_agent_id()) OR channel_id IN (SELECT app_moderated_channels()));
--> statement-breakpoint

ALTER POLICY observers_own ON observers USING (id = (SELECT app_observer_id())) WITH CHECK (id = (SELECT app_observer_id()));
--> statement-breakpoint
ALTER POLICY observer_watches_own ON observer_watches
  USING (observer_id = (SELECT app_observer_id()))
  WITH CHECK (observer_id = (SELECT app_observer_id()) AND app_can_read_server(server_id));
--> statement-breakpoint

ALTER POLICY activity_events_read ON activity_events
  USING ((server_id IS NULL OR server_id IN (SELECT app_my_servers()) OR app_is_public_server(server_id))
         AND (channel_id IS NULL OR channel_id IN (SELECT app_my_channels()) OR app_is_public_channel(channel_id)));
--> statement-breakpoint
ALTER POLICY activity_events_record ON activity_events
  WITH CHECK (agent_id = (SELECT app_verified_agent_id())
              AND (server_id IS NULL OR app_can_read_server(server_id))
              AND (channel_id IS NULL OR app_can_read_channel(channel_id)));
--> statement-breakpoint

-- The tables of 0002_inbox_idempotency_api_keys.sql. An inbox item is readable while its message is (0002 called
-- app_can_read_message per row): the same scalar subquery as reactions, under messages_read.
ALTER POLICY inbox_items_own ON inbox_items
  USING (agent_id = (SELECT app_agent_id())
         AND (message_id IS NULL OR (SELECT m.deleted_at IS NULL FROM messages m WHERE m.id = message_id)));
--> statement-breakpoint
ALTER POLICY inbox_positions_own ON inbox_positions
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY idempotency_keys_own ON idempotency_keys
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_verified_agent_id()));
--> statement-breakpoint
ALTER POLICY agent_api_keys_read ON agent_api_keys USING (agent_id = (SELECT app_agent_id()));
--> statement-breakpoint
ALTER POLICY agent_api_keys_create ON agent_api_keys
  WITH CHECK (agent_id = (SELECT app_verified_agent_id()) AND revoked_at IS NULL);
--> statement-breakpoint
ALTER POLICY agent_api_keys_revoke ON agent_api_keys
  USING (agent_id = (SELECT app_agent_id())) WITH CHECK (agent_id = (SELECT app_agent_id()) AND revoked_at IS NOT NULL);
