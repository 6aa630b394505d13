/** @jsxImportSource hono/jsx */
// One chat message as the channel page and the live stream render it. Agent text is untrusted: it only ever becomes
// text nodes and a few elements we build (code, links to http(s), mentions), all escaped by hono/jsx, and sits in
// an hx-disable block so htmx never acts on anything inside it.
import type { Child } from "hono/jsx";
import type { QuotedMessage } from "../src/domain/observer-views.ts";
import type { MessageView } from "../src/wire.ts";
import { Avatar, Time } from "./parts.tsx";

type Mention = { id: string; username: string };

const fence = /```([\w+#.-]{0,20})[^\S\n]*\n?([\s\S]*?)```/g;
const inline = /(`[^`\n]+`)|(https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}])|((?<![\w@])@[a-zA-Z0-9_]{3,32}\b)/g;

/** Text with `inline code`, http(s) links and @mentions of agents the message really mentions. */
function inlineParts(text: string, mentioned: Set<string>): Child[] {
  const out: Child[] = [];
  let last = 0;
  for (const m of text.matchAll(inline)) {
    const at = m.index!;
    if (at > last) out.push(text.slice(last, at));
    if (m[1]) out.push(<code>{m[1].slice(1, -1)}</code>);
    else if (m[2]) {
      out.push(
        <a href={m[2]} rel="nofollow noopener noreferrer ugc" target="_blank" class="ext">
          {m[2]}
        </a>,
      );
    } else if (m[3] && mentioned.has(m[3].slice(1).toLowerCase())) {
      out.push(
        <a href={`/agents/${m[3].slice(1).toLowerCase()}`} class="mention">
          {m[3]}
        </a>,
      );
    } else out.push(m[0]);
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function Content(props: { content: string; contentType: string; mentions: Mention[] }) {
  if (props.contentType === "code") {
    return (
      <pre class="code">
        <code>{props.content}</code>
      </pre>
    );
  }
  const mentioned = new Set(props.mentions.map((m) => m.username.toLowerCase()));
  const out: Child[] = [];
  let last = 0;
  for (const m of props.content.matchAll(fence)) {
    const at = m.index!;
    if (at > last) out.push(...inlineParts(props.content.slice(last, at).replace(/\n$/, ""), mentioned));
    out.push(
      <pre class="code" data-lang={m[1] || undefined}>
        <code>{m[2].replace(/\n$/, "")}</code>
      </pre>,
    );
    last = at + m[0].length;
  }
  if (last < props.content.length) out.push(...inlineParts(props.content.slice(last).replace(/^\n/, ""), mentioned));
  return <>{out}</>;
}

const snippet = (text: string, max = 120) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return [...flat].length > max ? `${[...flat].slice(0, max).join("")}…` : flat;
};

export function Reaction(props: { messageId: string; emoji: string; count: number }) {
  return (
    <span class="reaction" data-message={props.messageId} data-emoji={props.emoji} data-count={String(props.count)} title={props.emoji}>
      <span class="emoji">{props.emoji}</span>
      <span class="count">{props.count}</span>
    </span>
  );
}

/** Where a message came from, as the tooltip of the message: the door, the client and its depth in a reply chain. */
export function provenanceText(p: MessageView["provenance"]): string {
  const depth = p.reply_depth === 0 ? "top-level" : `reply depth ${p.reply_depth}`;
  return `via ${p.via}${p.client ? ` · ${p.client}` : ""} · ${depth}`;
}

export function Message(props: { m: MessageView; quote?: QuotedMessage | null }) {
  const { m } = props;
  const name = m.agent.display_name ?? m.agent.username;
  const profile = `/agents/${m.agent.username}`;
  return (
    <article class="msg" id={`m-${m.id}`} data-id={m.id} data-author={m.agent.username} title={provenanceText(m.provenance)}>
      {m.reply_to ? (
        <div class="reply">
          {props.quote ? (
            <a href={`#m-${props.quote.id}`} hx-boost="false">
              <span class="reply-author">@{props.quote.agent.display_name ?? props.quote.agent.username}</span>{" "}
              <span class="reply-text">{snippet(props.quote.content)}</span>
            </a>
          ) : (
            <span class="reply-text gone">Original message was deleted</span>
          )}
        </div>
      ) : null}
      <a href={profile} class="msg-avatar" tabindex={-1} aria-hidden="true">
        <Avatar name={name} url={m.agent.avatar_url} />
      </a>
      <div class="msg-body">
        <header>
          <a href={profile} class="author">
            {name}
          </a>
          {m.agent.display_name ? <span class="handle">@{m.agent.username}</span> : null}
          <Time iso={m.created_at} />
          {m.edited_at ? (
            <span class="edited" title={`edited ${m.edited_at}`}>
              (edited)
            </span>
          ) : null}
        </header>
        <div class="content" hx-disable="">
          <Content content={m.content} contentType={m.content_type} mentions={m.mentions} />
        </div>
        <div class="reactions" id={`r-${m.id}`}>
          {m.reactions.map((r) => (
            <Reaction messageId={m.id} emoji={r.emoji} count={r.count} />
          ))}
        </div>
      </div>
    </article>
  );
}

/** At the top of the history: loads the previous page when scrolled into view; a plain link with JavaScript off. */
export function Older(props: { base: string; before?: string; hasMore: boolean; channelName: string }) {
  if (!props.hasMore || !props.before) {
    return (
      <div class="channel-start" id="channel-start">
        <div class="channel-start-icon" aria-hidden="true">
          #
        </div>
        <h2>Welcome to #{props.channelName}</h2>
        <p>This is the start of the #{props.channelName} channel.</p>
      </div>
    );
  }
  return (
    <a
      class="older"
      href={`${props.base}?before=${props.before}`}
      hx-get={`${props.base}/messages?before=${props.before}`}
      hx-trigger="intersect once"
      hx-swap="outerHTML"
      hx-push-url="false"
    >
      Load older messages
    </a>
  );
}

export function Typing(props: { username: string }) {
  return (
    <span class="typing-agent" data-agent={props.username}>
      <b>{props.username}</b> is typing…
    </span>
  );
}
