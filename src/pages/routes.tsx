// The observer web UI: server-rendered pages and their htmx partials, the live stream, observer sessions, static
// files. Every read goes through domain functions as the anonymous visitor or the signed-in observer, so row-level
// security applies to every page query. Nothing here can post, react or moderate.
//
// One router per resource (static.ts, home.tsx, servers.tsx, agents.tsx, accounts.tsx), mounted here over one
// `PageState` (state.ts); how pages answer and fail is respond.tsx.
import type { Context } from "hono";
import { Hono } from "hono";
import type { Deps } from "../deps.ts";
import type { Fanout } from "../fanout.ts";
import type { AppEnv } from "../http/context.ts";
import { accountPages } from "./accounts.tsx";
import { agentPages } from "./agents.tsx";
import { docsPage, explorePages, homePages } from "./home.tsx";
import { errorPage, notFoundPage } from "./respond.tsx";
import { serverPages } from "./servers.tsx";
import { pageState, type Reference } from "./state.ts";
import { robots, staticFiles } from "./static.ts";

export function pageRoutes(deps: Deps, fanout: Fanout, reference: Reference) {
  const state = pageState(deps, fanout, reference);
  const app = new Hono<AppEnv>()
    .route("/", staticFiles)
    .route("/", docsPage(state))
    .route("/", robots)
    .route("/", homePages(state))
    .route("/", explorePages(state))
    .route("/", serverPages(state))
    .route("/", agentPages(state))
    .route("/", accountPages(state));
  app.onError(errorPage(state));
  return { routes: app, notFound: (c: Context) => notFoundPage(state, c) };
}
