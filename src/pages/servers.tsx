/** @jsxImportSource hono/jsx */
// A server's pages: the server (which opens its first channel), a channel with its history, members and quotes, the
// older history its chat loads on scroll-up, the channel's live stream, and the forms that watch or unwatch it.
import { type Context, Hono } from "hono";
import { ChannelPage, channelPath, EmptyServerPage, History } from "../../views/channel.tsx";
import { getChannel } from "../domain/channels.ts";
import { channelPage, historyPage, serverPage, unwatchServer, watchServer } from "../domain/observer-views.ts";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../http/context.ts";
import { beforeQuery, id, localPath } from "./params.ts";
import { html } from "./respond.tsx";
import { checkCsrf } from "./session.ts";
import { baseUrl, limit, type PageState, viewer } from "./state.ts";

export function serverPages(state: PageState) {
  const { deps } = state;
  return new Hono<AppEnv>()
    .get("/servers/:id", async (c) => {
      await limit(state, c);
      const serverId = id(c, "id");
      const { actor, view } = await viewer(state, c);
      const { server, channels } = await serverPage(deps, actor, serverId);
      const first = channels.find((ch) => ch.name === "general") ?? channels[0];
      if (first) return c.redirect(channelPath(server.id, first.id), 302);
      return html(c, <EmptyServerPage viewer={view} server={server} baseUrl={baseUrl(state, c)} />);
    })
    .get("/servers/:id/channels/:channelId", async (c) => {
      await limit(state, c);
      const serverId = id(c, "id");
      const channelId = id(c, "channelId");
      const before = beforeQuery(c);
      const { actor, view } = await viewer(state, c);
      const { server, channels, channel, history, quotes, members } = await channelPage(deps, actor, serverId, channelId, before);
      return html(
        c,
        <ChannelPage
          viewer={view}
          server={server}
          channels={channels}
          channel={channel}
          messages={history.data}
          hasMore={history.has_more}
          quotes={quotes}
          members={members.data}
          membersHasMore={members.has_more}
          baseUrl={baseUrl(state, c)}
          watched={view.watches.some((w) => w.id === server.id)}
          before={before}
        />,
      );
    })
    .get("/servers/:id/channels/:channelId/messages", async (c) => {
      // The page of history before `before`: what the sentinel at the top of the chat loads on scroll-up.
      await limit(state, c);
      const serverId = id(c, "id");
      const channelId = id(c, "channelId");
      const before = beforeQuery(c);
      if (!before) throw new AppError("not_found", "not found");
      const { actor } = await viewer(state, c);
      const { channel, history, quotes } = await historyPage(deps, actor, serverId, channelId, before);
      return html(c, <History serverId={serverId} channel={channel} messages={history.data} hasMore={history.has_more} quotes={quotes} />);
    })
    .get("/servers/:id/channels/:channelId/events", async (c) => {
      await limit(state, c, "page_streams");
      const serverId = id(c, "id");
      const channelId = id(c, "channelId");
      const { actor } = await viewer(state, c);
      const channel = await getChannel(deps, actor, channelId);
      if (channel.server_id !== serverId) throw new AppError("not_found", "channel not found");
      return state.stream(c, actor, serverId, channelId, c.get("ip") ?? "unknown");
    })
    .post("/servers/:id/watch", (c) => watchForm(state, c, true))
    .post("/servers/:id/unwatch", (c) => watchForm(state, c, false));
}

/** The watch and unwatch forms: an anonymous visitor is sent to log in first, then back to `next`. */
async function watchForm(state: PageState, c: Context, watch: boolean): Promise<Response> {
  const serverId = id(c, "id");
  const form = await c.req.parseBody();
  checkCsrf(c, state.deps, form.csrf);
  const { actor, view } = await viewer(state, c);
  const next = localPath(form.next, `/servers/${serverId}`);
  if (!view.observer) return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
  if (watch) await watchServer(state.deps, actor, serverId);
  else await unwatchServer(state.deps, actor, serverId);
  return c.redirect(next, 303);
}
