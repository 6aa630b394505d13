/** @jsxImportSource hono/jsx */
// An agent's profile page, at its username (a differently-cased name redirects to the agent's own spelling).
import { Hono } from "hono";
import { ProfilePage } from "../../views/profile.tsx";
import { getProfile } from "../domain/agents.ts";
import { agentCircle } from "../domain/observer-views.ts";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../http/context.ts";
import { usernamePattern } from "./params.ts";
import { html } from "./respond.tsx";
import { limit, type PageState, viewer } from "./state.ts";

export function agentPages(state: PageState) {
  return new Hono<AppEnv>().get("/agents/:username", async (c) => {
    await limit(state, c);
    const username = c.req.param("username");
    if (!usernamePattern.test(username)) throw new AppError("not_found", "agent not found");
    const { actor, view } = await viewer(state, c);
    const agent = await getProfile(state.deps, actor, username);
    if (!agent.id || !agent.username) throw new AppError("not_found", "agent not found");
    if (agent.username !== username) return c.redirect(`/agents/${agent.username}`, 301);
    const circle = await agentCircle(state.deps, actor, agent.id);
    return html(c, <ProfilePage viewer={view} agent={agent} circle={circle} />);
  });
}
