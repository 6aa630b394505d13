// The skill file an agent reads to join: generated from the server, and every endpoint it names exists.

import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import { closeCodes } from "../src/wire.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer({ env: { MOLTSTACK_LIMIT_SERVERS_PER_DAY: "7" } });

describe("/skill.md", () => {
  it("names this server's URL and limits, and only endpoints that exist", async () => {
    const res = await fetch(`${server.url}/skill.md`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/markdown");
    const text = await res.text();
    expect(text).toContain(`Base URL: ${server.url}`);
    expect(text).toContain("servers 7/day");
    expect(text).toContain("`max_outbound_per_hour` (default 100 per hour");
    const named = [...text.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/api\/v1\/[^`\s]*)`/g)].map((m) => [m[1], m[2]]);
    expect(named.length).toBeGreaterThan(30);
    for (const [method, path] of named) {
      const concrete = path.replace(/\{[^}]+\}|:[a-z_]+/g, (p) =>
        p.includes("username") ? "nobody_here" : p.includes("emoji") ? "%F0%9F%91%8D" : crypto.randomUUID(),
      );
      const answer = await server.call(method, concrete, method === "GET" || method === "DELETE" ? undefined : {});
      const unknownRoute = answer.status === 404 && answer.body?.error?.message === "no such API route";
      expect(unknownRoute, `${method} ${path}`).toBe(false);
    }
  });
});

describe("the skill files OpenClaw loads", () => {
  it("/skill.md opens with YAML frontmatter naming the skill, its version and this instance", async () => {
    const text = await (await fetch(`${server.url}/skill.md`)).text();
    const match = /^---\n([\s\S]*?)\n---\n/.exec(text);
    expect(match, "frontmatter").not.toBeNull();
    const fields = Object.fromEntries(
      match![1].split("\n").map((line) => [line.slice(0, line.indexOf(":")), JSON.parse(line.slice(line.indexOf(":") + 1))]),
    );
    expect(fields.name).toBe("moltstack");
    expect(fields.description.length).toBeLessThan(160);
    expect(fields.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(fields.homepage).toBe(server.url);
  });

  it("/skill.json names the other files, and each is served", async () => {
    const res = await fetch(`${server.url}/skill.json`);
    expect(res.headers.get("content-type")).toContain("application/json");
    const manifest = await res.json();
    expect(manifest).toMatchObject({
      name: "moltstack",
      api_base: `${server.url}/api/v1`,
      gateway: `${server.url.replace(/^http/, "ws")}/ws`,
    });
    expect(Object.keys(manifest.files).sort()).toEqual(["heartbeat", "messaging", "rules", "skill"]);
    for (const url of Object.values<string>(manifest.files)) {
      const file = await fetch(url);
      expect(file.status, url).toBe(200);
      expect(file.headers.get("content-type")).toContain("text/markdown");
      expect((await file.text()).length).toBeGreaterThan(500);
    }
  });

  it("/rules.md carries the platform instructions the gateway sends and this server's limits", async () => {
    const rules = await (await fetch(`${server.url}/rules.md`)).text();
    const agent = await server.agent("rules_reader");
    const socket = await agent.connect();
    const context = await socket.next((f) => f.op === "context");
    socket.close();
    const platform = JSON.stringify(context);
    expect(platform).toContain("collaborative platform for AI agents");
    expect(rules).toContain("You are on MoltStack, a collaborative platform for AI agents.");
    expect(rules).toContain("servers 7/day");
  });

  it("every endpoint the companion files name exists", async () => {
    for (const file of ["heartbeat.md", "messaging.md", "rules.md"]) {
      const text = await (await fetch(`${server.url}/${file}`)).text();
      const named = [...text.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/api\/v1\/[^`\s?]*)/g)].map((m) => [m[1], m[2]]);
      expect(named.length, file).toBeGreaterThan(file === "rules.md" ? 0 : 2);
      for (const [method, path] of named) {
        const concrete = path.replace(/\{[^}]+\}|:[a-z_]+/g, (p) => (p.includes("username") ? "nobody_here" : crypto.randomUUID()));
        const answer = await server.call(method, concrete, method === "GET" || method === "DELETE" ? undefined : {});
        expect(answer.status === 404 && answer.body?.error?.message === "no such API route", `${file}: ${method} ${path}`).toBe(false);
      }
    }
  });

  it("/messaging.md documents every close code the gateway uses", async () => {
    const text = await (await fetch(`${server.url}/messaging.md`)).text();
    for (const code of [1009, ...Object.values(closeCodes)]) expect(text).toContain(String(code));
  });
});

describe("the OpenClaw plugin this server hands out", () => {
  it("is served as an npm-pack tarball at the version /skill.json names, with the commands that install it", async () => {
    const skill = await (await fetch(`${server.url}/skill.json`)).json();
    expect(skill.openclaw.tarball).toBe(`${server.url}/openclaw/moltstack-openclaw.tgz`);
    expect(skill.openclaw.install).toContain("openclaw plugins install npm-pack:./moltstack-openclaw.tgz");
    expect(skill.mcp.url).toBe(`${server.url}/mcp`);
    const res = await fetch(skill.openclaw.tarball);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    const tar = Bun.gunzipSync(new Uint8Array(await res.arrayBuffer()));
    // A tar is 512-byte headers (the name first) each followed by the file's blocks.
    const files = new Map<string, string>();
    for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
      const name = new TextDecoder().decode(tar.subarray(at, at + 100)).replace(/\0.*$/s, "");
      const size = parseInt(
        new TextDecoder()
          .decode(tar.subarray(at + 124, at + 136))
          .replace(/\0.*$/s, "")
          .trim(),
        8,
      );
      files.set(name, new TextDecoder().decode(tar.subarray(at + 512, at + 512 + size)));
      at += 512 + Math.ceil(size / 512) * 512;
    }
    expect([...files.keys()].toSorted()).toEqual([
      "package/README.md",
      "package/index.js",
      "package/openclaw.plugin.json",
      "package/package.json",
    ]);
    const pkg = JSON.parse(files.get("package/package.json")!);
    expect(pkg).toMatchObject({ name: "@moltstack/openclaw", version: skill.openclaw.version, openclaw: { extensions: ["./index.js"] } });
    const md = await (await fetch(`${server.url}/skill.md`)).text();
    expect(md).toContain(`curl -fsSLO ${server.url}/openclaw/moltstack-openclaw.tgz`);
    expect(md).toContain("## MCP");
  });
});
