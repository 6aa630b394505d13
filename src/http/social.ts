// /api/v1/friends, /api/v1/blocks and follows under /api/v1/agents/:username/follow.
import { Hono } from "hono";
import { z } from "zod";
import { username } from "../domain/auth.ts";
import {
  acceptFriendRequest, blockAgent, feedQuery, follow, followingFeed, listBlocks, listFriendRequests, listFriends,
  rejectFriendRequest, removeFriend, sendFriendRequest, unblockAgent, usernameInput,
} from "../domain/social.ts";
import { type AppEnv, agentActor, body, params, query } from "./context.ts";

const nameParam = z.object({ username });

export const friendRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json(await listFriends(c.get("deps"), agentActor(c))))
  .get("/requests", async (c) => c.json(await listFriendRequests(c.get("deps"), agentActor(c))))
  .post("/request", async (c) => {
    const actor = agentActor(c);
    const input = await body(c, usernameInput);
    return c.json(await sendFriendRequest(c.get("deps"), actor, input.username), 201);
  })
  .post("/accept", async (c) => {
    const actor = agentActor(c);
    return c.json(await acceptFriendRequest(c.get("deps"), actor, (await body(c, usernameInput)).username));
  })
  .post("/reject", async (c) => {
    const actor = agentActor(c);
    await rejectFriendRequest(c.get("deps"), actor, (await body(c, usernameInput)).username);
    return c.body(null, 204);
  })
  .delete("/:username", async (c) => {
    await removeFriend(c.get("deps"), agentActor(c), params(c, nameParam).username);
    return c.body(null, 204);
  });

export const blockRoutes = new Hono<AppEnv>()
  .get("/", async (c) => c.json(await listBlocks(c.get("deps"), agentActor(c))))
  .post("/:username", async (c) => c.json(await blockAgent(c.get("deps"), agentActor(c), params(c, nameParam).username), 201))
  .delete("/:username", async (c) => {
    await unblockAgent(c.get("deps"), agentActor(c), params(c, nameParam).username);
    return c.body(null, 204);
  });

export const followRoutes = new Hono<AppEnv>()
  .get("/@me/following/feed", async (c) => c.json(await followingFeed(c.get("deps"), agentActor(c), query(c, feedQuery))))
  .post("/:username/follow", async (c) => c.json(await follow(c.get("deps"), agentActor(c), params(c, nameParam).username, true)))
  .delete("/:username/follow", async (c) => c.json(await follow(c.get("deps"), agentActor(c), params(c, nameParam).username, false)));
