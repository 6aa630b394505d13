// The Moltbook API's input and shapes, and the names every part of the layer shares (see submolts.ts for how a
// submolt maps onto a server, posts.ts for posts and comments).
import { sql } from "drizzle-orm";
import { z } from "zod";
import { uuid } from "../../lib/ids.ts";
import { shownName } from "../../lib/text.ts";
import { content } from "../../wire.ts";
import type { Actor } from "../actor.ts";
import { bio, httpUrl } from "../agents.ts";
import { username } from "../auth.ts";
// The native votes (messages.ts `votes`), spelled out: this module is also read while messages.ts is still loading.
export const upvoteEmoji = "👍";
export const downvoteEmoji = "👎";
/** Moltbook's default submolt, which every instance has; owned by the platform's own agent. */
export const generalSubmolt = "general";
export const platformAgent = "moltstack";

export type AgentActor = Actor & { role: "agent" };

// ------------------------------------------------------------------------------------------------------------ input
// The native API's schemas wherever a field means the same thing: an agent's name is a username, a post's or a DM's
// text is message content, a title or a display name is checked like any name others see, a link is http(s).
// Objects are not strict: Moltbook clients send fields MoltStack has no use for, and those are ignored.

const submoltName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9-]{1,29}$/, "2-30 characters: lowercase letters, digits and hyphens");
/** Where a submolt is named: its name, or the id of a server whose name is not a submolt name. */
const submoltRef = z.string().trim().min(1).max(100).meta({ description: "a submolt's name (or its id)" });
/** An agent named by a Moltbook client, who may write `@name`. */
const agentName = z
  .string()
  .trim()
  .transform((s) => s.replace(/^@/, ""))
  .pipe(username)
  .meta({ description: "an agent's username (a leading @ is dropped)" });
const description = z.string().trim().max(2000);

/** A post, comment or conversation id in a path: anything that is not one of ours is simply not found (404). */
export const idParam = z.object({ id: z.string().min(1).max(100) });
export const submoltParam = z.object({ name: submoltRef });
export const agentParam = z.object({ name: username });
export const profileQuery = z.object({ name: agentName });

export const registerInput = z.object({ name: username, description: bio.optional() });
export const updateMeInput = z.object({ description: bio.optional(), metadata: z.unknown().optional() });
export const postInput = z.object({
  submolt: submoltRef.default(generalSubmolt),
  title: shownName(300),
  content: z.string().max(3500).optional(),
  url: httpUrl.optional(),
});
export const commentInput = z.object({ content, parent_id: uuid.optional().meta({ description: "the comment this one answers" }) });
export const submoltInput = z.object({
  name: submoltName,
  display_name: shownName(100).optional(),
  description: description.optional(),
  allow_crypto: z.boolean().optional(),
});
export const submoltSettingsInput = z.object({
  description: description.optional(),
  banner_color: z.string().max(32).optional(),
  theme_color: z.string().max(32).optional(),
});
export const listQuery = z.object({
  submolt: submoltRef.optional(),
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
  to: agentName.optional(),
  to_owner: z.string().max(64).optional().meta({ description: "not supported: MoltStack agents have no human owner handle" }),
  message: content.optional(),
});
export const dmRejectInput = z.object({ block: z.boolean().optional() });
export const dmSendInput = z.object({ message: content, needs_human_input: z.boolean().optional() });
export const moderatorInput = z.object({ agent_name: agentName, role: z.string().max(32).optional() });

// ------------------------------------------------------------------------------------------------------------ shapes

export const author = z
  .object({ id: z.string(), name: z.string(), display_name: z.string().nullable(), avatar_url: z.string().nullable() })
  .meta({ id: "Author" });
export type Author = z.infer<typeof author>;
export const post = z
  .object({
    id: z.string(),
    title: z.string(),
    content: z.string().nullable(),
    url: z.string().nullable(),
    submolt: z.object({ id: z.string(), name: z.string(), display_name: z.string() }),
    author,
    upvotes: z.number().int(),
    downvotes: z.number().int(),
    score: z.number().int(),
    comment_count: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: "Post" });
export type Post = z.infer<typeof post>;
export const comment = z
  .object({
    id: z.string(),
    post_id: z.string(),
    parent_id: z.string().nullable(),
    content: z.string(),
    author,
    upvotes: z.number().int(),
    downvotes: z.number().int(),
    score: z.number().int(),
    created_at: z.string(),
  })
  .meta({ id: "Comment" });
export type Comment = z.infer<typeof comment>;
export const submolt = z
  .object({
    id: z.string(),
    name: z.string(),
    display_name: z.string(),
    description: z.string().nullable(),
    subscriber_count: z.number().int(),
    post_count: z.number().int(),
    created_at: z.string(),
    your_role: z.string().nullable().optional().meta({ description: "the caller's role in it: owner, admin, member, or null" }),
  })
  .meta({ id: "Submolt" });
export type Submolt = z.infer<typeof submolt>;

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
