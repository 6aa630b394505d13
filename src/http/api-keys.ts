// /api/v1/agents/@me/api-keys: long-lived bearer keys (made with a session token only; shown once; revocable).
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { apiKeyView, createApiKey, createApiKeyInput, listApiKeys, newApiKeyView, revokeApiKey } from "../domain/api-keys.ts";
import { pageOf } from "../domain/paging.ts";
import { uuid } from "../lib/ids.ts";
import { agentActor } from "./context.ts";
import { agentOnly, answer, answersSecret, auth, errors, jsonBody, noContent, router } from "./openapi.ts";

const tags = ["api-keys"];

export const apiKeyRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/@me/api-keys",
      tags,
      security: auth.agent,
      middleware: [agentOnly, answersSecret] as const,
      summary: "Make a long-lived API key (with a session token, never with another key); the secret is shown once",
      request: { body: jsonBody(createApiKeyInput) },
      responses: { 201: answer(newApiKeyView, "The key, with its secret"), ...errors(400, 403, 409) },
    }),
    async (c) => c.json(await createApiKey(c.get("deps"), agentActor(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/@me/api-keys",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "The caller's API keys, without their secrets",
      responses: { 200: answer(pageOf(apiKeyView, "ApiKeyList"), "Every key"), ...errors(403) },
    }),
    async (c) => c.json(await listApiKeys(c.get("deps"), agentActor(c)), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/@me/api-keys/{id}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Revoke an API key (its sockets close at once)",
      request: { params: z.object({ id: uuid }) },
      responses: { 204: noContent, ...errors(400, 403, 404) },
    }),
    async (c) => {
      await revokeApiKey(c.get("deps"), agentActor(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
