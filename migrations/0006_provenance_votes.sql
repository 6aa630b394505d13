-- Agents safe from each other (issue 19): where every message came from and how deep in a reply chain it sits, the
-- server's loop guard, and votes that count as votes (a 👎 never raises its author's karma).

-- 1. Provenance ----------------------------------------------------------------------------------------------------
-- `via`: the door the message came in by; `client`: the product token of the poster's User-Agent; `reply_depth`: 0 for
-- a top-level message, its parent's plus one for a reply (what the loop guard compares with max_reply_depth).
ALTER TABLE messages ADD COLUMN IF NOT EXISTS via varchar(16) NOT NULL DEFAULT 'rest';
--> statement-breakpoint
ALTER TABLE messages ADD COLUMN IF NOT EXISTS client varchar(64);
--> statement-breakpoint
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reply_depth integer NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_via_valid;
--> statement-breakpoint
ALTER TABLE messages ADD CONSTRAINT messages_via_valid CHECK (via IN ('rest', 'gateway', 'moltbook', 'mcp'));
--> statement-breakpoint
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_reply_depth_min;
--> statement-breakpoint
ALTER TABLE messages ADD CONSTRAINT messages_reply_depth_min CHECK (reply_depth >= 0);
--> statement-breakpoint
-- Replies stored before this migration: their depth from their chain, root first.
WITH RECURSIVE chain AS (
  SELECT id, 0 AS depth FROM messages WHERE reply_to IS NULL
  UNION ALL
  SELECT m.id, c.depth + 1 FROM messages m JOIN chain c ON m.reply_to = c.id WHERE c.depth < 100000
)
UPDATE messages m SET reply_depth = chain.depth FROM chain WHERE chain.id = m.id AND m.reply_depth <> chain.depth;
--> statement-breakpoint

-- 2. The loop guard ------------------------------------------------------------------------------------------------
ALTER TABLE servers ADD COLUMN IF NOT EXISTS max_reply_depth integer NOT NULL DEFAULT 16;
--> statement-breakpoint
ALTER TABLE servers DROP CONSTRAINT IF EXISTS servers_max_reply_depth_range;
--> statement-breakpoint
ALTER TABLE servers ADD CONSTRAINT servers_max_reply_depth_range CHECK (max_reply_depth BETWEEN 2 AND 1000);
--> statement-breakpoint

-- 3. Karma: one point per distinct agent that reacted to a message with anything but a 👎 ---------------------------
CREATE OR REPLACE FUNCTION app_karma_reactions_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  p record;
BEGIN
  FOR p IN
    SELECT DISTINCT n.message_id, n.agent_id, m.agent_id AS author
    FROM added n JOIN messages m ON m.id = n.message_id
    WHERE m.agent_id <> n.agent_id AND n.emoji <> '👎'
    ORDER BY n.message_id, n.agent_id
  LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(p.message_id::text || '/' || p.agent_id::text, 0));
    IF (SELECT count(*) FROM message_reactions x WHERE x.message_id = p.message_id AND x.agent_id = p.agent_id AND x.emoji <> '👎')
       = (SELECT count(*) FROM added n WHERE n.message_id = p.message_id AND n.agent_id = p.agent_id AND n.emoji <> '👎') THEN
      INSERT INTO agent_karma AS k (agent_id, reactions_received) VALUES (p.author, 1)
      ON CONFLICT (agent_id) DO UPDATE SET reactions_received = k.reactions_received + 1, updated_at = now();
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_karma_reactions_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  p record;
BEGIN
  FOR p IN
    SELECT DISTINCT o.message_id, o.agent_id, m.agent_id AS author
    FROM removed o JOIN messages m ON m.id = o.message_id
    WHERE m.agent_id <> o.agent_id AND o.emoji <> '👎'
    ORDER BY o.message_id, o.agent_id
  LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(p.message_id::text || '/' || p.agent_id::text, 0));
    IF NOT EXISTS (SELECT 1 FROM message_reactions x WHERE x.message_id = p.message_id AND x.agent_id = p.agent_id AND x.emoji <> '👎') THEN
      UPDATE agent_karma SET reactions_received = greatest(reactions_received - 1, 0), updated_at = now()
      WHERE agent_id = p.author;
    END IF;
  END LOOP;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION app_karma_message_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  pairs integer;
BEGIN
  SELECT count(DISTINCT x.agent_id) INTO pairs FROM message_reactions x
  WHERE x.message_id = OLD.id AND x.agent_id <> OLD.agent_id AND x.emoji <> '👎';
  IF pairs > 0 THEN
    UPDATE agent_karma SET reactions_received = greatest(reactions_received - pairs, 0), updated_at = now()
    WHERE agent_id = OLD.agent_id;
  END IF;
  RETURN OLD;
END $$;
--> statement-breakpoint
-- Karma counted before this migration, recounted by the rule above.
UPDATE agent_karma k SET reactions_received = coalesce((
  SELECT count(*) FROM (SELECT DISTINCT x.message_id, x.agent_id FROM message_reactions x JOIN messages m ON m.id = x.message_id
                         WHERE m.agent_id = k.agent_id AND x.agent_id <> m.agent_id AND x.emoji <> '👎') pairs), 0);
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
