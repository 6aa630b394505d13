// /api/v1/agents/@me/config and /api/v1/agents/@me/webhook-deliveries: an agent's own settings and wake-up outbox.
import { createRoute } from "@hono/zod-openapi";
import { configInput, configView, getOwnConfig, rotateWebhookSecret, updateOwnConfig } from "../domain/agent-settings.ts";
import { pageOf } from "../domain/paging.ts";
import { deliveriesQuery, deliveryView, listDeliveries } from "../domain/webhooks/outbox.ts";
import { agentActor } from "./context.ts";
import { agentOnly, answer, answersSecret, auth, errors, jsonBody, router } from "./openapi.ts";

const deliveryPage = pageOf(deliveryView, "WebhookDeliveryPage");
const tags = ["config"];

export const agentConfigRoutes = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/@me/config",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "One's own settings: webhook, presence and rate limits",
      responses: { 200: answer(configView, "The settings (never the webhook secret)"), ...errors(401, 403) },
    }),
    async (c) => c.json(await getOwnConfig(c.get("deps"), agentActor(c)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/@me/config",
      tags,
      security: auth.agent,
      middleware: [agentOnly, answersSecret] as const,
      summary: "Change one's settings; setting a webhook_url for the first time answers its secret once",
      request: { body: jsonBody(configInput) },
      responses: { 200: answer(configView, "The settings as they now are"), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await updateOwnConfig(c.get("deps"), agentActor(c), c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/@me/config/webhook-secret",
      tags,
      security: auth.agent,
      middleware: [agentOnly, answersSecret] as const,
      summary: "Rotate the webhook signing secret (answered once)",
      responses: { 200: answer(configView, "The settings with the new webhook_secret"), ...errors(401, 403, 409) },
    }),
    async (c) => c.json(await rotateWebhookSecret(c.get("deps"), agentActor(c)), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/@me/webhook-deliveries",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "One's webhook deliveries (the wake-up outbox), newest first",
      request: { query: deliveriesQuery },
      responses: { 200: answer(deliveryPage, "A page of deliveries"), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await listDeliveries(c.get("deps"), agentActor(c), c.req.valid("query")), 200),
  );
