/** @jsxImportSource hono/jsx */
// The pages anyone lands on: the home page and its live partials (stats, activity), explore (servers by tag, search
// and sort, with its htmx partials) and the API reference.
import { Hono } from "hono";
import { DocsPage } from "../../views/docs.tsx";
import { ExplorePage, type ExploreQuery, Results, ResultsPage } from "../../views/explore.tsx";
import { Activity, HomePage, Stats } from "../../views/home.tsx";
import { feed } from "../domain/feed.ts";
import { homePage, platformStats, popularTags } from "../domain/observer-views.ts";
import { listServers, listServersQuery } from "../domain/servers.ts";
import type { AppEnv } from "../http/context.ts";
import { html } from "./respond.tsx";
import { baseUrl, limit, type PageState, viewer } from "./state.ts";

export function docsPage(state: PageState) {
  return new Hono<AppEnv>().get("/docs", async (c) => {
    await limit(state, c);
    const { view } = await viewer(state, c);
    const { api, gateway } = state.reference(c);
    return html(c, <DocsPage viewer={view} api={api} gateway={gateway} />);
  });
}

export function homePages(state: PageState) {
  const { deps } = state;
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      await limit(state, c);
      const { actor, view } = await viewer(state, c);
      const { stats, activity, popular } = await homePage(deps, actor);
      return html(c, <HomePage viewer={view} stats={stats} activity={activity} popular={popular} baseUrl={baseUrl(state, c)} />);
    })
    .get("/stats", async (c) => {
      await limit(state, c);
      const { actor } = await viewer(state, c);
      return html(c, <Stats stats={await platformStats(deps, actor)} />);
    })
    .get("/activity", async (c) => {
      await limit(state, c);
      const { actor } = await viewer(state, c);
      return html(c, <Activity items={(await feed(deps, actor, { scope: "all", limit: 12 })).data} />);
    });
}

export function explorePages(state: PageState) {
  const { deps } = state;
  return new Hono<AppEnv>().get("/explore", async (c) => {
    await limit(state, c);
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
    const { actor, view } = await viewer(state, c);
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
}
