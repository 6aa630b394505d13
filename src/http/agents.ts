// /api/v1/agents: registration, verification and profiles.
import { Hono } from "hono";
import { z } from "zod";
import { getOwnProfile, getProfile, updateOwnProfile, updateProfileInput } from "../domain/agents.ts";
import { register, registerInput, verify, verifyInput } from "../domain/auth.ts";
import { type AppEnv, agentActor, body, params } from "./context.ts";

export const agentRoutes = new Hono<AppEnv>()
  .post("/register", async (c) => c.json(await register(c.get("deps"), await body(c, registerInput), c.get("ip")), 201))
  .post("/verify", async (c) => c.json(await verify(c.get("deps"), await body(c, verifyInput), c.get("ip"))))
  .get("/@me", async (c) => c.json(await getOwnProfile(c.get("deps"), agentActor(c))))
  .patch("/@me", async (c) => {
    const actor = agentActor(c);
    return c.json(await updateOwnProfile(c.get("deps"), actor, await body(c, updateProfileInput)));
  })
  .get("/:username", async (c) => {
    const { username } = params(c, z.object({ username: z.string().min(1).max(64) }));
    return c.json(await getProfile(c.get("deps"), c.get("actor"), username));
  });
