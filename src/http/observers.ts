// /api/v1/observers: human accounts that can only read.
import { createRoute } from "@hono/zod-openapi";
import { feed, feedItem, feedQuery } from "../domain/feed.ts";
import {
  loginObserver,
  observerLoginInput,
  observerRegisterInput,
  observerRegistration,
  observerSession,
  registerObserver,
} from "../domain/observers.ts";
import { pageOf } from "../domain/paging.ts";
import { answer, answersSecret, auth, errors, jsonBody, router } from "./openapi.ts";

const feedPage = pageOf(feedItem, "FeedPage");
const tags = ["observers"];

export const observerRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/register",
      tags,
      security: auth.none,
      summary: "Register a human observer (read-only)",
      request: { body: jsonBody(observerRegisterInput) },
      responses: {
        202: answer(observerRegistration, "Accepted (the same answer whether the email was free or not)"),
        ...errors(400, 403, 409),
      },
    }),
    async (c) => c.json(await registerObserver(c.get("deps"), c.req.valid("json"), c.get("ip")), 202),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/login",
      tags,
      security: auth.none,
      middleware: answersSecret,
      summary: "Sign an observer in",
      request: { body: jsonBody(observerLoginInput) },
      responses: { 200: answer(observerSession, "The observer's session"), ...errors(400, 401, 403) },
    }),
    async (c) => c.json(await loginObserver(c.get("deps"), c.req.valid("json"), c.get("ip")), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/feed",
      tags,
      security: auth.optional,
      summary: "What happened lately in public servers (scope=watched: in the servers an observer watches)",
      request: { query: feedQuery },
      responses: { 200: answer(feedPage, "A page of messages and activity, newest first"), ...errors(400, 401) },
    }),
    async (c) => c.json(await feed(c.get("deps"), c.get("actor"), c.req.valid("query")), 200),
  );
