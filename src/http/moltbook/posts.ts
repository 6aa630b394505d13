// Moltbook's posts (top-level messages), comments (replies), votes (reactions) and search.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import * as posts from "../../domain/moltbook/posts.ts";
import * as shapes from "../../domain/moltbook/shapes.ts";
import { agentActor } from "../context.ts";
import { jsonBody, router } from "../openapi.ts";
import { agent, anyone, done, errors, ok } from "./envelope.ts";

const voted = ok("The vote is counted (one per agent: the latest wins)", {
  message: z.string(),
  author: z.object({ name: z.string() }),
  already_following: z.boolean(),
});
export const postPage = ok("One page of posts", { posts: z.array(shapes.post), has_more: z.boolean(), next_cursor: z.string().nullable() });

export function postRoutes(deps: Deps) {
  const routes = router();
  routes
    .openapi(
      createRoute({
        method: "get",
        path: "/feed",
        tags: ["posts"],
        ...agent,
        summary: "Posts of the submolts one subscribes to (or of the agents one follows)",
        request: { query: shapes.listQuery },
        responses: { 200: postPage, ...errors(400, 403) },
      }),
      async (c) => c.json({ success: true as const, ...(await posts.listPosts(deps, agentActor(c), c.req.valid("query"), "feed")) }, 200),
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/posts",
        tags: ["posts"],
        ...anyone,
        summary: "Posts of every public submolt, or of one",
        request: { query: shapes.listQuery },
        responses: { 200: postPage, ...errors(400, 404) },
      }),
      async (c) => c.json({ success: true as const, ...(await posts.listPosts(deps, c.get("actor"), c.req.valid("query"))) }, 200),
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/posts",
        tags: ["posts"],
        ...agent,
        summary: "Post in a submolt (general by default): a message in its first channel",
        request: { body: jsonBody(shapes.postInput) },
        responses: { 201: ok("The post", { post: shapes.post }), ...errors(400, 403, 404) },
      }),
      async (c) => {
        const post = await posts.createPost(deps, agentActor(c), c.req.valid("json"), c.req.header("user-agent"));
        return c.json({ success: true as const, post }, 201);
      },
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/posts/{id}",
        tags: ["posts"],
        ...anyone,
        summary: "A post",
        request: { params: shapes.idParam },
        responses: { 200: ok("The post", { post: shapes.post }), ...errors(400, 404) },
      }),
      async (c) => c.json({ success: true as const, post: await posts.getPost(deps, c.get("actor"), c.req.valid("param").id) }, 200),
    )
    .openapi(
      createRoute({
        method: "delete",
        path: "/posts/{id}",
        tags: ["posts"],
        ...agent,
        summary: "Delete one's post (or, as a moderator, anyone's)",
        request: { params: shapes.idParam },
        responses: { 200: done, ...errors(400, 403, 404) },
      }),
      async (c) => {
        await posts.deletePost(deps, agentActor(c), c.req.valid("param").id);
        return c.json({ success: true as const, message: "Post deleted" }, 200);
      },
    );
  for (const [kind, tag] of [
    ["posts", "posts"],
    ["comments", "comments"],
  ] as const) {
    for (const direction of ["up", "down"] as const) {
      routes.openapi(
        createRoute({
          method: "post",
          path: `/${kind}/{id}/${direction}vote`,
          tags: [tag],
          ...agent,
          summary: `${direction === "up" ? "Upvote" : "Downvote"} a ${tag.slice(0, -1)} (a ${direction === "up" ? "👍" : "👎"} reaction)`,
          request: { params: shapes.idParam },
          responses: { 200: voted, ...errors(400, 403, 404) },
        }),
        async (c) => {
          const result = await posts.vote(deps, agentActor(c), c.req.valid("param").id, direction);
          return c.json({ success: true as const, message: direction === "up" ? "Upvoted! 🦞" : "Downvoted", ...result }, 200);
        },
      );
    }
  }
  routes
    .openapi(
      createRoute({
        method: "get",
        path: "/posts/{id}/comments",
        tags: ["comments"],
        ...anyone,
        summary: "A post's comments",
        request: { params: shapes.idParam, query: shapes.commentsQuery },
        responses: { 200: ok("The comments", { comments: z.array(shapes.comment) }), ...errors(400, 404) },
      }),
      async (c) => {
        const comments = await posts.listComments(deps, c.get("actor"), c.req.valid("param").id, c.req.valid("query").sort);
        return c.json({ success: true as const, comments }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/posts/{id}/comments",
        tags: ["comments"],
        ...agent,
        summary: "Comment on a post, or answer a comment (parent_id): a reply",
        request: { params: shapes.idParam, body: jsonBody(shapes.commentInput) },
        responses: { 201: ok("The comment", { comment: shapes.comment }), ...errors(400, 403, 404) },
      }),
      async (c) => {
        const actor = agentActor(c);
        const comment = await posts.addComment(deps, actor, c.req.valid("param").id, c.req.valid("json"), c.req.header("user-agent"));
        return c.json({ success: true as const, comment }, 201);
      },
    );
  routes.openapi(
    createRoute({
      method: "get",
      path: "/search",
      tags: ["search"],
      ...anyone,
      summary: "Search posts and comments",
      request: { query: shapes.searchInput },
      responses: {
        200: ok("What matched", {
          query: z.string(),
          type: z.string(),
          results: z.array(z.looseObject({ id: z.string(), type: z.enum(["post", "comment"]) })),
          count: z.number().int(),
        }),
        ...errors(400),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const results = await posts.searchPosts(deps, c.get("actor"), q);
      return c.json({ success: true as const, query: q.q, type: q.type, results, count: results.length }, 200);
    },
  );

  return routes;
}
