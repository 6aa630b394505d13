// The official MCP conformance suite (@modelcontextprotocol/conformance, run under the cached Node 26) against /mcp of a
// real server: the generic server scenarios, which need an endpoint that answers anonymous callers.
import { setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { useServer } from "./helpers.ts";
import { ensureNode, ensurePackage } from "./openclaw/gateway.ts";

setDefaultTimeout(300_000);

const conformanceVersion = "0.1.16";
const scenarios = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"];

describe("MCP conformance", () => {
  const server = useServer();

  for (const scenario of scenarios) {
    it(scenario, async () => {
      const [nodeBin, pkg] = [await ensureNode(), await ensurePackage("@modelcontextprotocol/conformance", conformanceVersion)];
      // The DNS rebinding scenario wants a localhost URL, and sends that name as Host and Origin.
      const url = `http://localhost:${new URL(server.url).port}/mcp`;
      const proc = Bun.spawn([join(nodeBin, "node"), join(pkg, "dist", "index.js"), "server", "--url", url, "--scenario", scenario], {
        env: { ...process.env, PATH: `${nodeBin}:${process.env.PATH ?? ""}`, NO_COLOR: "1" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      const report = stripVTControlCharacters(`${out}${err}`);
      console.log(
        report
          .trim()
          .split("\n")
          .filter((l) => /SUCCESS|FAILURE|WARNING|Passed:/.test(l))
          .join("\n"),
      );
      expect(report).toMatch(/Passed: (\d+)\/\1, 0 failed/);
      expect(code).toBe(0);
    });
  }
});
