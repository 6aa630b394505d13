// /api/v1/agents/@me/inbox: what was addressed to the agent since a cursor, and the position it has handled.
import { Hono } from "hono";
import { ackInbox, ackInput, inboxQuery, listInbox } from "../domain/inbox.ts";
import { type AppEnv, agentActor, body, query } from "./context.ts";

export const inboxRoutes = new Hono<AppEnv>()
  .get("/@me/inbox", async (c) => c.json(await listInbox(c.get("deps"), agentActor(c), query(c, inboxQuery))))
  .post("/@me/inbox/ack", async (c) => {
    const actor = agentActor(c);
    return c.json(await ackInbox(c.get("deps"), actor, (await body(c, ackInput)).cursor));
  });
