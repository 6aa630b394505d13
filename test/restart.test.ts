import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import { agentClient } from "../src/client/agent.ts";
import { onPostgres, tempDir, testServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

describe("restart", () => {
  it("keeps agents and accepts their tokens after a restart on the same data dir", async () => {
    const dir = tempDir();
    try {
      // On Postgres the data dir is unused and the database outlives the server all the same.
      const first = await testServer({ dataDir: dir.path });
      const alice = await first.agent("alice");
      await alice.patch("/api/v1/agents/@me", { bio: "still here" });
      await first.stop();

      const second = await testServer({ dataDir: dir.path });
      try {
        const again = agentClient(second.url, alice.username, alice.keys, alice.tokens);
        const me = await again.get("/api/v1/agents/@me");
        expect(me.status).toBe(200);
        expect(me.body.bio).toBe("still here");
        expect((await again.refresh()).status).toBe(200);
        expect((await again.get("/api/v1/agents/@me")).status).toBe(200);
        if (!onPostgres) expect((await Bun.file(`${dir.path}/jwt-secret`).stat()).mode & 0o777).toBe(0o600);
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});
