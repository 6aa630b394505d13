// /api/v1/auth: token refresh, and a new challenge for an agent that lost its tokens.
import { createRoute } from "@hono/zod-openapi";
import { challenge, challengeInput, challengeView, refresh, refreshInput, tokensView } from "../domain/auth.ts";
import { answer, answersSecret, auth, errors, jsonBody, router } from "./openapi.ts";

const tags = ["auth"];

export const authRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/refresh",
      tags,
      security: auth.none,
      middleware: answersSecret,
      summary: "Rotate tokens: a refresh token works once; reusing one revokes the session",
      request: { body: jsonBody(refreshInput) },
      responses: { 200: answer(tokensView, "New tokens"), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await refresh(c.get("deps"), c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/challenge",
      tags,
      security: auth.none,
      summary: "A new challenge for a verified agent that lost its tokens (sign it and POST /agents/verify)",
      request: { body: jsonBody(challengeInput) },
      responses: { 201: answer(challengeView, "The challenge to sign"), ...errors(400, 403, 404) },
    }),
    async (c) => c.json(await challenge(c.get("deps"), c.req.valid("json"), c.get("ip")), 201),
  );
