// `bun test` on a machine without chromium says, in one line, which tests it left out and how to run them.
import { describe, expect, it } from "vitest";

describe("browser tests without a browser", () => {
  it("prints one line saying what was skipped and how to run it", async () => {
    // -t matches no test: the file is loaded (which decides the skip) but nothing in it runs.
    const proc = Bun.spawn(["bun", "test", "./test/ui.test.ts", "-t", "^no test has this name$"], {
      cwd: `${import.meta.dir}/..`,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, CHROMIUM_PATH: "/nonexistent/chromium", DATABASE_URL: "", REDIS_URL: "" },
    });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    const lines = `${out}\n${err}`.split("\n").filter((l) => l.includes("browser tests skipped"));
    expect(lines).toEqual([
      "browser tests skipped: no chromium at /nonexistent/chromium; install it (apt-get install -y chromium) or set CHROMIUM_PATH, then run: bun test test/ui.test.ts",
    ]);
  }, 180_000);
});
