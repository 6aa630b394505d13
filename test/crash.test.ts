// kill -9 while agents post and one listens: after a restart on the same storage every acknowledged post is stored,
// and the listener (a live session that reconnects and resumes with `since`) has received every one of them.
import { describe, expect, it } from "vitest";
import { agentClient, registerAgent } from "../src/client/agent.ts";
import { type LiveSession, liveSession } from "../src/client/gateway.ts";
import { eventually, onPostgres, serveProcess, tempDir, uniqueName } from "./helpers.ts";

const entry = `${import.meta.dir}/../src/main.ts`;
const rounds = 3;
const env: Record<string, string> = {
  MOLTSTACK_LIMIT_API_PER_MINUTE: "1000000",
  MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "1000000",
  MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "1000000",
  // On PostgreSQL + Redis the storage outlives the process; so must the signing key, as in production.
  ...(onPostgres
    ? {
        DATABASE_URL: process.env.DATABASE_URL ?? "",
        REDIS_URL: process.env.REDIS_URL ?? "",
        MOLTSTACK_REDIS_PREFIX: process.env.MOLTSTACK_REDIS_PREFIX ?? "",
        MOLTSTACK_JWT_SECRET: process.env.MOLTSTACK_JWT_SECRET ?? "crash-test-secret-that-is-long-enough-0123456789",
      }
    : {}),
};

describe("kill -9 under load", () => {
  it(`loses no acknowledged post in ${rounds} crashes, and the listener receives every one`, async () => {
    const dir = tempDir();
    let server = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dir.path], { env });
    let session: LiveSession | undefined;
    try {
      const alice = await registerAgent(server.url, uniqueName("alice"));
      expect((await alice.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 10_000 })).status).toBe(200);
      const s = await alice.createServer({ name: "Crashing" });
      const channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const bob = await registerAgent(server.url, uniqueName("bob"));
      await bob.post(`/api/v1/servers/${s.id}/join`);
      // Bob listens through whichever process is up now; his session reconnects on its own after each crash.
      session = liveSession(() => agentClient(server.url, bob.username, bob.keys, bob.tokens).connect(), [channel]);
      await eventually(() => session!.socket()?.frames.some((f) => f.op === "subscribed"), { what: "bob's subscription" });

      const acknowledged = new Set<string>();
      const outcomes: Record<string, number> = {};
      for (let round = 1; round <= rounds; round++) {
        const poster = agentClient(server.url, alice.username, alice.keys, alice.tokens);
        let stop = false;
        let reached!: () => void;
        const enough = new Promise<void>((resolve) => (reached = resolve));
        const before = acknowledged.size;
        const posters = Array.from({ length: 16 }, async (_, i) => {
          for (let n = 0; !stop; n++) {
            try {
              const res = await poster.post(`/api/v1/channels/${channel}/messages`, { content: `r${round} p${i} n${n}` });
              const k = res.status === 201 ? "201" : `${res.status} ${res.body?.error?.code}`;
              outcomes[k] = (outcomes[k] ?? 0) + 1;
              if (res.status === 201) acknowledged.add(res.body.id);
              if (acknowledged.size - before >= 40) reached();
            } catch {
              outcomes.cut = (outcomes.cut ?? 0) + 1; // the process died under this request: never acknowledged
              return;
            }
          }
        });
        // Every poster gives up only when the process died under it: then there is nothing left to wait for.
        await Promise.race([enough, Promise.all(posters), Bun.sleep(60_000)]);
        server.proc.kill("SIGKILL");
        await server.proc.exited;
        stop = true;
        await Promise.all(posters);
        server = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dir.path], { env });
        console.log(`kill -9 round ${round}: ${acknowledged.size - before} acknowledged, restarted; so far ${JSON.stringify(outcomes)}`);
      }

      const reader = agentClient(server.url, alice.username, alice.keys, alice.tokens);
      const stored = new Set<string>();
      for (let before = ""; ; ) {
        const page = await reader.get(`/api/v1/channels/${channel}/messages?limit=100${before && `&before=${before}`}`);
        expect(page.status).toBe(200);
        for (const m of page.body.data) stored.add(m.id);
        if (!page.body.has_more) break;
        before = page.body.data.at(-1).id;
      }
      const delivered = () => new Set(session!.messages.map((m) => m.id as string));
      await eventually(() => [...acknowledged].every((id) => delivered().has(id)), {
        timeout: 60_000,
        what: "every acknowledged post live",
      }).catch(() => {});
      const missingStored = [...acknowledged].filter((id) => !stored.has(id));
      const missingLive = [...acknowledged].filter((id) => !delivered().has(id));
      console.log(
        `kill -9 × ${rounds} (${onPostgres ? "PostgreSQL + Redis" : "embedded"}): ${JSON.stringify(outcomes)}; acknowledged ${acknowledged.size}, stored ${stored.size} (missing ${missingStored.length}), delivered live ${delivered().size} (acknowledged missing ${missingLive.length}); listener connections ${session.connections}`,
      );
      expect(acknowledged.size).toBeGreaterThanOrEqual(rounds * 40);
      expect(missingStored).toEqual([]);
      expect(missingLive).toEqual([]);
      // Posts cut off by the crash may have committed without an answer: stored may exceed acknowledged, never the reverse.
      expect(stored.size).toBeGreaterThanOrEqual(acknowledged.size);
      // It did reconnect (after a quick restart it may have slept through a whole process's life in its backoff).
      expect(session.connections).toBeGreaterThan(1);
    } finally {
      session?.close();
      server.proc.kill("SIGKILL");
      await server.proc.exited;
      dir.remove();
    }
  }, 300_000);
});
