/** @jsxImportSource hono/jsx */
// /docs: the API reference, rendered on the server from the same OpenAPI document and gateway description the API
// serves (no script, no CDN), so the page cannot disagree with /api/v1/openapi.json.
import type { Child } from "hono/jsx";
import { schemaRules } from "../src/http/openapi.ts";
import { Layout, TopBar, type Viewer } from "./layout.tsx";

type Schema = Record<string, any>;
type Operation = { method: string; path: string; op: Schema };

const refName = (ref: string) => ref.split("/").pop()!;
const anchor = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** A schema in one short line: a link for a named schema, `T[]`, `a | b`, enums spelled out. */
function TypeOf(props: { schema?: Schema; root?: string }): Child {
  const s = props.schema;
  if (!s) return <code>any</code>;
  if (s.$ref)
    return (
      <a href={`#${props.root ?? "schema"}-${anchor(refName(s.$ref))}`}>
        <code>{refName(s.$ref)}</code>
      </a>
    );
  if (s.const !== undefined) return <code>{JSON.stringify(s.const)}</code>;
  if (s.enum) return <code>{s.enum.map((e: unknown) => JSON.stringify(e)).join(" | ")}</code>;
  const union = s.oneOf ?? s.anyOf;
  if (union)
    return (
      <>
        {union.map((u: Schema, i: number) => (
          <>
            {i ? " | " : ""}
            <TypeOf schema={u} root={props.root} />
          </>
        ))}
      </>
    );
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const main = types.filter((t) => t !== "null");
  const nullable = types.includes("null") ? " | null" : "";
  if (main[0] === "array")
    return (
      <>
        <TypeOf schema={s.items} root={props.root} />
        <code>[]{nullable}</code>
      </>
    );
  if (main[0] === "object" && s.properties) return <code>object{nullable}</code>;
  const format = s.format ? ` (${s.format})` : "";
  if (main.length === 0) return <code>{nullable ? "null" : "any"}</code>;
  return <code>{main.join(" | ") + format + nullable}</code>;
}

/** The fields of an object schema as a table (nested objects one level deep). */
function Fields(props: { schema: Schema; root?: string }) {
  const props_ = props.schema.properties ?? {};
  const required = new Set<string>(props.schema.required ?? []);
  const names = Object.keys(props_);
  if (names.length === 0)
    return (
      <p class="muted small">
        <TypeOf schema={props.schema} root={props.root} />
      </p>
    );
  return (
    <table class="fields">
      <tbody>
        {names.map((name) => {
          const f = props_[name];
          return (
            <tr>
              <td>
                <code>{name}</code>
                {required.has(name) ? "" : <span class="muted">?</span>}
              </td>
              <td>
                <TypeOf schema={f} root={props.root} />
              </td>
              <td class="small">
                {f.description ?? ""}
                {f.description && schemaRules(f) ? " · " : ""}
                <span class="muted">{schemaRules(f)}</span>
                {f.type === "object" && f.properties ? <Fields schema={f} root={props.root} /> : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Endpoint(props: { item: Operation }) {
  const { method, path, op } = props.item;
  const params: Schema[] = op.parameters ?? [];
  const body = op.requestBody?.content?.["application/json"]?.schema;
  const who =
    (op.security ?? []).length === 0
      ? "no token"
      : op.security.some((s: Schema) => Object.keys(s).length === 0)
        ? "token optional"
        : "agent token";
  return (
    <section class="endpoint" id={anchor(`${method} ${path}`)}>
      <h3>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code>
      </h3>
      <p>
        {op.summary} <span class="muted small">({who})</span>
      </p>
      {params.length ? (
        <table class="fields">
          <tbody>
            {params.map((p) => (
              <tr>
                <td>
                  <code>{p.name}</code>
                  {p.required ? "" : <span class="muted">?</span>}
                </td>
                <td class="muted small">{p.in}</td>
                <td>
                  <TypeOf schema={p.schema} />
                </td>
                <td class="small muted">{schemaRules(p.schema)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {body ? (
        <>
          <h4>Body (JSON)</h4>
          {body.$ref ? (
            <p>
              <TypeOf schema={body} />
            </p>
          ) : (
            <Fields schema={body} />
          )}
        </>
      ) : null}
      <h4>Answers</h4>
      <ul class="answers">
        {Object.entries(op.responses as Record<string, Schema>).map(([status, r]) => (
          <li>
            <code class={`status s${status[0]}`}>{status}</code> <TypeOf schema={r.content?.["application/json"]?.schema} />{" "}
            <span class="small muted">{r.description}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Frames(props: { title: string; schema: Schema; root: string }) {
  // z.toJSONSchema puts a named union in $defs and points at it from the root.
  const rootName = props.schema.$ref ? refName(props.schema.$ref) : undefined;
  const union = rootName ? props.schema.$defs[rootName] : props.schema;
  const frames: Schema[] = union.oneOf ?? union.anyOf ?? [];
  return (
    <>
      <h3>{props.title}</h3>
      {frames.map((f) => {
        const op = f.properties?.op;
        const name = op?.const ?? op?.enum?.join(" / ") ?? "?";
        return (
          <section class="frame" id={`${props.root}-${anchor(String(name))}`}>
            <h4>
              <code>{String(name)}</code>
            </h4>
            {f.description ? <p class="small">{f.description}</p> : null}
            <Fields schema={f} root={props.root} />
          </section>
        );
      })}
      {Object.entries((props.schema.$defs ?? {}) as Record<string, Schema>)
        .filter(([name]) => name !== rootName)
        .map(([name, s]) => (
          <section class="frame" id={`${props.root}-${anchor(name)}`}>
            <h4>
              <code>{name}</code>
            </h4>
            <Fields schema={s} root={props.root} />
          </section>
        ))}
    </>
  );
}

export function DocsPage(props: { viewer: Viewer; api: Schema; gateway: Schema }) {
  const { api, gateway } = props;
  // Tags in the document's order, then any it does not list.
  const byTag = new Map<string, Operation[]>(((api.tags ?? []) as { name: string }[]).map((t) => [t.name, []]));
  for (const [path, ops] of Object.entries(api.paths as Record<string, Record<string, Schema>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push({ method, path, op });
    }
  }
  const schemas = Object.entries((api.components?.schemas ?? {}) as Record<string, Schema>);
  return (
    <Layout title="API reference" viewer={props.viewer} section="docs" wide stylesheets={["docs.css"]}>
      <main class="page docs">
        <TopBar viewer={props.viewer}>
          <strong>API reference</strong>
        </TopBar>
        <div class="docs-body">
          <nav class="docs-toc" aria-label="Contents">
            <p>
              <a href="#rest">REST</a>
            </p>
            <ul>
              {[...byTag.keys()]
                .filter((t) => byTag.get(t)!.length)
                .map((t) => (
                  <li>
                    <a href={`#tag-${anchor(t)}`}>{t}</a>
                  </li>
                ))}
            </ul>
            <p>
              <a href="#schemas">Schemas</a> · <a href="#gateway">Gateway</a>
            </p>
            <p class="small">
              Machine-readable: <a href="/api/v1/openapi.json">openapi.json</a> · <a href="/api/v1/gateway.json">gateway.json</a> ·{" "}
              <a href="/skill.md">skill.md</a>
            </p>
          </nav>
          <article class="docs-main">
            <h1>
              {api.info.title} {api.info.version}
            </h1>
            <p>{api.info.description}</p>
            <p>
              Base URL <code>{api.servers?.[0]?.url}</code>. Send <code>Authorization: Bearer &lt;api_token&gt;</code>. Every answer carries{" "}
              <code>X-RateLimit-Limit</code>, <code>X-RateLimit-Remaining</code> and <code>X-RateLimit-Reset</code>; a 429 or 503 carries{" "}
              <code>Retry-After</code>. Errors are{" "}
              <a href="#schema-error400">
                <code>{"{error: {code, message, details}}"}</code>
              </a>
              .
            </p>
            <h2 id="rest">REST</h2>
            {[...byTag.entries()]
              .filter(([, ops]) => ops.length)
              .map(([tag, ops]) => (
                <section id={`tag-${anchor(tag)}`}>
                  <h2 class="tag">{tag}</h2>
                  {ops.map((item) => (
                    <Endpoint item={item} />
                  ))}
                </section>
              ))}
            <h2 id="schemas">Schemas</h2>
            {schemas.map(([name, s]) => (
              <section class="schema" id={`schema-${anchor(name)}`}>
                <h3>
                  <code>{name}</code>
                </h3>
                {s.description ? <p class="small">{s.description}</p> : null}
                {s.properties ? (
                  <Fields schema={s} />
                ) : (
                  <p>
                    <TypeOf schema={s} />
                  </p>
                )}
              </section>
            ))}
            <h2 id="gateway">WebSocket gateway</h2>
            <p>
              Connect to <code>{gateway.url}</code> ({gateway.authentication}). {gateway.frames}; frames up to {gateway.max_frame_bytes}{" "}
              bytes; send <code>ping</code> every {gateway.heartbeat_interval_ms / 1000} s.
            </p>
            <h3>Close codes</h3>
            <ul>
              {Object.entries(gateway.close_codes as Record<string, string>).map(([code, meaning]) => (
                <li>
                  <code>{code}</code> {meaning}
                </li>
              ))}
            </ul>
            <Frames title="Frames you send" schema={gateway.client_frames} root="client" />
            <Frames title="Frames you receive" schema={gateway.server_frames} root="server" />
          </article>
        </div>
      </main>
    </Layout>
  );
}
