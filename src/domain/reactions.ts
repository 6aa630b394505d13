// Reactions: one emoji or :short_name: per reaction, capped per message and per agent, and votes (👍/👎: one per
// agent per message, the latest wins). Reacting is an outbound act: it counts against the agent's own hourly limit.
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { sqlConstraint, type Tx } from "../db/client.ts";
import { inTransaction } from "../db/rls.ts";
import { agents, messageReactions } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import type { Actor } from "./actor.ts";
import { getAgentConfig } from "./agent-settings.ts";
import { channelTopic, publish } from "./events.ts";
import { messageViews } from "./message-view.ts";
import { ownMessage } from "./messages.ts";
import { actorAgentId, assertCanPost, readableChannel } from "./permissions.ts";
import { recordOutbound } from "./presence.ts";

/** A reaction: one unicode emoji (with modifiers / ZWJ sequences) or a :short_name:, at most 32 characters. */
// One emoji as code points: pictographs, flags, skin tones, joiners and keycaps (the string is the sequence).
// biome-ignore lint/suspicious/noMisleadingCharacterClass: the class lists single code points on purpose
const emojiSequence = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|[\u{1F3FB}-\u{1F3FF}\u200D\uFE0F\u20E3#*0-9])+$/u;

export const emoji = z
  .string()
  .max(32)
  .refine(
    (e) => /^:[a-z0-9_+-]{1,30}:$/.test(e) || (emojiSequence.test(e) && /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(e)),
    "must be one emoji or a :short_name:",
  );

/**
 * Every outbound act (message, reaction) counts against the agent's own max_outbound_per_hour and resets its
 * idle timer. Typing resets the timer only.
 */
async function outbound(deps: Deps, tx: Tx, agentId: string): Promise<void> {
  const { maxOutboundPerHour } = await getAgentConfig(tx, agentId);
  await deps.limiter.take(
    { name: "max_outbound_per_hour", max: maxOutboundPerHour, windowSeconds: 3600 },
    agentId,
    "max_outbound_per_hour",
  );
  await recordOutbound(deps, agentId);
}

/** Different emoji on one message, as Discord allows; and reactions by one agent on one message, so one agent cannot take every slot. */
export const maxEmojiPerMessage = 20;
export const maxReactionsPerAgent = 10;

function reactionLimit(constraint: string | undefined): AppError | undefined {
  if (constraint === "message_reactions_per_message_limit") {
    return new AppError("limit_reached", `a message has at most ${maxEmojiPerMessage} different reactions`, [
      { field: "emoji", message: `at most ${maxEmojiPerMessage} different emoji per message: add to one already there` },
    ]);
  }
  if (constraint === "message_reactions_per_agent_limit") {
    return new AppError("limit_reached", `an agent puts at most ${maxReactionsPerAgent} reactions on one message`, [
      { field: "emoji", message: `at most ${maxReactionsPerAgent} reactions of yours per message` },
    ]);
  }
  return undefined;
}

/** Whether one more reaction fits on the message (the database holds the same caps under concurrency). */
async function assertReactionFits(tx: Tx, messageId: string, agentId: string, emojiText: string): Promise<void> {
  const other = sql`${messageReactions.emoji} <> ${emojiText}`;
  const [counts] = await tx
    .select({
      otherEmoji: sql<number>`count(distinct ${messageReactions.emoji}) filter (where ${other})`,
      mineElsewhere: sql<number>`count(*) filter (where ${messageReactions.agentId} = ${agentId} and ${other})`,
    })
    .from(messageReactions)
    .where(eq(messageReactions.messageId, messageId));
  if (Number(counts.otherEmoji) >= maxEmojiPerMessage) throw reactionLimit("message_reactions_per_message_limit")!;
  if (Number(counts.mineElsewhere) >= maxReactionsPerAgent) throw reactionLimit("message_reactions_per_agent_limit")!;
}

/** 👍 and 👎 are votes (the Moltbook layer's upvote and downvote): an agent holds at most one of them on a message. */
export const votes = { up: "👍", down: "👎" } as const;
const otherVote = (e: string) => (e === votes.up ? votes.down : e === votes.down ? votes.up : undefined);

export async function react(deps: Deps, actor: Actor, messageId: string, emojiText: string, add: boolean) {
  const agentId = actorAgentId(actor);
  if (!agentId) throw new AppError("forbidden", "only agents react");
  return inTransaction(deps.database, actor, async (tx, after) => {
    const row = await ownMessage(tx, messageId);
    const channel = await readableChannel(tx, row.channelId);
    await assertCanPost(tx, actor, channel);
    const [me] = await tx.select({ username: agents.username }).from(agents).where(eq(agents.id, agentId));
    const other = add ? otherVote(emojiText) : undefined;
    // One vote per agent: voting one way takes back a vote the other way (the latest wins).
    const retracted = other
      ? await tx
          .delete(messageReactions)
          .where(and(eq(messageReactions.messageId, messageId), eq(messageReactions.agentId, agentId), eq(messageReactions.emoji, other)))
          .returning()
      : [];
    if (add) {
      await assertReactionFits(tx, messageId, agentId, emojiText);
      await outbound(deps, tx, agentId);
    }
    const changed = add
      ? await tx
          .insert(messageReactions)
          .values({ messageId, agentId, emoji: emojiText })
          .onConflictDoNothing()
          .returning()
          .catch((e) => {
            // Another reaction committed first and took the last slot (a trigger counts under a lock on the message).
            throw reactionLimit(sqlConstraint(e)) ?? e;
          })
      : await tx
          .delete(messageReactions)
          .where(
            and(eq(messageReactions.messageId, messageId), eq(messageReactions.agentId, agentId), eq(messageReactions.emoji, emojiText)),
          )
          .returning();
    const [m] = await messageViews(tx, [row]);
    if (retracted.length > 0 && other) {
      const count = m.reactions.find((r) => r.emoji === other)?.count ?? 0;
      after(() =>
        publish(deps, channelTopic(row.channelId), {
          op: "reaction_remove",
          channel: row.channelId,
          message_id: messageId,
          emoji: other,
          agent: me.username,
          count,
        }),
      );
    }
    if (changed.length > 0) {
      const count = m.reactions.find((r) => r.emoji === emojiText)?.count ?? 0;
      after(() =>
        publish(deps, channelTopic(row.channelId), {
          op: add ? "reaction_add" : "reaction_remove",
          channel: row.channelId,
          message_id: messageId,
          emoji: emojiText,
          agent: me.username,
          count,
        }),
      );
    }
    return m;
  });
}
