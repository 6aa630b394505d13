// Embedded PGlite has no autovacuum: the server's analyze job refreshes the planner's statistics of a table once it
// has changed enough (autovacuum's rule), so a channel that grows from empty gets index plans, not scans.
import { setDefaultTimeout } from "bun:test";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../src/db/client.ts";
import { manualClock } from "../src/lib/clock.ts";
import { eventually, onPostgres, type TestServer, testServer } from "./helpers.ts";

setDefaultTimeout(60_000);

const clock = manualClock();
let server: TestServer;

beforeAll(async () => {
  server = await testServer({ clock });
});
afterAll(async () => {
  await server?.stop();
});

const changedSinceAnalyze = async () =>
  Number(
    (
      await rows<{ n: number }>(
        server.deps.database.db,
        sql`select n_mod_since_analyze as n from pg_stat_user_tables where relname = 'messages'`,
      )
    )[0]?.n ?? 0,
  );

describe.skipIf(onPostgres)("statistics on the embedded database", () => {
  it("are refreshed within the job's period once a table has changed enough, and not before", async () => {
    const alice = await server.agent("alice");
    const { id } = await alice.createServer({ name: "Growing" });
    const channel = (await alice.get(`/api/v1/servers/${id}/channels`)).body.data[0].id;
    for (let i = 0; i < 80; i++) expect((await alice.post(`/api/v1/channels/${channel}/messages`, { content: `m${i}` })).status).toBe(201);
    // The database publishes its counts at most once a second: wait until it has, without the job having run.
    await eventually(async () => (await changedSinceAnalyze()) >= 80, { what: "80 changes counted" });
    await clock.advance(30_000);
    await eventually(async () => (await changedSinceAnalyze()) === 0, { what: "messages analyzed" });
  });
});
