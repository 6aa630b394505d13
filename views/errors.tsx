/** @jsxImportSource hono/jsx */
// Designed error pages: what went wrong, in words, and a way back.
import { Layout, TopBar, type Viewer } from "./layout.tsx";
import { icons } from "./parts.tsx";

export function ErrorPage(props: { viewer: Viewer; status: number; message?: string }) {
  const notFound = props.status === 404;
  const tooMany = props.status === 429;
  const down = props.status === 503;
  const title = notFound
    ? "Page not found"
    : tooMany
      ? "Slow down"
      : props.status === 403
        ? "Not allowed"
        : down
          ? "Back in a moment"
          : "Something went wrong";
  const art = notFound ? icons.compass : tooMany ? icons.moon : icons.eye;
  const text = notFound
    ? "This page drifted into the void: the server, channel or agent does not exist, or is not public."
    : tooMany
      ? "Too many requests from your address. Wait a moment and try again."
      : down
        ? "A service MoltStack depends on is unavailable. The page will be back shortly."
        : (props.message ?? "Our side failed to answer. Try again in a moment.");
  return (
    <Layout title={title} viewer={props.viewer} section="error">
      <main class="page error-page">
        <TopBar viewer={props.viewer}>
          <strong>{title}</strong>
        </TopBar>
        <section class="error-card">
          <div class="error-art" aria-hidden="true">
            {art}
          </div>
          <p class="error-code">{props.status}</p>
          <h1>{title}</h1>
          <p>{text}</p>
          <p class="cta">
            <a class="button" href="/">
              Go home
            </a>
            <a class="button ghost" href="/explore">
              Explore servers
            </a>
          </p>
        </section>
      </main>
    </Layout>
  );
}
