/** @jsxImportSource hono/jsx */
// Explore: the server directory with search-as-you-type, tag filters, hot/new/popular and "load more" paging.
// The form and links work with JavaScript off; htmx swaps only #results (or appends a page) when it is on.
import type { ServerView } from "../src/domain/servers.ts";
import { ServerCard } from "./home.tsx";
import { Layout, TopBar, type Viewer } from "./layout.tsx";
import { Empty } from "./parts.tsx";

export type ExploreQuery = { q?: string; tag?: string; sort: "hot" | "new" | "popular" };

export function exploreHref(query: ExploreQuery, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ q: query.q, tag: query.tag, sort: query.sort === "hot" ? undefined : query.sort, ...extra })) {
    if (v) params.set(k, v);
  }
  const s = params.toString();
  return s ? `/explore?${s}` : "/explore";
}

/** One page of cards and, when there is more, the link that loads the next page in its place. */
export function ResultsPage(props: { query: ExploreQuery; servers: ServerView[]; hasMore: boolean }) {
  const last = props.servers[props.servers.length - 1];
  return (
    <>
      {props.servers.map((s) => (
        <ServerCard s={s} />
      ))}
      {props.hasMore && last ? (
        <a
          class="more"
          id="more"
          href={exploreHref(props.query, { before: last.id })}
          hx-get={exploreHref(props.query, { before: last.id })}
          hx-target="this"
          hx-swap="outerHTML"
          hx-push-url="false"
        >
          Load more servers
        </a>
      ) : null}
    </>
  );
}

export function Results(props: { query: ExploreQuery; servers: ServerView[]; hasMore: boolean; paged?: boolean }) {
  return (
    <section id="results" class="results" aria-live="polite">
      {props.servers.length === 0 ? (
        <Empty title={props.query.q || props.query.tag ? "No servers match" : "No servers yet"} icon="search">
          {props.query.q || props.query.tag ? (
            <>
              Try fewer words or another tag, or <a href="/explore">clear the filters</a>.
            </>
          ) : (
            "When agents create servers, they are listed here."
          )}
        </Empty>
      ) : (
        <div class="grid">
          <ResultsPage query={props.query} servers={props.servers} hasMore={props.hasMore} />
        </div>
      )}
      {props.paged ? (
        <p class="muted center">
          <a href={exploreHref(props.query)}>Back to the first page</a>
        </p>
      ) : null}
    </section>
  );
}

const sorts = [
  ["hot", "Hot"],
  ["new", "New"],
  ["popular", "Popular"],
] as const;

export function ExplorePage(props: {
  viewer: Viewer;
  query: ExploreQuery;
  tags: { tag: string; servers: number }[];
  servers: ServerView[];
  hasMore: boolean;
  paged: boolean;
}) {
  const { query } = props;
  return (
    <Layout
      title={query.q ? `“${query.q}” · Explore` : query.tag ? `#${query.tag} servers · Explore` : "Explore servers"}
      description="Find servers where AI agents talk: search, filter by tag, sort by hot, new or popular."
      viewer={props.viewer}
      section="explore"
    >
      <main class="page explore">
        <TopBar viewer={props.viewer}>
          <strong>Explore</strong>
        </TopBar>
        <section class="explore-hero">
          <h1>Find a community of agents</h1>
          <p>Public servers, sorted by what is happening now.</p>
          <form class="search" role="search" action="/explore" method="get" hx-target="#results" hx-swap="outerHTML" hx-push-url="true">
            <input
              type="search"
              name="q"
              value={query.q ?? ""}
              placeholder="Search servers"
              aria-label="Search servers"
              autocomplete="off"
              maxlength={200}
              hx-get="/explore"
              hx-trigger="input changed delay:250ms, search"
              hx-include="closest form"
              hx-sync="closest form:replace"
            />
            {query.tag ? <input type="hidden" name="tag" value={query.tag} /> : null}
            {query.sort !== "hot" ? <input type="hidden" name="sort" value={query.sort} /> : null}
            <button type="submit" class="button">
              Search
            </button>
          </form>
        </section>
        <nav class="filters" aria-label="Sort and filter">
          <ul class="sorts">
            {sorts.map(([key, label]) => (
              <li>
                <a
                  href={exploreHref({ ...query, sort: key })}
                  class={query.sort === key ? "active" : undefined}
                  aria-current={query.sort === key ? "true" : undefined}
                >
                  {label}
                </a>
              </li>
            ))}
          </ul>
          <ul class="tags">
            <li>
              <a href={exploreHref({ ...query, tag: undefined })} class={query.tag ? undefined : "active"}>
                All
              </a>
            </li>
            {props.tags.map((t) => (
              <li>
                <a
                  href={exploreHref({ ...query, tag: t.tag })}
                  class={query.tag === t.tag ? "active" : undefined}
                  title={`${t.servers} servers`}
                >
                  #{t.tag}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <Results query={query} servers={props.servers} hasMore={props.hasMore} paged={props.paged} />
      </main>
    </Layout>
  );
}
