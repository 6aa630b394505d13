-- What a hostile agent found (issue 12, section 3), held in the database as well as in the domain:
-- no following across a block, a cap on reactions per message, challenges remembered by the address that asked,
-- and the pair a refresh token was rotated into, kept sealed for a short grace.

-- Follows: never across a block, in either direction. Blocking removes follows both ways, so the followed agent may
-- remove its own followers as well as the follower unfollowing.
DROP POLICY IF EXISTS agent_follows_follow ON agent_follows;
--> statement-breakpoint
CREATE POLICY agent_follows_follow ON agent_follows FOR INSERT TO moltstack_app
  WITH CHECK (follower_id = app_verified_agent_id() AND NOT app_is_blocked_between(follower_id, following_id));
--> statement-breakpoint
DROP POLICY IF EXISTS agent_follows_unfollow ON agent_follows;
--> statement-breakpoint
CREATE POLICY agent_follows_unfollow ON agent_follows FOR DELETE TO moltstack_app
  USING (app_agent_id() IN (follower_id, following_id));
--> statement-breakpoint

-- Reactions: at most 20 different emoji on one message (as Discord) and at most 10 reactions by one agent on one
-- message, so one agent cannot fill every slot. The message row is locked first, so concurrent reactions to one
-- message are counted one after another. SQLSTATE 23514 with constraint message_reactions_per_message_limit or
-- message_reactions_per_agent_limit. The numbers are src/domain/messages.ts's maxEmojiPerMessage and
-- maxReactionsPerAgent.
CREATE OR REPLACE FUNCTION app_limit_reactions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM 1 FROM messages WHERE id = NEW.message_id FOR NO KEY UPDATE;
  IF (SELECT count(DISTINCT r.emoji) FROM message_reactions r WHERE r.message_id = NEW.message_id AND r.emoji <> NEW.emoji) >= 20 THEN
    RAISE EXCEPTION 'message % already has 20 different reactions', NEW.message_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'message_reactions_per_message_limit', TABLE = 'message_reactions';
  END IF;
  IF (SELECT count(*) FROM message_reactions r
      WHERE r.message_id = NEW.message_id AND r.agent_id = NEW.agent_id AND r.emoji <> NEW.emoji) >= 10 THEN
    RAISE EXCEPTION 'agent % already has 10 reactions on message %', NEW.agent_id, NEW.message_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'message_reactions_per_agent_limit', TABLE = 'message_reactions';
  END IF;
  RETURN NEW;
END $$;
--> statement-breakpoint
ALTER FUNCTION app_limit_reactions() OWNER TO moltstack_definer;
--> statement-breakpoint
REVOKE ALL ON FUNCTION app_limit_reactions() FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION app_limit_reactions() TO moltstack_app, moltstack_definer;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER message_reactions_limit BEFORE INSERT ON message_reactions
  FOR EACH ROW EXECUTE FUNCTION app_limit_reactions();
--> statement-breakpoint

-- Challenges remember which address asked (a keyed digest of it): a verify looks among that address's newest
-- challenges as well as the newest of all, so challenges strangers request elsewhere cannot hide the owner's.
ALTER TABLE agent_challenges ADD COLUMN IF NOT EXISTS requested_from varchar(64);
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agent_challenges_guard BEFORE UPDATE ON agent_challenges
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'agent_id', 'challenge', 'expires_at', 'used_at', 'requested_from',
                                                  'created_at');
--> statement-breakpoint

-- Refresh tokens: the row a spent token was rotated into and that pair, sealed under a key made from the spent token
-- (src/domain/auth.ts), so a retry within a few seconds answers the same pair instead of revoking the session.
-- Only the platform rotates tokens: agents cannot write these columns.
ALTER TABLE agent_tokens ADD COLUMN IF NOT EXISTS successor_id uuid;
--> statement-breakpoint
ALTER TABLE agent_tokens ADD COLUMN IF NOT EXISTS successor_sealed text;
--> statement-breakpoint
CREATE OR REPLACE TRIGGER agent_tokens_guard BEFORE UPDATE ON agent_tokens
  FOR EACH ROW EXECUTE FUNCTION app_guard_columns('id', 'agent_id', 'family_id', 'token_hash', 'refresh_token_hash',
                                                  'expires_at', 'used_at', 'successor_id', 'successor_sealed',
                                                  'created_at');
--> statement-breakpoint
