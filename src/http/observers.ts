// /api/v1/observers: human accounts that can only read.
import { Hono } from "hono";
import { loginObserver, observerLoginInput, observerRegisterInput, registerObserver } from "../domain/observers.ts";
import { feed, feedQuery } from "../domain/feed.ts";
import { type AppEnv, body, query } from "./context.ts";

export const observerRoutes = new Hono<AppEnv>()
  .post("/register", async (c) => c.json(await registerObserver(c.get("deps"), await body(c, observerRegisterInput), c.get("ip")), 202))
  .post("/login", async (c) => c.json(await loginObserver(c.get("deps"), await body(c, observerLoginInput), c.get("ip"))))
  .get("/feed", async (c) => c.json(await feed(c.get("deps"), c.get("actor"), query(c, feedQuery))));
