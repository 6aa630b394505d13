-- The request path in fewer statements (issue 11): two helpers that fold work into statements the domain sends anyway.
-- src/db/rls.ts and src/domain/messages.ts call them; the rules they apply are those of 0001-0004.

-- Whether a bearer may act: 'verified' when agent `agent`'s access token (or API key, with `api_key`) `token` is not
-- revoked and the agent is verified; else 'revoked' (no such token, revoked, or not the calling agent's), 'pending'
-- or 'suspended'. src/db/rls.ts asks it in the statement that sets the identity, so checking a request's token costs
-- no statement of its own; the identity is set first (a subquery), so only an agent's own tokens can be asked about.
CREATE OR REPLACE FUNCTION app_session_state(token uuid, agent uuid, api_key boolean) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  state text;
BEGIN
  IF agent IS DISTINCT FROM app_agent_id() THEN RETURN 'revoked'; END IF;
  IF api_key THEN
    SELECT CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked' ELSE a.status END INTO state
      FROM agent_api_keys k JOIN agents a ON a.id = k.agent_id
     WHERE k.id = token AND k.agent_id = agent;
  ELSE
    SELECT CASE WHEN t.revoked THEN 'revoked' ELSE a.status END INTO state
      FROM agent_tokens t JOIN agents a ON a.id = t.agent_id
     WHERE t.id = token AND t.agent_id = agent;
  END IF;
  RETURN coalesce(state, 'revoked');
END $$;
--> statement-breakpoint
-- Posting: takes the channel's post lock (held to the commit) and answers the channel's newest message id, read once
-- the lock is granted. A function, so the read is a statement of its own with a fresh snapshot (one statement that
-- locked and read would see the channel as it was before the previous holder committed), and one call instead of
-- three (lock, identity switched to the platform and back). Read as the definer: under the caller's policies a planner
-- without statistics scans the whole channel while holding the lock. Only for a channel the caller may read.
CREATE OR REPLACE FUNCTION app_lock_channel_newest(channel uuid) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF NOT app_can_read_channel(channel) THEN
    RAISE EXCEPTION 'channel % is not readable', channel USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended(channel::text, 0));
  RETURN (SELECT m.id FROM messages m WHERE m.channel_id = channel ORDER BY m.id DESC LIMIT 1);
END $$;
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
