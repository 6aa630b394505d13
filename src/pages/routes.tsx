/** @jsxImportSource hono/jsx */
// The observer web UI: server-rendered pages and their htmx partials, the live stream, observer sessions, static
// files. Every read goes through domain functions as the anonymous visitor or the signed-in observer, so row-level
// security applies to every page query. Nothing here can post, react or moderate.
import { type Context, Hono } from "hono";
import type { Child } from "hono/jsx";
import { AuthPage, FeedPage, type FormState } from "../../views/account.tsx";
import { ChannelPage, channelPath, EmptyServerPage, History } from "../../views/channel.tsx";
import { DocsPage } from "../../views/docs.tsx";
import { ErrorPage } from "../../views/errors.tsx";
import { ExplorePage, type ExploreQuery, Results, ResultsPage } from "../../views/explore.tsx";
import { Activity, HomePage, Stats } from "../../views/home.tsx";
import { assetVersion, type Viewer } from "../../views/layout.tsx";
import { ProfilePage } from "../../views/profile.tsx";
import { staticFile } from "../build/embedded.ts";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { getProfile } from "../domain/agents.ts";
import { getChannel } from "../domain/channels.ts";
import { feed } from "../domain/feed.ts";
import {
  agentCircle,
  channelPage,
  historyPage,
  homePage,
  listWatches,
  observerProfile,
  platformStats,
  popularTags,
  serverPage,
  unwatchServer,
  watchServer,
} from "../domain/observer-views.ts";
import { loginObserver, observerLoginInput, observerRegisterInput, registerObserver } from "../domain/observers.ts";
import { listServers, listServersQuery } from "../domain/servers.ts";
import { AppError, isOutage } from "../errors.ts";
import type { Fanout } from "../fanout.ts";
import type { AppEnv } from "../http/context.ts";
import { checkCsrf, csrfToken, endSession, startSession, viewerOf } from "./session.ts";
import { channelStream } from "./stream.tsx";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const usernamePattern = /^[a-zA-Z0-9_]{3,32}$/;

/** Strict: scripts and styles only from /static (no inline code, no eval), images from http(s), nothing framed. */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: http:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

function html(c: Context, node: Child, status = 200): Response {
  c.header("Content-Security-Policy", contentSecurityPolicy);
  c.header("X-Frame-Options", "DENY");
  c.header("Cache-Control", "private, no-cache");
  c.header("Vary", "Cookie, HX-Request, HX-Target");
  const partial = c.req.header("hx-request") === "true" && c.req.header("hx-boosted") !== "true" && status === 200;
  return c.html(`${partial ? "" : "<!doctype html>"}${String(node)}`, status as 200);
}

/** Only paths of this site: never `//evil.example` or a full URL, so `next` cannot redirect elsewhere. */
const localPath = (next: unknown, fallback = "/") =>
  typeof next === "string" && /^\/(?![/\\])[^\s]*$/.test(next) && next.length < 512 ? next : fallback;

const id = (c: Context, name: string) => {
  const value = c.req.param(name);
  if (!value || !uuidPattern.test(value)) throw new AppError("not_found", "not found");
  return value.toLowerCase();
};

/** The API's own descriptions, for the reference page. */
export type Reference = (c: Context) => { api: Record<string, any>; gateway: Record<string, any> };

export function pageRoutes(deps: Deps, fanout: Fanout, reference: Reference) {
  const stream = channelStream(deps, fanout);
  /** The URL agents reach this server at: the configured public URL, else this request's origin. */
  const baseUrl = (c: Context) => (deps.config.publicUrl ?? new URL(c.req.url).origin).replace(/\/+$/, "");

  async function viewer(c: Context, options: { csrf?: boolean } = {}): Promise<{ actor: Actor; view: Viewer }> {
    const who = await viewerOf(c, deps);
    const [observer, watches] = who.observerId
      ? await Promise.all([observerProfile(deps, who.actor), listWatches(deps, who.actor)])
      : [undefined, []];
    if (who.observerId && !observer) {
      // The account is gone: read on as anonymous.
      endSession(c);
      return { actor: { role: "anonymous" }, view: { watches: [], csrf: options.csrf ? csrfToken(c, deps) : "" } };
    }
    const csrf = observer || options.csrf ? csrfToken(c, deps) : "";
    return { actor: who.actor, view: { observer, watches, csrf } };
  }

  /** Page views count against the per-address limit for callers without a token. */
  async function limit(c: Context, name = "pages", max = deps.config.limits.anonymousPerMinute) {
    const verdict = await deps.limiter.hit({ name, max, windowSeconds: 60 }, (c as Context<AppEnv>).get("ip") ?? "unknown");
    if (!verdict.allowed) throw new AppError("rate_limited", "too many requests", undefined, verdict.resetSeconds);
  }

  const app = new Hono<AppEnv>();

  app.onError(async (err, c) => {
    const outage = !(err instanceof AppError) && isOutage(err);
    const status =
      err instanceof AppError ? (err.code === "validation_failed" || err.code === "bad_request" ? 404 : err.status) : outage ? 503 : 500;
    if (outage) c.header("Retry-After", "5");
    else if (!(err instanceof AppError)) {
      console.error(
        `${c.req.method} ${new URL(c.req.url).pathname} failed: ${(err as Error)?.name}: ${String((err as Error)?.message)
          .split("\n")[0]
          .slice(0, 300)}`,
      );
    }
    if (err instanceof AppError && err.retryAfter !== undefined) c.header("Retry-After", String(err.retryAfter));
    const view = await viewer(c)
      .then((v) => v.view)
      .catch((): Viewer => ({ watches: [], csrf: "" }));
    return html(
      c,
      <ErrorPage viewer={view} status={status} message={status < 500 && err instanceof AppError ? err.message : undefined} />,
      status,
    );
  });

  // ------------------------------------------------------------ static files (embedded in the binary)

  const serveStatic = (c: Context, path: string) => {
    const file = staticFile(path);
    if (!file) throw new AppError("not_found", "no such file");
    const versioned = c.req.query("v") === assetVersion;
    return new Response(file, {
      headers: {
        "Content-Type": file.type,
        "Cache-Control": versioned ? "public, max-age=31536000, immutable" : "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
      },
    });
  };
  app.get("/static/*", (c) => serveStatic(c, decodeURIComponent(new URL(c.req.url).pathname.slice("/static/".length))));
  app.get("/favicon.ico", (c) => serveStatic(c, "favicon.svg"));

  // ------------------------------------------------------------ the API reference

  app.get("/docs", async (c) => {
    await limit(c);
    const { view } = await viewer(c);
    const { api, gateway } = reference(c);
    return html(c, <DocsPage viewer={view} api={api} gateway={gateway} />);
  });
  app.get("/robots.txt", (c) => c.text("User-agent: *\nDisallow: /servers/*/events\n"));

  // ------------------------------------------------------------ home

  app.get("/", async (c) => {
    await limit(c);
    const { actor, view } = await viewer(c);
    const { stats, activity, popular } = await homePage(deps, actor);
    return html(c, <HomePage viewer={view} stats={stats} activity={activity} popular={popular} baseUrl={baseUrl(c)} />);
  });

  app.get("/stats", async (c) => {
    await limit(c);
    const { actor } = await viewer(c);
    return html(c, <Stats stats={await platformStats(deps, actor)} />);
  });

  app.get("/activity", async (c) => {
    await limit(c);
    const { actor } = await viewer(c);
    return html(c, <Activity items={(await feed(deps, actor, { scope: "all", limit: 12 })).data} />);
  });

  // ------------------------------------------------------------ explore

  app.get("/explore", async (c) => {
    await limit(c);
    const raw = c.req.query();
    const parsed = listServersQuery.safeParse({
      sort: raw.sort || undefined,
      tag: raw.tag || undefined,
      q: raw.q?.trim() || undefined,
      before: raw.before || undefined,
      limit: 24,
    });
    const q = parsed.success ? parsed.data : listServersQuery.parse({ limit: 24 });
    const query: ExploreQuery = { q: q.q, tag: q.tag, sort: q.sort };
    const { actor, view } = await viewer(c);
    const target = c.req.header("hx-request") === "true" ? c.req.header("hx-target") : undefined;
    if (target === "more") {
      const page = await listServers(deps, actor, q);
      return html(c, <ResultsPage query={query} servers={page.data} hasMore={page.has_more} />);
    }
    if (target === "results") {
      const page = await listServers(deps, actor, { ...q, before: undefined });
      return html(c, <Results query={query} servers={page.data} hasMore={page.has_more} />);
    }
    const [page, tags] = await Promise.all([listServers(deps, actor, q), popularTags(deps, actor)]);
    return html(
      c,
      <ExplorePage viewer={view} query={query} tags={tags} servers={page.data} hasMore={page.has_more} paged={Boolean(q.before)} />,
    );
  });

  // ------------------------------------------------------------ servers and channels

  app.get("/servers/:id", async (c) => {
    await limit(c);
    const serverId = id(c, "id");
    const { actor, view } = await viewer(c);
    const { server, channels } = await serverPage(deps, actor, serverId);
    const first = channels.find((ch) => ch.name === "general") ?? channels[0];
    if (first) return c.redirect(channelPath(server.id, first.id), 302);
    return html(c, <EmptyServerPage viewer={view} server={server} baseUrl={baseUrl(c)} />);
  });

  app.get("/servers/:id/channels/:channelId", async (c) => {
    await limit(c);
    const serverId = id(c, "id");
    const channelId = id(c, "channelId");
    const beforeParam = c.req.query("before");
    const before = beforeParam && uuidPattern.test(beforeParam) ? beforeParam.toLowerCase() : undefined;
    const { actor, view } = await viewer(c);
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
        baseUrl={baseUrl(c)}
        watched={view.watches.some((w) => w.id === server.id)}
        before={before}
      />,
    );
  });

  /** The page of history before `before`: what the sentinel at the top of the chat loads on scroll-up. */
  app.get("/servers/:id/channels/:channelId/messages", async (c) => {
    await limit(c);
    const serverId = id(c, "id");
    const channelId = id(c, "channelId");
    const before = c.req.query("before");
    if (!before || !uuidPattern.test(before)) throw new AppError("not_found", "not found");
    const { actor } = await viewer(c);
    const { channel, history, quotes } = await historyPage(deps, actor, serverId, channelId, before.toLowerCase());
    return html(c, <History serverId={serverId} channel={channel} messages={history.data} hasMore={history.has_more} quotes={quotes} />);
  });

  app.get("/servers/:id/channels/:channelId/events", async (c) => {
    await limit(c, "page_streams");
    const serverId = id(c, "id");
    const channelId = id(c, "channelId");
    const { actor } = await viewer(c);
    const channel = await getChannel(deps, actor, channelId);
    if (channel.server_id !== serverId) throw new AppError("not_found", "channel not found");
    return stream(c, actor, serverId, channelId, (c as Context<AppEnv>).get("ip") ?? "unknown");
  });

  async function watchForm(c: Context, watch: boolean) {
    const serverId = id(c, "id");
    const form = await c.req.parseBody();
    checkCsrf(c, deps, form.csrf);
    const { actor, view } = await viewer(c);
    const next = localPath(form.next, `/servers/${serverId}`);
    if (!view.observer) return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
    if (watch) await watchServer(deps, actor, serverId);
    else await unwatchServer(deps, actor, serverId);
    return c.redirect(next, 303);
  }
  app.post("/servers/:id/watch", (c) => watchForm(c, true));
  app.post("/servers/:id/unwatch", (c) => watchForm(c, false));

  // ------------------------------------------------------------ agents

  app.get("/agents/:username", async (c) => {
    await limit(c);
    const username = c.req.param("username");
    if (!usernamePattern.test(username)) throw new AppError("not_found", "agent not found");
    const { actor, view } = await viewer(c);
    const agent = await getProfile(deps, actor, username);
    if (!agent.id || !agent.username) throw new AppError("not_found", "agent not found");
    if (agent.username !== username) return c.redirect(`/agents/${agent.username}`, 301);
    const circle = await agentCircle(deps, actor, agent.id);
    return html(c, <ProfilePage viewer={view} agent={agent} circle={circle} />);
  });

  // ------------------------------------------------------------ observer accounts

  const authPage = (mode: "login" | "register") => async (c: Context) => {
    await limit(c);
    const { view } = await viewer(c, { csrf: true });
    const next = localPath(c.req.query("next"));
    if (view.observer) return c.redirect(next === "/" ? "/feed" : next, 303);
    return html(c, <AuthPage viewer={view} mode={mode} state={{ next }} />);
  };
  app.get("/login", authPage("login"));
  app.get("/register", authPage("register"));

  const authSubmit = (mode: "login" | "register") => async (c: Context) => {
    await limit(c, "observer_forms", Math.min(20, deps.config.limits.anonymousPerMinute));
    const form = await c.req.parseBody();
    checkCsrf(c, deps, form.csrf);
    const ip = (c as Context<AppEnv>).get("ip") ?? "unknown";
    const next = localPath(form.next);
    const fields = { email: String(form.email ?? ""), display_name: String(form.display_name ?? "") };
    const input =
      mode === "login"
        ? observerLoginInput.safeParse({ email: form.email, password: form.password })
        : observerRegisterInput.safeParse({
            email: form.email,
            password: form.password,
            display_name: fields.display_name.trim() || undefined,
          });
    let error: string | undefined;
    let status = 400;
    if (!input.success) {
      const issue = input.error.issues[0];
      error = `${issue.path.join(".") === "display_name" ? "Display name" : issue.path[0] === "password" ? "Password" : "Email"}: ${issue.message}`;
    } else {
      try {
        // Registering answers the same whether or not the email had an account; signing in with it tells them apart
        // only to whoever holds that account's password.
        if (mode === "register") await registerObserver(deps, input.data as never, ip);
        const session = await loginObserver(deps, { email: input.data.email, password: input.data.password }, ip);
        startSession(c, deps, session.token, session.expires_in);
        return c.redirect(next === "/" ? "/feed" : next, 303);
      } catch (e) {
        if (!(e instanceof AppError) || e.status >= 500) throw e;
        error =
          mode === "register" && e.code === "unauthorized"
            ? "Could not sign you in with this email and password. If you already have an account, log in instead."
            : e.message[0].toUpperCase() + e.message.slice(1) + ".";
        status = e.status;
      }
    }
    const { view } = await viewer(c, { csrf: true });
    return html(c, <AuthPage viewer={view} mode={mode} state={{ error, fields, next }} />, status);
  };
  app.post("/login", authSubmit("login"));
  app.post("/register", authSubmit("register"));

  app.post("/logout", async (c) => {
    const form = await c.req.parseBody();
    checkCsrf(c, deps, form.csrf);
    endSession(c);
    return c.redirect("/", 303);
  });

  app.get("/feed", async (c) => {
    await limit(c);
    const { actor, view } = await viewer(c);
    if (!view.observer) return c.redirect("/login?next=/feed", 303);
    const beforeParam = c.req.query("before");
    const before = beforeParam && uuidPattern.test(beforeParam) ? beforeParam.toLowerCase() : undefined;
    const page = await feed(deps, actor, { scope: "watched", limit: 30, before });
    return html(c, <FeedPage viewer={view} watches={view.watches} items={page.data} hasMore={page.has_more} />);
  });

  /** The designed 404, for app.notFound (paths outside the API that nothing answers). */
  async function notFound(c: Context): Promise<Response> {
    const view = await viewer(c)
      .then((v) => v.view)
      .catch((): Viewer => ({ watches: [], csrf: "" }));
    return html(c, <ErrorPage viewer={view} status={404} />, 404);
  }

  return { routes: app, notFound };
}
