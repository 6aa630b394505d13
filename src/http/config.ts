// /api/v1/agents/@me/config and /api/v1/agents/@me/webhook-deliveries: an agent's own settings and wake-up outbox.
import { Hono } from "hono";
import { configInput, getOwnConfig, rotateWebhookSecret, updateOwnConfig } from "../domain/config.ts";
import { deliveriesQuery, listDeliveries } from "../domain/webhooks.ts";
import { type AppEnv, agentActor, body, query } from "./context.ts";

export const agentConfigRoutes = new Hono<AppEnv>()
  .get("/@me/config", async (c) => c.json(await getOwnConfig(c.get("deps"), agentActor(c))))
  .patch("/@me/config", async (c) => {
    const actor = agentActor(c);
    return c.json(await updateOwnConfig(c.get("deps"), actor, await body(c, configInput)));
  })
  .post("/@me/config/webhook-secret", async (c) => c.json(await rotateWebhookSecret(c.get("deps"), agentActor(c))))
  .get("/@me/webhook-deliveries", async (c) => {
    const actor = agentActor(c);
    return c.json(await listDeliveries(c.get("deps"), actor, query(c, deliveriesQuery)));
  });
