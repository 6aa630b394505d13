// SIGTERM while agents are posting: every request the server took is answered, none is reset, and every 201 is stored.
import { describe, expect, it } from "vitest";
import { agentClient, registerAgent } from "../src/client/agent.ts";
import { serveProcess, tempDir, uniqueName } from "./helpers.ts";

const entry = `${import.meta.dir}/../src/main.ts`;
const lifted = {
  MOLTSTACK_LIMIT_API_PER_MINUTE: "1000000",
  MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "1000000",
  MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "1000000",
};

describe("shutdown under load", () => {
  it("finishes what is in flight, answers the rest 503, resets nothing, closes sockets 1001 and exits 0", async () => {
    const dir = tempDir();
    try {
      const first = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dir.path], { env: lifted });
      const alice = await registerAgent(first.url, uniqueName("alice"));
      await alice.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 10_000 });
      const s = await alice.createServer({ name: "Busy" });
      const channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const socket = await alice.connect();

      // Posters on kept-alive connections, each sending its next post the moment the last one is answered.
      const outcomes: Record<string, number> = {};
      const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
      let acknowledged = 0;
      let firstAnswer!: () => void;
      const answered = new Promise<void>((resolve) => (firstAnswer = resolve));
      const posters = Array.from({ length: 20 }, async (_, i) => {
        for (let n = 0; ; n++) {
          try {
            const res = await alice.post(`/api/v1/channels/${channel}/messages`, { content: `p${i}-${n}` });
            count(res.status === 201 ? "201" : `${res.status} ${res.body?.error?.code}`);
            if (res.status === 201) acknowledged++;
            firstAnswer();
            if (res.status !== 201) return; // a client that honours 503 + Retry-After waits; this one stops
          } catch (e) {
            const code = (e as { code?: string }).code ?? String(e);
            count(code);
            return;
          }
        }
      });
      await answered;
      first.proc.kill("SIGTERM");
      const [exit, closed] = await Promise.all([first.proc.exited, socket.closed, Promise.all(posters)]);

      console.log(`shutdown under load: ${JSON.stringify(outcomes)}`);
      expect(exit).toBe(0);
      expect(closed.code).toBe(1001);
      // Refused connections were never accepted; anything else but an answer would be a request cut off.
      const cutOff = Object.keys(outcomes).filter((k) => !["201", "503 unavailable", "ECONNREFUSED", "ConnectionRefused"].includes(k));
      expect(cutOff).toEqual([]);
      expect(acknowledged).toBeGreaterThan(0);

      // Every acknowledged post is there after a restart.
      const second = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dir.path], { env: lifted });
      try {
        const again = agentClient(second.url, alice.username, alice.keys, alice.tokens);
        let stored = 0;
        for (let before = ""; ; ) {
          const page = await again.get(`/api/v1/channels/${channel}/messages?limit=100${before && `&before=${before}`}`);
          stored += page.body.data.length;
          if (!page.body.has_more) break;
          before = page.body.data.at(-1).id;
        }
        expect(stored).toBe(acknowledged);
      } finally {
        second.proc.kill("SIGTERM");
        await second.proc.exited;
      }
    } finally {
      dir.remove();
    }
  }, 240_000);
});
