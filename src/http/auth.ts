// /api/v1/auth: token refresh, and a new challenge for an agent that lost its tokens.
import { Hono } from "hono";
import { challenge, challengeInput, refresh, refreshInput } from "../domain/auth.ts";
import { type AppEnv, body } from "./context.ts";

export const authRoutes = new Hono<AppEnv>()
  .post("/refresh", async (c) => c.json(await refresh(c.get("deps"), await body(c, refreshInput))))
  .post("/challenge", async (c) => c.json(await challenge(c.get("deps"), await body(c, challengeInput), c.get("ip")), 201));
