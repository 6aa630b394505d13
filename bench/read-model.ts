// The read model's byte budget (src/read-model/store.ts): a server in this process with a small budget, K channels of
// M messages, every channel's history read twice (a load, then a read from memory), and what the read model then
// holds: its estimate of the bytes it keeps against its budget, what it evicted, the process's resident memory, and
// history reads per second while every channel fits and while they do not (the evicted ones go to the database).
//
//   bun bench/read-model.ts
//   bun bench/read-model.ts --budget-mb 4 --channels 80 --messages 200
import { readFileSync } from "node:fs";
import { loadConfig } from "../src/config.ts";
import { startingSnapshot } from "../src/db/snapshot.ts";
import { startServer } from "../src/server.ts";
import {
  benchLimits,
  configure,
  machineNote,
  maxOutboundPerHour,
  num,
  parseOptions,
  pool,
  progress,
  registerMany,
  table,
} from "./common.ts";

const opts = parseOptions("read-model.ts", "The read model's byte budget: what it keeps, evicts and answers.", {
  "budget-mb": { default: 4, help: "MOLTSTACK_READ_MODEL_MB of the server" },
  channels: { default: 60, help: "channels, each read in turn" },
  messages: { default: 200, help: "messages per channel (200 fill a window)" },
  seconds: { default: 3, help: "seconds of history reads per phase" },
});

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) * 1024;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main() {
  const env = { ...process.env, ...benchLimits, MOLTSTACK_READ_MODEL_MB: String(opts["budget-mb"]) };
  const config = loadConfig(["--port", "0", "--data-dir", "memory:"], env);
  const running = await startServer(config, { snapshot: await startingSnapshot() });
  const store = running.deps.readModel;
  try {
    progress(`server ${running.url} (embedded, in this process), budget ${opts["budget-mb"]} MB`);
    const [owner, ...posters] = await registerMany(running.url, "rm", 9, 9);
    const server = await owner.createServer({ name: "budget" });
    for (const p of posters) {
      await p.post(`/api/v1/servers/${server.id}/join`);
      await configure(p, { max_outbound_per_hour: maxOutboundPerHour });
    }
    const channels: string[] = [];
    for (let i = 0; i < opts.channels; i++)
      channels.push((await owner.post(`/api/v1/servers/${server.id}/channels`, { name: `c${i}` })).body.id);
    progress(`filling ${opts.channels} channels with ${opts.messages} messages each`);
    await pool(channels, 4, async (c) => {
      for (let m = 0; m < opts.messages; m++) await posters[m % posters.length].send(c, `message ${m} of ${c}: ${"words ".repeat(8)}`);
    });
    const before = rss();
    const readAll = async () => {
      for (const c of channels) await owner.get(`/api/v1/channels/${c}/messages?limit=50`);
    };
    await readAll();
    await readAll();
    const windows = [...store.entries.keys()].filter((k) => k.startsWith("window:")).length;
    const rate = async (list: string[]) => {
      let done = 0;
      const until = performance.now() + opts.seconds * 1000;
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = w; performance.now() < until; i += 8, done++)
            await owner.get(`/api/v1/channels/${list[i % list.length]}/messages?limit=50`);
        }),
      );
      return done / opts.seconds;
    };
    const fitting = channels.slice(-Math.max(1, windows - 2));
    const fitRate = await rate(fitting);
    const allRate = await rate(channels);
    console.log(
      table(
        [
          ["budget", mb(store.budgetBytes)],
          ["held (the read model's estimate)", mb(store.usedBytes)],
          ["entries / channel windows held", `${num(store.entries.size)} / ${windows} of ${opts.channels}`],
          ["evicted so far", num(store.stats.evicted)],
          ["this process's RSS before the reads / after (client and server both)", `${mb(before)} / ${mb(rss())}`],
          [`history reads/s, ${fitting.length} channels that fit`, num(fitRate)],
          [`history reads/s, all ${opts.channels} channels (the rest from the database)`, num(allRate)],
          ["hits / misses", `${num(store.stats.hits)} / ${num(store.stats.misses)}`],
        ],
        ["what", "figure"],
        [1],
      ),
    );
    console.log(machineNote());
  } finally {
    await running.stop();
  }
}

await main();
