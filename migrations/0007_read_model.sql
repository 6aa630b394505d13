-- The read model's stream of changes (issue 18, src/read-model/). Every row change that can alter an answer the
-- process serves from memory names what it touched, as keys such as 'agent:<id>', 'server:<id>', 'channel:<id>',
-- 'server-stats:<id>' and 'channel-stats:<id>' (counters only), 'window:<channel id>', 'token:<id>', 'author:<id>'
-- and 'msg:<channel id>:<message id>'. The keys are written in the
-- changing transaction itself, by triggers, so no act can forget them and none is told of a change that rolled back:
--   * into the transaction-local setting moltstack.changes, which the writer reads just before its COMMIT and applies
--     to its own memory before it answers (it reads its own writes at once);
--   * as NOTIFY moltstack_changes, which PostgreSQL delivers to every other instance's listening connection only
--     if the transaction commits, in commit order.

-- Adds one key to the transaction's list (once) and to its notifications (PostgreSQL folds repeated payloads).
CREATE OR REPLACE FUNCTION app_note_change(k text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
  noted text := coalesce(current_setting('moltstack.changes', true), '');
BEGIN
  IF strpos(noted, k || ' ') = 0 THEN
    PERFORM set_config('moltstack.changes', noted || k || ' ', true);
    PERFORM pg_notify('moltstack_changes', k);
  END IF;
END $$;
--> statement-breakpoint
-- One trigger function for every watched table; each names the keys its row touches. A definer, so a cascade or a
-- lookup (a reaction's channel) sees the rows whatever the caller may see.
CREATE OR REPLACE FUNCTION app_row_changed() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r record;
  ch uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  CASE TG_TABLE_NAME
    WHEN 'agents' THEN
      PERFORM app_note_change('agent:' || r.id);
      IF TG_OP <> 'UPDATE' OR (OLD.username, OLD.display_name, OLD.avatar_url, OLD.status)
                             IS DISTINCT FROM (NEW.username, NEW.display_name, NEW.avatar_url, NEW.status) THEN
        PERFORM app_note_change('author:' || r.id);
      END IF;
    WHEN 'agent_karma', 'agent_config' THEN
      PERFORM app_note_change('agent:' || r.agent_id);
    WHEN 'agent_tokens', 'agent_api_keys' THEN
      PERFORM app_note_change('token:' || r.id);
    WHEN 'servers' THEN
      -- Every post moves the counters (message_count, last_message_at, member_count): what shows them is tagged
      -- 'server-stats:'; what depends on who may see or post (most of what is kept) is not voided by them.
      IF TG_OP <> 'UPDATE'
         OR (OLD.name, OLD.description, OLD.icon_url, OLD.owner_agent_id, OLD.is_public, OLD.max_members, OLD.instructions,
             OLD.report_threshold, OLD.max_reply_depth)
            IS DISTINCT FROM (NEW.name, NEW.description, NEW.icon_url, NEW.owner_agent_id, NEW.is_public, NEW.max_members,
                              NEW.instructions, NEW.report_threshold, NEW.max_reply_depth) THEN
        PERFORM app_note_change('server:' || r.id);
      ELSE
        PERFORM app_note_change('server-stats:' || r.id);
      END IF;
    WHEN 'server_tags' THEN
      PERFORM app_note_change('server:' || r.server_id);
    WHEN 'server_members', 'server_bans' THEN
      PERFORM app_note_change('server:' || r.server_id);
    WHEN 'channels' THEN
      IF TG_OP <> 'UPDATE'
         OR (OLD.server_id, OLD.category, OLD.name, OLD.type, OLD.topic, OLD.instructions, OLD.position)
            IS DISTINCT FROM (NEW.server_id, NEW.category, NEW.name, NEW.type, NEW.topic, NEW.instructions, NEW.position) THEN
        PERFORM app_note_change('channel:' || r.id);
        IF r.server_id IS NOT NULL THEN PERFORM app_note_change('server:' || r.server_id); END IF;
      ELSE
        PERFORM app_note_change('channel-stats:' || r.id);
      END IF;
    WHEN 'channel_bans' THEN
      PERFORM app_note_change('channel:' || r.channel_id);
    WHEN 'friendships' THEN
      IF r.dm_channel_id IS NOT NULL THEN PERFORM app_note_change('channel:' || r.dm_channel_id); END IF;
    WHEN 'messages' THEN
      IF TG_OP = 'INSERT' THEN
        PERFORM app_note_change('msg:' || r.channel_id || ':' || r.id);
      ELSE
        PERFORM app_note_change('window:' || r.channel_id);
      END IF;
    WHEN 'message_reactions' THEN
      SELECT m.channel_id INTO ch FROM messages m WHERE m.id = r.message_id;
      IF ch IS NOT NULL THEN PERFORM app_note_change('window:' || ch); END IF;
  END CASE;
  RETURN NULL;
END $$;
--> statement-breakpoint
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY array['agents', 'agent_karma', 'agent_config', 'agent_tokens', 'agent_api_keys', 'servers',
                           'server_tags', 'server_members', 'server_bans', 'channels', 'channel_bans', 'friendships', 'messages',
                           'message_reactions'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS read_model_change ON %I', t);
    EXECUTE format('CREATE TRIGGER read_model_change AFTER INSERT OR UPDATE OR DELETE ON %I
                      FOR EACH ROW EXECUTE FUNCTION app_row_changed()', t);
  END LOOP;
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
