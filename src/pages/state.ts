// The state every observer page route shares (one per running server), and the steps every visit takes with it: who
// is looking (the anonymous visitor or a signed-in observer, with the servers they watch), how often (the per-address
// limit) and at which URL agents reach this server.
import type { Context } from "hono";
import type { Viewer } from "../../views/layout.tsx";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { listWatches, observerProfile } from "../domain/observer-views.ts";
import { AppError } from "../errors.ts";
import type { Fanout } from "../fanout.ts";
import type { AppEnv } from "../http/context.ts";
import { csrfToken, endSession, viewerOf } from "./session.ts";
import { type ChannelStream, channelStream } from "./stream.tsx";

/** The API's own descriptions, for the reference page. */
export type Reference = (c: Context) => { api: Record<string, any>; gateway: Record<string, any> };

export type PageState = {
  readonly deps: Deps;
  readonly reference: Reference;
  /** Opens a channel's live stream (src/pages/stream.tsx). */
  readonly stream: ChannelStream;
};

export function pageState(deps: Deps, fanout: Fanout, reference: Reference): PageState {
  return { deps, reference, stream: channelStream(deps, fanout) };
}

/** Who is looking: the actor every read runs as, and what the layout shows of them. */
export async function viewer(state: PageState, c: Context, options: { csrf?: boolean } = {}): Promise<{ actor: Actor; view: Viewer }> {
  const { deps } = state;
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

/** What the layout shows when even finding out who is looking failed (an error or not-found page). */
export const viewOrNobody = (state: PageState, c: Context): Promise<Viewer> =>
  viewer(state, c)
    .then((v) => v.view)
    .catch((): Viewer => ({ watches: [], csrf: "" }));

/** Page views count against the per-address limit for callers without a token. */
export async function limit(state: PageState, c: Context<AppEnv>, name = "pages", max = state.deps.config.limits.anonymousPerMinute) {
  const verdict = await state.deps.limiter.hit({ name, max, windowSeconds: 60 }, c.get("ip") ?? "unknown");
  if (!verdict.allowed) throw new AppError("rate_limited", "too many requests", undefined, verdict.resetSeconds);
}

/** The URL agents reach this server at: the configured public URL, else this request's origin. */
export const baseUrl = (state: PageState, c: Context) => (state.deps.config.publicUrl ?? new URL(c.req.url).origin).replace(/\/+$/, "");
