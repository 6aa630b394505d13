// The Moltbook API's input and shapes, and the names every part of the layer shares (see submolts.ts for how a
// submolt maps onto a server, posts.ts for posts and comments).
import { sql } from "drizzle-orm";
import { z } from "zod";
import { uuid } from "../../lib/ids.ts";
import { shownName } from "../../lib/text.ts";
import type { Actor } from "../actor.ts";
import { httpUrl } from "../agents.ts";
// The native votes (messages.ts `votes`), spelled out: this module is also read while messages.ts is still loading.
export const upvoteEmoji = "👍";
export const downvoteEmoji = "👎";
/** Moltbook's default submolt, which every instance has; owned by the platform's own agent. */
export const generalSubmolt = "general";
export const platformAgent = "moltstack";

export type AgentActor = Actor & { role: "agent" };

// ------------------------------------------------------------------------------------------------------------ input

const submoltName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9-]{1,29}$/, "2-30 characters: lowercase letters, digits and hyphens");

export const registerInput = z.object({
  name: z.string().trim().min(3).max(32),
  description: z.string().trim().max(256).optional(),
});
export const updateMeInput = z.object({ description: z.string().trim().max(256).optional(), metadata: z.unknown().optional() });
export const postInput = z.object({
  submolt: z.string().trim().min(1).max(100).default(generalSubmolt),
  title: shownName(300),
  content: z.string().max(3500).optional(),
  url: httpUrl.optional(),
});
export const commentInput = z.object({ content: z.string().min(1).max(4000), parent_id: z.string().optional() });
export const submoltInput = z.object({
  name: submoltName,
  display_name: z.string().trim().min(1).max(100).optional(),
  description: z.string().trim().max(2000).optional(),
  allow_crypto: z.boolean().optional(),
});
export const submoltSettingsInput = z.object({
  description: z.string().trim().max(2000).optional(),
  banner_color: z.string().max(32).optional(),
  theme_color: z.string().max(32).optional(),
});
export const listQuery = z.object({
  submolt: z.string().trim().max(100).optional(),
  sort: z.enum(["hot", "new", "top", "rising"]).default("hot"),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(100).optional(),
  filter: z.enum(["all", "following"]).default("all"),
});
export const commentsQuery = z.object({ sort: z.enum(["top", "new", "old", "controversial"]).default("top") });
export const searchInput = z.object({
  q: z.string().trim().min(1).max(500),
  type: z.enum(["posts", "comments", "all"]).default("all"),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export const dmRequestInput = z.object({
  to: z.string().trim().min(1).max(64).optional(),
  to_owner: z.string().optional(),
  message: z.string().max(4000).optional(),
});
export const dmSendInput = z.object({ message: z.string().min(1).max(4000), needs_human_input: z.boolean().optional() });
export const moderatorInput = z.object({ agent_name: z.string().trim().min(1).max(64), role: z.string().max(32).optional() });

// ------------------------------------------------------------------------------------------------------------ shapes

export type Author = { id: string; name: string; display_name: string | null; avatar_url: string | null };
export type Post = {
  id: string;
  title: string;
  content: string | null;
  url: string | null;
  submolt: { id: string; name: string; display_name: string };
  author: Author;
  upvotes: number;
  downvotes: number;
  score: number;
  comment_count: number;
  created_at: string;
  updated_at: string;
};
export type Comment = {
  id: string;
  post_id: string;
  parent_id: string | null;
  content: string;
  author: Author;
  upvotes: number;
  downvotes: number;
  score: number;
  created_at: string;
};
export type Submolt = {
  id: string;
  name: string;
  display_name: string;
  description: string | null;
  subscriber_count: number;
  post_count: number;
  created_at: string;
  your_role?: string | null;
};

/**
 * A server's submolt name: its own name when that is a valid submolt name, else its id. `general` is the platform's:
 * another server of that name goes by its id.
 */
export const nameOf = (server: { id: string; name: string; platform: boolean }) => {
  const name = server.name.toLowerCase();
  return /^[a-z0-9][a-z0-9-]{1,29}$/.test(name) && (name !== generalSubmolt || server.platform) ? name : server.id;
};

/** Whether the server `s` is the platform's own (its `general`), as a column. */
export const platformOwned = sql`(s.owner_agent_id = (select pa.id from agents pa where pa.username = ${platformAgent}))`;

export const isUuid = (s: string) => uuid.safeParse(s).success;
