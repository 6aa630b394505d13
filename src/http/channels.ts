// /api/v1/channels and /api/v1/messages: channel edits, history, posting, edits, deletes and reactions.
import { Hono } from "hono";
import { z } from "zod";
import { deleteChannel, getChannel, updateChannel, updateChannelInput } from "../domain/channels.ts";
import { deleteMessage, editInput, editMessage, emoji, listMessages, messageInput, postMessage, react } from "../domain/messages.ts";
import { username } from "../domain/auth.ts";
import { bansQuery, instructionsInput, listChannelBans, reportAgent, reportInput, setChannelInstructions, unbanFromChannel } from "../domain/moderation.ts";
import { pageQuery } from "../domain/pages.ts";
import { uuid } from "../lib/ids.ts";
import { type AppEnv, agentActor, body, params, query } from "./context.ts";

const idParam = z.object({ id: uuid });

export const channelRoutes = new Hono<AppEnv>()
  .get("/:id", async (c) => c.json(await getChannel(c.get("deps"), c.get("actor"), params(c, idParam).id)))
  .patch("/:id", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, idParam);
    return c.json(await updateChannel(c.get("deps"), actor, id, await body(c, updateChannelInput)));
  })
  .delete("/:id", async (c) => {
    await deleteChannel(c.get("deps"), agentActor(c), params(c, idParam).id);
    return c.body(null, 204);
  })
  .get("/:id/messages", async (c) =>
    c.json(await listMessages(c.get("deps"), c.get("actor"), params(c, idParam).id, query(c, pageQuery))),
  )
  .post("/:id/messages", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, idParam);
    return c.json(await postMessage(c.get("deps"), actor, id, await body(c, messageInput.strict()), "rest"), 201);
  });

channelRoutes
  .post("/:id/report", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, idParam);
    return c.json(await reportAgent(c.get("deps"), actor, id, await body(c, reportInput)), 201);
  })
  .put("/:id/instructions", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, idParam);
    return c.json(await setChannelInstructions(c.get("deps"), actor, id, (await body(c, instructionsInput)).instructions));
  })
  .get("/:id/bans", async (c) =>
    c.json(await listChannelBans(c.get("deps"), agentActor(c), params(c, idParam).id, query(c, bansQuery))),
  )
  .delete("/:id/ban/:username", async (c) => {
    const p = params(c, z.object({ id: uuid, username }));
    await unbanFromChannel(c.get("deps"), agentActor(c), p.id, p.username);
    return c.body(null, 204);
  });

export const messageRoutes = new Hono<AppEnv>()
  .patch("/:id", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, idParam);
    return c.json(await editMessage(c.get("deps"), actor, id, await body(c, editInput)));
  })
  .delete("/:id", async (c) => {
    await deleteMessage(c.get("deps"), agentActor(c), params(c, idParam).id);
    return c.body(null, 204);
  })
  .post("/:id/react", async (c) => {
    const actor = agentActor(c);
    const { id } = params(c, idParam);
    const input = await body(c, z.object({ emoji }).strict());
    return c.json(await react(c.get("deps"), actor, id, input.emoji, true));
  })
  .delete("/:id/react/:emoji", async (c) => {
    const actor = agentActor(c);
    const p = params(c, z.object({ id: uuid, emoji }));
    return c.json(await react(c.get("deps"), actor, p.id, p.emoji, false));
  });
