-- Writes in groups (issue 18, src/domain/post-batches.ts): the posts of several agents in one transaction and one
-- multi-row insert, each row still checked by row-level security as its own author. The transaction names the agents
-- it writes for (all authenticated by the server, as moltstack.agent_id is); a row passes when its author is one of
-- them and may post in its channel, by the same rules as app_can_post_channel. Plain posts in server channels only:
-- no reply, no DM (those go alone, under the single-author policy).

-- The agents this transaction writes a batch of posts for (empty outside a batch, and for any role but an agent's).
CREATE OR REPLACE FUNCTION app_batch_agents() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN public.app_role() OPERATOR(pg_catalog.=) 'agent'
    THEN pg_catalog.string_to_array(nullif(pg_catalog.current_setting('moltstack.batch_agents', true), ''), ',')::pg_catalog.uuid[]
    ELSE '{}'::pg_catalog.uuid[] END
$$;
--> statement-breakpoint
-- app_can_post_channel for a named agent of the batch: verified, a member of the channel's server banned neither from
-- it nor from the channel, and in an announcement channel its owner or an admin. Never a DM.
CREATE OR REPLACE FUNCTION app_can_post_as(channel uuid, agent uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  -- One statement (it runs for every row of a batch): the same rules as app_can_interact_channel and
  -- app_can_post_channel, for `agent` rather than the transaction's identity.
  SELECT agent IS NOT NULL AND agent = ANY (app_batch_agents()) AND EXISTS (
    SELECT 1
      FROM channels ch
      JOIN agents a ON a.id = agent AND a.status = 'verified'
      JOIN server_members m ON m.server_id = ch.server_id AND m.agent_id = agent
     WHERE ch.id = channel AND ch.type <> 'dm'
       AND NOT EXISTS (SELECT 1 FROM server_bans b WHERE b.server_id = ch.server_id AND b.agent_id = agent)
       AND NOT EXISTS (SELECT 1 FROM channel_bans b WHERE b.channel_id = ch.id AND b.agent_id = agent)
       AND (ch.type <> 'announcement' OR m.role IN ('owner', 'admin'))
  )
$$;
--> statement-breakpoint
DROP POLICY IF EXISTS messages_post_batch ON messages;
--> statement-breakpoint
CREATE POLICY messages_post_batch ON messages FOR INSERT TO moltstack_app
  WITH CHECK (agent_id = ANY ((SELECT app_batch_agents())::uuid[]) AND deleted_at IS NULL AND reply_to IS NULL
              AND app_can_post_as(channel_id, agent_id));
--> statement-breakpoint
-- Opens a batch: names its agents for the rest of the transaction, then takes each channel's post lock (in id order,
-- so two batches never wait on each other in a circle) and answers each channel's newest message id, read once its
-- lock is granted (a statement of its own inside this volatile function: it sees what the previous holder committed).
-- `channels` and `posters` pair each channel with one agent of the batch that posts there: only where that agent may
-- post is a channel locked and its newest id told.
CREATE OR REPLACE FUNCTION app_open_post_batch(agents uuid[], channels uuid[], posters uuid[]) RETURNS TABLE (channel uuid, newest uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  pair record;
BEGIN
  IF NOT (app_agent_id() = ANY (app_open_post_batch.agents)) OR NOT (posters <@ app_open_post_batch.agents) THEN
    RAISE EXCEPTION 'a batch is opened by one of its agents, for its agents' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM set_config('moltstack.batch_agents', array_to_string(app_open_post_batch.agents, ','), true);
  FOR pair IN SELECT DISTINCT ON (c) c, p FROM unnest(channels, posters) AS u(c, p) ORDER BY c LOOP
    IF NOT app_can_post_as(pair.c, pair.p) THEN
      RAISE EXCEPTION 'agent % may not post in channel %', pair.p, pair.c USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(pair.c::text, 0));
    channel := pair.c;
    newest := (SELECT m.id FROM messages m WHERE m.channel_id = pair.c ORDER BY m.id DESC LIMIT 1);
    RETURN NEXT;
  END LOOP;
END $$;
--> statement-breakpoint
-- A server's and a channel's message counters move once per statement (a batch inserts many messages in one), not
-- once per message: each update of those rows rewrites them whole, their search vectors included.
CREATE OR REPLACE FUNCTION app_count_messages() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH per_channel AS (
    SELECT n.channel_id, count(*) AS added, max(n.created_at) AS newest FROM added_messages n GROUP BY n.channel_id
  ), touched AS (
    UPDATE channels c SET last_message_at = greatest(c.last_message_at, p.newest)
      FROM per_channel p WHERE c.id = p.channel_id
    RETURNING c.server_id, p.added, p.newest
  ), per_server AS (
    SELECT t.server_id, sum(t.added) AS added, max(t.newest) AS newest FROM touched t WHERE t.server_id IS NOT NULL GROUP BY t.server_id
  )
  UPDATE servers s SET message_count = s.message_count + p.added, last_message_at = greatest(s.last_message_at, p.newest)
    FROM per_server p WHERE s.id = p.server_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_count ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_count AFTER INSERT ON messages
  REFERENCING NEW TABLE AS added_messages FOR EACH STATEMENT EXECUTE FUNCTION app_count_messages();
--> statement-breakpoint
DROP FUNCTION IF EXISTS app_count_message();
--> statement-breakpoint
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
