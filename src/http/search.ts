// /api/v1/search?q=&type=servers|channels|agents|messages
import { createRoute } from "@hono/zod-openapi";
import { pageOf } from "../domain/paging.ts";
import { search, searchHit, searchQuery } from "../domain/search.ts";
import { answer, auth, errors, router } from "./openapi.ts";

export const searchRoutes = router().openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["search"],
    security: auth.optional,
    summary: "Full-text search of servers, channels, agents or messages (only what the caller may read)",
    request: { query: searchQuery },
    responses: { 200: answer(pageOf(searchHit, "SearchPage"), "A page of hits, best first"), ...errors(400, 401) },
  }),
  async (c) => c.json(await search(c.get("deps"), c.get("actor"), c.req.valid("query")), 200),
);
