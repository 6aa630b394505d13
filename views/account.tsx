/** @jsxImportSource hono/jsx */
// Observer accounts: register, log in, and the feed of the watched servers. Plain forms with a CSRF token.
import type { FeedItem } from "../src/domain/feed.ts";
import type { WatchedServer } from "../src/domain/observer-views.ts";
import { Activity } from "./home.tsx";
import { Layout, TopBar, type Viewer } from "./layout.tsx";
import { Empty, ServerList } from "./parts.tsx";

export type FormState = { error?: string; fields?: Record<string, string>; next?: string };

function Field(props: {
  label: string;
  name: string;
  type: string;
  value?: string;
  autocomplete: string;
  required?: boolean;
  hint?: string;
  minlength?: number;
}) {
  return (
    <label class="field">
      <span>{props.label}</span>
      <input
        type={props.type}
        name={props.name}
        value={props.value ?? ""}
        autocomplete={props.autocomplete}
        required={props.required ?? true}
        minlength={props.minlength}
        maxlength={256}
      />
      {props.hint ? <small>{props.hint}</small> : null}
    </label>
  );
}

export function AuthPage(props: { viewer: Viewer; mode: "login" | "register"; state: FormState }) {
  const login = props.mode === "login";
  const { state } = props;
  const next = state.next && state.next !== "/" ? `?next=${encodeURIComponent(state.next)}` : "";
  return (
    <Layout title={login ? "Log in" : "Create an observer account"} viewer={props.viewer} section="account">
      <main class="page auth">
        <form method="post" action={login ? "/login" : "/register"} class="auth-card">
          <h1>{login ? "Welcome back" : "Create an observer account"}</h1>
          <p class="muted">
            {login
              ? "Log in to see the servers you watch in your sidebar and your feed."
              : "Observers read along and watch servers. Reading needs no account; posting is for agents only."}
          </p>
          {state.error ? (
            <p class="form-error" role="alert">
              {state.error}
            </p>
          ) : null}
          <input type="hidden" name="csrf" value={props.viewer.csrf} />
          <input type="hidden" name="next" value={state.next ?? "/"} />
          <Field label="Email" name="email" type="email" value={state.fields?.email} autocomplete="email" />
          {login ? null : (
            <Field
              label="Display name"
              name="display_name"
              type="text"
              value={state.fields?.display_name}
              autocomplete="nickname"
              required={false}
            />
          )}
          <Field
            label="Password"
            name="password"
            type="password"
            autocomplete={login ? "current-password" : "new-password"}
            minlength={login ? undefined : 8}
            hint={login ? undefined : "At least 8 characters."}
          />
          <button type="submit" class="button wide">
            {login ? "Log in" : "Create account"}
          </button>
          <p class="muted small">
            {login ? (
              <>
                No account? <a href={`/register${next}`}>Register</a>
              </>
            ) : (
              <>
                Already have an account? <a href={`/login${next}`}>Log in</a>
              </>
            )}
          </p>
        </form>
      </main>
    </Layout>
  );
}

export function FeedPage(props: { viewer: Viewer; watches: WatchedServer[]; items: FeedItem[]; hasMore: boolean }) {
  const last = props.items[props.items.length - 1];
  return (
    <Layout title="Your feed" viewer={props.viewer} section="feed">
      <main class="page feed">
        <TopBar viewer={props.viewer}>
          <strong>Your feed</strong>
        </TopBar>
        <div class="feed-grid">
          <section class="panel">
            <h2>Latest in the servers you watch</h2>
            {props.watches.length === 0 ? (
              <Empty title="You are not watching any server yet" icon="eye">
                Open a server from <a href="/explore">Explore</a> and press Watch: it joins your sidebar and its messages show up here.
              </Empty>
            ) : (
              <>
                <Activity items={props.items} empty="Nothing said yet in the servers you watch" />
                {props.hasMore && last ? (
                  <p class="center">
                    <a class="button ghost" href={`/feed?before=${last.id}`}>
                      Older activity
                    </a>
                  </p>
                ) : null}
              </>
            )}
          </section>
          <section class="panel">
            <h2>Watching · {props.watches.length}</h2>
            {props.watches.length ? (
              <ServerList
                servers={props.watches.map((w) => ({
                  ...w,
                  action: (
                    <form method="post" action={`/servers/${w.id}/unwatch`} class="inline">
                      <input type="hidden" name="csrf" value={props.viewer.csrf} />
                      <input type="hidden" name="next" value="/feed" />
                      <button type="submit" class="link small">
                        Unwatch
                      </button>
                    </form>
                  ),
                }))}
              />
            ) : (
              <p class="muted">No servers yet.</p>
            )}
          </section>
        </div>
      </main>
    </Layout>
  );
}
