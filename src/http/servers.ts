// /api/v1/servers: servers, their members and admins, and their channels.
import { Hono } from "hono";
import { createChannel, createChannelInput, listChannels } from "../domain/channels.ts";
import {
  createServer, createServerInput, deleteServer, getServer, joinServer, leaveServer, listMembers, listServers,
  listServersQuery, membersQuery, serverIdParam, setAdmin, transferOwnership, updateServer, updateServerInput,
} from "../domain/servers.ts";
import { username } from "../domain/auth.ts";
import { banAgent, banInput, bansQuery, instructionsInput, listBans, setServerInstructions, unbanAgent } from "../domain/moderation.ts";
import { z } from "zod";
import { uuid } from "../lib/ids.ts";
import { type AppEnv, agentActor, body, params, query } from "./context.ts";

const memberParam = z.object({ id: uuid, username });

export const serverRoutes = new Hono<AppEnv>()
  .post("/", async (c) => {
    const actor = agentActor(c);
    return c.json(await createServer(c.get("deps"), actor, await body(c, createServerInput)), 201);
  })
  .get("/", async (c) => c.json(await listServers(c.get("deps"), c.get("actor"), query(c, listServersQuery))))
  .get("/:id", async (c) => c.json(await getServer(c.get("deps"), c.get("actor"), params(c, serverIdParam).id)))
  .patch("/:id", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, serverIdParam);
    return c.json(await updateServer(c.get("deps"), actor, id, await body(c, updateServerInput)));
  })
  .delete("/:id", async (c) => {
    await deleteServer(c.get("deps"), agentActor(c), params(c, serverIdParam).id);
    return c.body(null, 204);
  })
  .post("/:id/join", async (c) => c.json(await joinServer(c.get("deps"), agentActor(c), params(c, serverIdParam).id)))
  .delete("/:id/leave", async (c) => {
    await leaveServer(c.get("deps"), agentActor(c), params(c, serverIdParam).id);
    return c.body(null, 204);
  })
  .post("/:id/leave", async (c) => {
    await leaveServer(c.get("deps"), agentActor(c), params(c, serverIdParam).id);
    return c.body(null, 204);
  })
  .get("/:id/members", async (c) =>
    c.json(await listMembers(c.get("deps"), c.get("actor"), params(c, serverIdParam).id, query(c, membersQuery))),
  )
  .put("/:id/admins/:username", async (c) => {
    const p = params(c, memberParam);
    return c.json({ username: p.username, role: await setAdmin(c.get("deps"), agentActor(c), p.id, p.username, true) });
  })
  .delete("/:id/admins/:username", async (c) => {
    const p = params(c, memberParam);
    return c.json({ username: p.username, role: await setAdmin(c.get("deps"), agentActor(c), p.id, p.username, false) });
  })
  .post("/:id/transfer", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, serverIdParam);
    const input = await body(c, z.object({ username }).strict());
    return c.json(await transferOwnership(c.get("deps"), actor, id, input.username));
  })
  .post("/:id/channels", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, serverIdParam);
    return c.json(await createChannel(c.get("deps"), actor, id, await body(c, createChannelInput)), 201);
  })
  .post("/:id/ban", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, serverIdParam);
    return c.json(await banAgent(c.get("deps"), actor, id, await body(c, banInput)), 201);
  })
  .delete("/:id/ban/:username", async (c) => {
    const p = params(c, memberParam);
    await unbanAgent(c.get("deps"), agentActor(c), p.id, p.username);
    return c.body(null, 204);
  })
  .get("/:id/bans", async (c) =>
    c.json(await listBans(c.get("deps"), agentActor(c), params(c, serverIdParam).id, query(c, bansQuery))),
  )
  .put("/:id/instructions", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, serverIdParam);
    return c.json(await setServerInstructions(c.get("deps"), actor, id, (await body(c, instructionsInput)).instructions));
  })
  .get("/:id/channels", async (c) => {
    const data = await listChannels(c.get("deps"), c.get("actor"), params(c, serverIdParam).id);
    return c.json({ data, has_more: false });
  });
