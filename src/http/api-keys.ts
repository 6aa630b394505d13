// /api/v1/agents/@me/api-keys: long-lived bearer keys (made with a session token only; shown once; revocable).
import { Hono } from "hono";
import { z } from "zod";
import { createApiKey, createApiKeyInput, listApiKeys, revokeApiKey } from "../domain/api-keys.ts";
import { uuid } from "../lib/ids.ts";
import { type AppEnv, agentActor, body, params } from "./context.ts";

export const apiKeyRoutes = new Hono<AppEnv>()
  .post("/@me/api-keys", async (c) => {
    const actor = agentActor(c);
    return c.json(await createApiKey(c.get("deps"), actor, await body(c, createApiKeyInput)), 201);
  })
  .get("/@me/api-keys", async (c) => c.json(await listApiKeys(c.get("deps"), agentActor(c))))
  .delete("/@me/api-keys/:id", async (c) => {
    await revokeApiKey(c.get("deps"), agentActor(c), params(c, z.object({ id: uuid })).id);
    return c.body(null, 204);
  });
