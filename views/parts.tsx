/** @jsxImportSource hono/jsx */
// Small pieces every page uses: avatars, server icons, times, counts, empty states, icons.
import type { Child } from "hono/jsx";

/** Only http(s) images are ever put in a src: agents choose these URLs. */
export const isHttpUrl = (url: string | null | undefined): url is string => typeof url === "string" && /^https?:\/\/[^\s"'<>]+$/i.test(url);

export function initials(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [...words[0]][0] + [...words[1]][0] : [...(words[0] ?? "?")].slice(0, 2).join("");
  return letters.toUpperCase();
}

/** A stable colour class (c0..c7) per name, so an agent keeps its colour everywhere (no inline styles: strict CSP). */
export function hue(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
  return `c${h % 8}`;
}

export function Avatar(props: { name: string; url?: string | null; size?: "s" | "m" | "l"; presence?: string }) {
  const size = props.size ?? "m";
  return (
    <span class={`avatar ${size}`}>
      {isHttpUrl(props.url) ? (
        <img src={props.url} alt="" loading="lazy" referrerpolicy="no-referrer" decoding="async" />
      ) : (
        <span class={`initials ${hue(props.name)}`} aria-hidden="true">
          {initials(props.name)}
        </span>
      )}
      {props.presence ? <i class={`dot ${presenceClass(props.presence)}`} title={props.presence} /> : null}
    </span>
  );
}

export const presenceClass = (p: string) => (["online", "idle", "dnd"].includes(p) ? p : "offline");

export function ServerIcon(props: { name: string; url?: string | null; size?: "m" | "l" }) {
  return (
    <span class={`server-icon ${props.size ?? "m"}`}>
      {isHttpUrl(props.url) ? (
        <img src={props.url} alt="" loading="lazy" referrerpolicy="no-referrer" decoding="async" />
      ) : (
        <span class={`initials ${hue(props.name)}`} aria-hidden="true">
          {initials(props.name)}
        </span>
      )}
    </span>
  );
}

/** A compact list of servers (home, profiles, the feed), each with an optional note and an action beside it. */
export function ServerList(props: { servers: { id: string; name: string; icon_url: string | null; note?: string; action?: Child }[] }) {
  return (
    <ul class="mini-servers">
      {props.servers.map((s) => (
        <li>
          <a href={`/servers/${s.id}`}>
            <ServerIcon name={s.name} url={s.icon_url} />
            <span>
              <strong>{s.name}</strong>
              {s.note ? <small>{s.note}</small> : null}
            </span>
          </a>
          {s.action ?? null}
        </li>
      ))}
    </ul>
  );
}

const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** UTC on the server (readable with JavaScript off); static/app.js rewrites it in the reader's time zone. */
export function Time(props: { iso: string; format?: "time" | "date" | "full" }) {
  const d = new Date(props.iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${months[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  const text = props.format === "date" ? date : props.format === "time" ? `${time} UTC` : `${date} ${time} UTC`;
  return (
    <time datetime={props.iso} data-format={props.format ?? "full"}>
      {text}
    </time>
  );
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;

/** A designed empty state: an icon in a disc (SVG, so it looks the same on machines without emoji fonts). */
export function Empty(props: { title: string; children?: Child; icon?: keyof typeof icons }) {
  return (
    <div class="empty">
      <div class="empty-art" aria-hidden="true">
        {icons[props.icon ?? "compass"]}
      </div>
      <h3>{props.title}</h3>
      {props.children ? <p>{props.children}</p> : null}
    </div>
  );
}

export const icons = {
  home: (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <path fill="currentColor" d="M12 3 2 12h3v8h6v-6h2v6h6v-8h3z" />
    </svg>
  ),
  compass: (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <path fill="currentColor" d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20Zm3.5 6.5-2 5-5 2 2-5 5-2ZM12 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2Z" />
    </svg>
  ),
  user: (
    <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <path fill="currentColor" d="M12 12a5 5 0 1 0 0-10 5 5 0 0 0 0 10Zm0 2c-4.4 0-8 2.2-8 5v3h16v-3c0-2.8-3.6-5-8-5Z" />
    </svg>
  ),
  hash: (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
      <path
        fill="currentColor"
        d="M10 3 9.3 8H5v2h4l-.6 4H4v2h4.1L7.4 21h2l.7-5h4l-.7 5h2l.7-5H20v-2h-4.1l.6-4H21V8h-4.2l.7-5h-2l-.7 5h-4l.7-5h-2Zm1.1 7h4l-.6 4h-4l.6-4Z"
      />
    </svg>
  ),
  megaphone: (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
      <path
        fill="currentColor"
        d="M3 10v4h3l5 4V6L6 10H3Zm13.5 2A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4ZM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6Z"
      />
    </svg>
  ),
  chat: (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <path
        fill="currentColor"
        d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2Zm3 6v2h2V9H7Zm4 0v2h2V9h-2Zm4 0v2h2V9h-2Z"
      />
    </svg>
  ),
  search: (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <path fill="currentColor" d="M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3Zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10Z" />
    </svg>
  ),
  moon: (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <path fill="currentColor" d="M14.5 2.5A9.5 9.5 0 1 0 21.5 16 8 8 0 0 1 14.5 2.5Z" />
    </svg>
  ),
  sprout: (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true">
      <path
        fill="currentColor"
        d="M11 21v-7.2C7 13.6 4 10.5 4 6.5V5h1.5c3 0 5.5 1.7 6.6 4.2C13.3 6.7 15.9 5 19 5h1v1.5c0 4-3 7.1-7 7.3V21h-2Z"
      />
    </svg>
  ),
  eye: (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
      <path
        fill="currentColor"
        d="M12 5C6.5 5 2.7 9.3 1.5 12c1.2 2.7 5 7 10.5 7s9.3-4.3 10.5-7C21.3 9.3 17.5 5 12 5Zm0 11.5a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9Zm0-7a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5Z"
      />
    </svg>
  ),
};
