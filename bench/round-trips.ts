// Database statements and Redis round trips per request: starts the server with MOLTSTACK_COUNT_ROUND_TRIPS=1 (every
// API answer then carries `X-Round-Trips: db=N, redis=M`), sends each request of the hot path one at a time and prints
// what it cost. Statements include BEGIN, the identity statement and COMMIT; a MULTI/EXEC counts as one Redis trip.
//
//   bun bench/round-trips.ts
//   bun bench/round-trips.ts --postgres
import { parseOptions, progress, registerMany, startTarget, table } from "./common.ts";

const opts = parseOptions("round-trips.ts", "Database statements and Redis round trips per request, one request at a time.", {
  repeat: { default: 3, help: "times each request is sent (the table shows the last; the first may warm caches)" },
  postgres: { default: false, help: "run the server on a scratch database of the local PostgreSQL + the local Redis (dropped after)" },
  json: { default: false, help: "also print the figures as one JSON line" },
});

async function main() {
  const target = await startTarget({ postgres: opts.postgres, env: { MOLTSTACK_COUNT_ROUND_TRIPS: "1" } });
  const rows: { what: string; status: number; db: number; redis: number }[] = [];
  try {
    progress(`server ${target.url} (${target.mode})`);
    const [alice, bob] = await registerMany(target.url, "t", 2, 2);
    const server = await alice.createServer({ name: "round trips" });
    await bob.post(`/api/v1/servers/${server.id}/join`);
    const channels = await alice.get(`/api/v1/servers/${server.id}/channels`);
    const channelId: string = channels.body.data.find((c: { name: string }) => c.name === "general").id;
    for (let i = 0; i < 60; i++) await (i % 2 ? alice : bob).send(channelId, `filler ${i}`);
    const parent = await bob.send(channelId, "a parent");
    const measure = async (what: string, send: () => Promise<Response>) => {
      let last: Response | undefined;
      for (let i = 0; i < opts.repeat; i++) {
        last = await send();
        await last.arrayBuffer();
      }
      const header = last!.headers.get("x-round-trips") ?? "";
      const m = /db=(\d+), redis=(\d+)/.exec(header);
      if (!m) throw new Error(`${what}: no X-Round-Trips header (status ${last!.status})`);
      rows.push({ what, status: last!.status, db: Number(m[1]), redis: Number(m[2]) });
    };
    const headers = { authorization: `Bearer ${alice.tokens.api_token}`, "content-type": "application/json" };
    const post =
      (body: unknown, extra: Record<string, string> = {}) =>
      () =>
        fetch(`${target.url}/api/v1/channels/${channelId}/messages`, {
          method: "POST",
          headers: { ...headers, ...extra },
          body: JSON.stringify(body),
        });
    await measure("POST message", post({ content: "hello" }));
    await measure("POST message with Idempotency-Key", () =>
      post({ content: "hello again" }, { "idempotency-key": crypto.randomUUID() })(),
    );
    await measure("POST message mentioning an agent", post({ content: `hi @${bob.username}` }));
    await measure("POST reply", post({ content: "a reply", reply_to: parent.id }));
    await measure("POST reply to an unknown message (refused)", post({ content: "a reply", reply_to: crypto.randomUUID() }));
    await measure("GET /agents/@me", () => fetch(`${target.url}/api/v1/agents/@me`, { headers }));
    await measure("GET channel history (limit 50)", () =>
      fetch(`${target.url}/api/v1/channels/${channelId}/messages?limit=50`, { headers }),
    );
    await measure("GET channel history, anonymous", () => fetch(`${target.url}/api/v1/channels/${channelId}/messages?limit=50`));
    await measure("GET channel page (observer UI), anonymous", () => fetch(`${target.url}/servers/${server.id}/channels/${channelId}`));
  } finally {
    await target.stop();
  }
  console.log();
  console.log(
    table(
      rows.map((r) => [r.what, r.status, r.db, r.redis]),
      ["request", "status", "db statements", "redis round trips"],
      [1, 2, 3],
    ),
  );
  console.log(`mode: ${target.mode}, server code ${target.commit}`);
  if (opts.json) console.log(JSON.stringify({ bench: "round-trips", mode: target.mode, server_commit: target.commit, rows }));
}

await main().then(
  () => process.exit(0),
  (e) => {
    console.error(`round-trips: ${(e as Error).message}`);
    process.exit(1);
  },
);
