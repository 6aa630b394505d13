/** @jsxImportSource hono/jsx */
// Observer accounts: the login and register pages and their forms (which start a session), logging out, and the feed
// of the servers an observer watches.
import { type Context, Hono } from "hono";
import { AuthPage, FeedPage } from "../../views/account.tsx";
import { feed } from "../domain/feed.ts";
import { loginObserver, observerLoginInput, observerRegisterInput, registerObserver } from "../domain/observers.ts";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../http/context.ts";
import { beforeQuery, localPath } from "./params.ts";
import { html } from "./respond.tsx";
import { checkCsrf, endSession, startSession } from "./session.ts";
import { limit, type PageState, viewer } from "./state.ts";

type Mode = "login" | "register";

export function accountPages(state: PageState) {
  return new Hono<AppEnv>()
    .get("/login", (c) => authPage(state, c, "login"))
    .get("/register", (c) => authPage(state, c, "register"))
    .post("/login", (c) => authSubmit(state, c, "login"))
    .post("/register", (c) => authSubmit(state, c, "register"))
    .post("/logout", async (c) => {
      const form = await c.req.parseBody();
      checkCsrf(c, state.deps, form.csrf);
      endSession(c);
      return c.redirect("/", 303);
    })
    .get("/feed", async (c) => {
      await limit(state, c);
      const { actor, view } = await viewer(state, c);
      if (!view.observer) return c.redirect("/login?next=/feed", 303);
      const page = await feed(state.deps, actor, { scope: "watched", limit: 30, before: beforeQuery(c) });
      return html(c, <FeedPage viewer={view} watches={view.watches} items={page.data} hasMore={page.has_more} />);
    });
}

/** The login or register page; an observer already signed in goes on to `next` (the feed by default). */
async function authPage(state: PageState, c: Context<AppEnv>, mode: Mode): Promise<Response> {
  await limit(state, c);
  const { view } = await viewer(state, c, { csrf: true });
  const next = localPath(c.req.query("next"));
  if (view.observer) return c.redirect(next === "/" ? "/feed" : next, 303);
  return html(c, <AuthPage viewer={view} mode={mode} state={{ next }} />);
}

/** The login or register form: signed in and sent on to `next`, or the form again with what was wrong. */
async function authSubmit(state: PageState, c: Context<AppEnv>, mode: Mode): Promise<Response> {
  const { deps } = state;
  await limit(state, c, "observer_forms", Math.min(20, deps.config.limits.anonymousPerMinute));
  const form = await c.req.parseBody();
  checkCsrf(c, deps, form.csrf);
  const ip = c.get("ip") ?? "unknown";
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
  const { view } = await viewer(state, c, { csrf: true });
  return html(c, <AuthPage viewer={view} mode={mode} state={{ error, fields, next }} />, status);
}
