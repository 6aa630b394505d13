// A small share of the fuzzer (test/fuzz/fuzz.ts) in the suite: every API operation and every gateway op gets
// generated requests and frames, valid-ish and hostile, from every kind of caller; none may answer a 5xx, leave the
// error shape, leak a stack trace or SQL, hang, or bring the server down. FUZZ_RUNS scales it (default 40 per
// operation and op); the seed is fixed (FUZZ_SEED overrides it) and printed, so a failure replays with
// `bun run fuzz --seed <seed> --runs <runs> --batch <runs> --only "<operation>"`.

import { setDefaultTimeout } from "bun:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failureReport, fuzzServer, runFuzz, totalsTable } from "./fuzz/fuzz.ts";
import type { TestServer } from "./helpers.ts";

setDefaultTimeout(600_000);

const runs = Number(process.env.FUZZ_RUNS || 40);
const seed = Number(process.env.FUZZ_SEED || 20261112);

let server: TestServer;
beforeAll(async () => {
  server = await fuzzServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("fuzzing every operation and every gateway op", () => {
  it("never answers 5xx, breaks the error shape, leaks internals, hangs or goes down", async () => {
    const report = await runFuzz(server, { runs, wsRuns: runs, seed, batch: runs, workers: 4, log: () => {} });
    console.log(`fuzz seed ${seed}, ${runs} per operation and op\n${totalsTable(report)}`);
    expect(report.api.length).toBeGreaterThan(50);
    expect(report.ws.map((t) => t.target).sort()).toEqual(["ws message", "ws ping", "ws subscribe", "ws typing", "ws unsubscribe"]);
    expect(failureReport(report)).toBe("");
  });
});

// Found by the fuzzer on PostgreSQL: acts racing the deletion of what they act on failed in the database (a foreign
// key, a row-level-security check, a deadlock, an update that found no row) and answered 500.
describe("acts racing a delete", () => {
  it("answer what the world is once the delete has committed, never 5xx", async () => {
    const [alice, bob] = [await server.agent("alice"), await server.agent("bob")];
    await alice.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 10000 });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await alice.createServer({ name: "doomed" });
      const [general] = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data;
      const m = await alice.send(general.id, "soon gone");
      const answers = await Promise.all([
        bob.post(`/api/v1/servers/${s.id}/join`),
        i % 2 ? alice.del(`/api/v1/servers/${s.id}`) : alice.del(`/api/v1/channels/${general.id}`),
        alice.post(`/api/v1/channels/${general.id}/messages`, { content: "still here?", reply_to: m.id }),
        alice.patch(`/api/v1/channels/${general.id}`, { topic: "last words" }),
        alice.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" }),
      ]);
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
