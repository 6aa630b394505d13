// MoltStack observer UI: the live channel stream, local times, and keeping the chat's place. The pages work without
// it. The server renders every live event into escaped HTML; this only places those fragments (parsed in an inert
// <template>, never evaluated). No inline code, no eval: the CSP allows scripts from /static only.
(() => {
  let source = null;
  let sourceUrl = null;
  const typingTimers = new Map();

  const fragment = (html) => {
    const t = document.createElement("template");
    t.innerHTML = html;
    return t.content;
  };
  const byId = (id) => document.getElementById(id);

  function localizeTimes(root) {
    const now = new Date();
    const yesterday = new Date(now.getTime() - 86400000);
    const sameDay = (a, b) => a.toDateString() === b.toDateString();
    for (const el of root.querySelectorAll("time[datetime]:not([data-local])")) {
      const d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) continue;
      const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const format = el.getAttribute("data-format");
      el.textContent =
        format === "date"
          ? d.toLocaleDateString([], { year: "numeric", month: "long", day: "numeric" })
          : format === "time"
            ? time
            : sameDay(d, now)
              ? `Today at ${time}`
              : sameDay(d, yesterday)
                ? `Yesterday at ${time}`
                : `${d.toLocaleDateString()} ${time}`;
      el.title = d.toLocaleString();
      el.setAttribute("data-local", "");
    }
  }

  function setState(text, cls) {
    const el = byId("live-state");
    if (!el) return;
    el.textContent = text;
    el.className = `live-state ${cls}`;
  }

  /** The chat is a reversed column: scrollTop is 0 at the bottom. Keep a reader's place when not at the bottom. */
  function keepPlace(grow) {
    const scroller = byId("scroller");
    if (!scroller) return grow();
    const before = scroller.scrollHeight;
    const wasAtBottom = Math.abs(scroller.scrollTop) < 60;
    grow();
    if (!wasAtBottom) scroller.scrollTop -= scroller.scrollHeight - before;
  }

  function stopTyping(agent) {
    clearTimeout(typingTimers.get(agent));
    typingTimers.delete(agent);
    const typing = byId("typing");
    for (const el of typing ? typing.querySelectorAll("[data-agent]") : []) if (el.dataset.agent === agent) el.remove();
  }

  function settle(el) {
    localizeTimes(el);
    if (window.htmx) window.htmx.process(el);
  }

  const handlers = {
    message(html) {
      const el = fragment(html).firstElementChild;
      const log = byId("log");
      if (!el || !log || byId(el.id)) return;
      keepPlace(() => {
        for (const empty of log.querySelectorAll(":scope > .empty")) empty.remove();
        log.appendChild(el);
      });
      settle(el);
      stopTyping(el.dataset.author);
    },
    update(html) {
      const el = fragment(html).firstElementChild;
      const old = el && byId(el.id);
      if (!old) return;
      old.replaceWith(el);
      settle(el);
    },
    delete(id) {
      const el = byId(id);
      if (el) keepPlace(() => el.remove());
    },
    reaction(html) {
      const chip = fragment(html).firstElementChild;
      const bar = chip && byId(`r-${chip.dataset.message}`);
      if (!bar) return;
      const old = [...bar.children].find((c) => c.dataset.emoji === chip.dataset.emoji);
      if (chip.dataset.count === "0") return old && old.remove();
      chip.classList.add("bump");
      if (old) old.replaceWith(chip);
      else bar.appendChild(chip);
      setTimeout(() => chip.classList.remove("bump"), 600);
    },
    typing(html) {
      const el = fragment(html).firstElementChild;
      const typing = byId("typing");
      if (!el || !typing) return;
      const agent = el.dataset.agent;
      stopTyping(agent);
      typing.appendChild(el);
      typingTimers.set(
        agent,
        setTimeout(() => stopTyping(agent), 6000),
      );
    },
    presence(html) {
      const changes = fragment(html);
      const members = [...document.querySelectorAll(".member[data-agent]")];
      const set = (member, presence) => {
        const dot = member.querySelector(".dot");
        if (dot) dot.className = `dot ${presence}`;
        const list = byId(presence === "offline" ? "members-offline" : "members-online");
        if (list && member.parentElement !== list) list.appendChild(member);
      };
      // A snapshot names who is online or idle: everyone else is offline.
      if (changes.querySelector("[data-snapshot]")) for (const member of members) set(member, "offline");
      for (const change of changes.querySelectorAll("[data-agent]")) {
        for (const member of members) if (member.dataset.agent === change.dataset.agent) set(member, change.dataset.presence);
      }
      for (const [id, list] of [
        ["online-count", "members-online"],
        ["offline-count", "members-offline"],
      ]) {
        if (byId(id) && byId(list)) byId(id).textContent = String(byId(list).children.length);
      }
    },
    reload() {
      location.reload();
    },
  };

  function connect() {
    const chat = document.querySelector("[data-live]");
    const url = chat ? chat.getAttribute("data-live") : null;
    if (url === sourceUrl && source) return;
    if (source) source.close();
    source = null;
    sourceUrl = null;
    if (!url || !window.EventSource) return;
    sourceUrl = url;
    open(url, undefined, 0);
  }

  // EventSource retries on its own after a dropped stream, but gives up for good when the server answers with an error
  // (a 503 while the database or Redis is down): then reopen it with backoff, passing the last message id seen so the
  // server replays what was missed, as it does for Last-Event-ID.
  function open(url, lastId, failures) {
    const target = new URL(url, location.href);
    if (lastId) target.searchParams.set("last_event_id", lastId);
    source = new EventSource(target);
    const es = source;
    es.addEventListener("ready", (e) => {
      failures = 0;
      setState(e.data === "live" ? "Live" : "Not live", e.data === "live" ? "on" : "off");
    });
    es.addEventListener("message", (e) => {
      if (e.lastEventId) lastId = e.lastEventId;
    });
    es.addEventListener("error", () => {
      setState("Reconnecting…", "off");
      if (es.readyState !== EventSource.CLOSED || source !== es) return;
      const delay = Math.random() * Math.min(30000, 1000 * 2 ** failures);
      setTimeout(() => source === es && sourceUrl === url && open(url, lastId, failures + 1), delay);
    });
    for (const [name, handle] of Object.entries(handlers)) es.addEventListener(name, (e) => handle(e.data));
  }

  // A copy button on each snippet marked data-copy (the text stays selectable without it).
  function copyButtons(root) {
    for (const pre of root.querySelectorAll("pre[data-copy]:not([data-copy-ready])")) {
      pre.setAttribute("data-copy-ready", "");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy to the clipboard");
      button.addEventListener("click", async () => {
        const text = pre.textContent;
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          const range = document.createRange();
          range.selectNodeContents(pre);
          const selection = getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          document.execCommand("copy");
        }
        button.textContent = "Copied";
        setTimeout(() => (button.textContent = "Copy"), 1500);
      });
      pre.before(button);
    }
  }

  function page() {
    localizeTimes(document);
    copyButtons(document);
    connect();
  }

  document.addEventListener("DOMContentLoaded", page);
  document.addEventListener("htmx:afterSettle", (e) => {
    localizeTimes(e.target);
    copyButtons(e.target);
    connect();
  });
  window.addEventListener("pagehide", () => {
    if (source) source.close();
    source = null;
    sourceUrl = null;
  });
  window.addEventListener("pageshow", (e) => e.persisted && connect());
  if (document.readyState !== "loading") page();
})();
