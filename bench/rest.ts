// REST throughput: K agents, each with one request in flight (closed loop), for S seconds per phase:
//   post     POST /api/v1/channels/<id>/messages      (every agent posts to the same channel; --channels N spreads them)
//   me       GET  /api/v1/agents/@me                  (authenticated, one small row)
//   history  GET  /api/v1/channels/<id>/messages      (authenticated, 50 messages with authors and reactions)
//   bare     GET on a bare Bun.serve handler in its own process: the ceiling of this load generator on this machine
//
//   bun bench/rest.ts
//   bun bench/rest.ts --agents 32 --seconds 10 --phases post,me,history,bare
//   bun bench/rest.ts --channels 16 --phases post,bare      (agent k posts to channel k mod 16)
// With the bare phase in the run, every row also shows its rate as a share of the bare handler's (the machine is
// shared: ratios taken in one run are the comparable figure, absolute rates are not).
import {
  configure,
  cpuMeter,
  machineNote,
  maxOutboundPerHour,
  ms,
  num,
  parseOptions,
  pct,
  progress,
  registerMany,
  repoRoot,
  startTarget,
  summarize,
  table,
} from "./common.ts";

const opts = parseOptions("rest.ts", "REST throughput: K concurrent agents, closed loop, S seconds per phase.", {
  agents: { default: 16, help: "concurrent agents (one request in flight each)" },
  seconds: { default: 10, help: "measured seconds per phase" },
  warmup: { default: 1, help: "seconds of load before each phase's measurement starts (not counted)" },
  phases: { default: "post,me,history,bare", help: "comma-separated: post, me, history, bare" },
  history: { default: 50, help: "?limit= of the history GET" },
  fill: { default: 1000, help: "messages the history channel holds at least before the history phase (topped up first)" },
  channels: { default: 1, help: "channels the post phase spreads its agents over (agent k posts to channel k mod N)" },
  concurrency: { default: 16, help: "parallel registrations / joins while setting up" },
  url: { default: "", help: "use a server that is already running (loopback only) instead of starting one" },
  postgres: { default: false, help: "run the server on a scratch database of the local PostgreSQL + the local Redis (dropped after)" },
  json: { default: false, help: "also print the figures as one JSON line" },
});

const K = Math.max(1, Math.floor(opts.agents));
const phases = opts.phases
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const p of phases) if (!["post", "me", "history", "bare"].includes(p)) throw new Error(`unknown phase ${p}`);

type Request = { url: string; init: RequestInit; expect: number };
type PhaseResult = {
  phase: string;
  what: string;
  ok: number;
  /** Successful requests including the warmup (for the post phase: how many messages the channel got). */
  okTotal: number;
  failed: number;
  statuses: Record<string, number>;
  perSecond: number;
  latency: ReturnType<typeof summarize>;
  cpuServer?: number;
  cpuLoadgen: number;
};

/** K workers, each sending its next request as soon as the previous answered, for warmup + S seconds. */
async function runPhase(phase: string, what: string, requests: ((n: number) => Request)[], serverPid?: number): Promise<PhaseResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let okTotal = 0;
  let failed = 0;
  const begin = performance.now();
  const measureFrom = begin + opts.warmup * 1000;
  const end = measureFrom + opts.seconds * 1000;
  const cpu = cpuMeter(serverPid);
  let started = false;
  const startCpu = setTimeout(() => {
    cpu.start();
    started = true;
  }, opts.warmup * 1000);
  let sample = "";
  await Promise.all(
    requests.map(async (make) => {
      for (let n = 0; performance.now() < end; n++) {
        const r = make(n);
        const t0 = performance.now();
        let status = 0;
        try {
          const res = await fetch(r.url, r.init);
          await res.arrayBuffer();
          status = res.status;
          if (status !== r.expect && !sample) sample = `${status} ${await res.text().catch(() => "")}`;
        } catch (e) {
          if (!sample) sample = (e as Error).message;
        }
        const t1 = performance.now();
        if (status === r.expect) okTotal++;
        if (t0 < measureFrom || t1 > end) continue;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === r.expect) {
          ok++;
          latencies.push(t1 - t0);
        } else failed++;
      }
    }),
  );
  clearTimeout(startCpu);
  const usage = started ? cpu.stop() : { server: undefined, loadgen: NaN };
  if (sample) progress(`${phase}: first unexpected answer: ${sample.slice(0, 200)}`);
  return {
    phase,
    what,
    ok,
    okTotal,
    failed,
    statuses,
    perSecond: ok / opts.seconds,
    latency: summarize(latencies),
    cpuServer: usage.server,
    cpuLoadgen: usage.loadgen,
  };
}

/** A bare Bun.serve handler in its own process: what this load generator can push through HTTP at all. */
async function startBare(): Promise<{ url: string; pid: number; stop(): void }> {
  const child = Bun.spawn(
    [
      process.execPath,
      "-e",
      `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ id: "bare", ok: true }) }); console.log("listening " + s.port);`,
    ],
    { cwd: repoRoot, stdout: "pipe", stderr: "inherit" },
  );
  process.once("exit", () => child.kill("SIGKILL"));
  const reader = child.stdout.getReader();
  let out = "";
  while (!/listening \d+/.test(out)) {
    const r = await reader.read();
    if (r.done) throw new Error("bare server did not start");
    out += new TextDecoder().decode(r.value);
  }
  return { url: `http://127.0.0.1:${/listening (\d+)/.exec(out)![1]}`, pid: child.pid, stop: () => child.kill("SIGTERM") };
}

async function main() {
  console.log(`rest: ${K} concurrent agents, ${opts.seconds} s per phase (after ${opts.warmup} s warmup): ${phases.join(", ")}`);
  const results: PhaseResult[] = [];
  const needServer = phases.some((p) => p !== "bare");
  const target = needServer ? await startTarget({ url: opts.url || undefined, postgres: opts.postgres }) : undefined;
  try {
    if (target) {
      progress(`server ${target.url} (${target.mode})${target.pid ? `, pid ${target.pid}` : ""}`);
      const agents = await registerMany(target.url, "r", K, opts.concurrency);
      // Agents limit their own outbound messages (max_outbound_per_hour, default 100): raise it to the maximum.
      await Promise.all(agents.map((a) => configure(a, { max_outbound_per_hour: maxOutboundPerHour })));
      const server = await agents[0].createServer({ name: `rest bench ${K}` });
      await Promise.all(
        agents.slice(1).map(async (a) => {
          const res = await a.post(`/api/v1/servers/${server.id}/join`);
          if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
        }),
      );
      const channels = await agents[0].get(`/api/v1/servers/${server.id}/channels`);
      const channelId: string = channels.body.data.find((c: { name: string }) => c.name === "general").id;
      // --channels N: the post phase's agent k posts to postChannels[k mod N] (the first is "general").
      const postChannels = [channelId];
      for (let i = 1; i < Math.max(1, Math.floor(opts.channels)); i++) {
        const res = await agents[0].post(`/api/v1/servers/${server.id}/channels`, { name: `bench-${i}` });
        if (res.status !== 201) throw new Error(`channel create failed: ${res.status} ${JSON.stringify(res.body)}`);
        postChannels.push(res.body.id);
      }
      const auth = (token: string) => ({ authorization: `Bearer ${token}` });

      let channelSize = 0;
      for (const phase of phases) {
        if (phase === "post") {
          progress(`posting (${postChannels.length} channel${postChannels.length > 1 ? "s" : ""})`);
          results.push(
            await runPhase(
              "post",
              `POST /api/v1/channels/:id/messages (${postChannels.length > 1 ? `${K} agents over ${postChannels.length} channels` : "one channel"})`,
              agents.map((a, k) => {
                const headers = { ...auth(a.tokens.api_token), "content-type": "application/json" };
                const url = `${target.url}/api/v1/channels/${postChannels[k % postChannels.length]}/messages`;
                return (n) => ({
                  url,
                  init: { method: "POST", headers, body: JSON.stringify({ content: `rest bench ${k}:${n}` }) },
                  expect: 201,
                });
              }),
              target.pid,
            ),
          );
          channelSize += Math.ceil(results[results.length - 1].okTotal / postChannels.length);
        } else if (phase === "me") {
          progress("GET @me");
          results.push(
            await runPhase(
              "me",
              "GET /api/v1/agents/@me",
              agents.map((a) => {
                const r = { url: `${target.url}/api/v1/agents/@me`, init: { headers: auth(a.tokens.api_token) }, expect: 200 };
                return () => r;
              }),
              target.pid,
            ),
          );
        } else if (phase === "history") {
          // A channel of at least --fill messages (and a full page), whatever the post phase left in it.
          const want = Math.max(opts.history, opts.fill);
          if (channelSize < want) {
            progress(`topping the channel up to ${want} messages`);
            const missing = want - channelSize;
            await Promise.all(
              agents.map(async (a, k) => {
                for (let i = k; i < missing; i += K) await a.send(channelId, `history filler ${i}`);
              }),
            );
            channelSize = want;
          }
          progress(`GET history (limit ${opts.history})`);
          results.push(
            await runPhase(
              "history",
              `GET /api/v1/channels/:id/messages?limit=${opts.history} (channel of ${Math.max(opts.history, channelSize)} msgs)`,
              agents.map((a) => {
                const r = {
                  url: `${target.url}/api/v1/channels/${channelId}/messages?limit=${opts.history}`,
                  init: { headers: auth(a.tokens.api_token) },
                  expect: 200,
                };
                return () => r;
              }),
              target.pid,
            ),
          );
        }
      }
    }
    if (phases.includes("bare")) {
      progress("GET on a bare Bun handler (the load generator's ceiling)");
      const bare = await startBare();
      try {
        results.push(
          await runPhase(
            "bare",
            "GET / on bare Bun.serve (baseline)",
            Array.from({ length: K }, () => {
              const r = { url: `${bare.url}/`, init: {}, expect: 200 };
              return () => r;
            }),
            bare.pid,
          ),
        );
      } finally {
        bare.stop();
      }
    }
  } finally {
    await target?.stop();
  }

  const bare = results.find((r) => r.phase === "bare");
  console.log();
  console.log(
    table(
      results.map((r) => [
        r.what,
        num(r.perSecond),
        bare ? `${(r.perSecond / bare.perSecond).toFixed(3)}x` : "-",
        ms(r.latency.p50),
        ms(r.latency.p95),
        ms(r.latency.p99),
        ms(r.latency.max),
        r.failed
          ? `${r.failed} (${Object.entries(r.statuses)
              .filter(([s]) => s !== "200" && s !== "201")
              .map(([s, n]) => `${s}x${n}`)
              .join(" ")})`
          : "0",
        `${pct(r.cpuServer)} / ${pct(r.cpuLoadgen)}`,
      ]),
      ["request", "per s", "of bare", "p50", "p95", "p99", "max", "failed", "CPU server / loadgen"],
      [1, 2, 3, 4, 5, 6],
    ),
  );
  console.log(
    `mode: ${target?.mode ?? "-"}, server code ${target?.commit}; ${K} agents, closed loop (one request in flight each), ${opts.seconds} s per phase`,
  );
  console.log(`note: ${machineNote()}; CPU is a share of one core.`);
  if (opts.json)
    console.log(
      JSON.stringify({
        bench: "rest",
        mode: target?.mode,
        server_commit: target?.commit,
        agents: K,
        channels: opts.channels,
        seconds: opts.seconds,
        results,
      }),
    );
}

await main().then(
  () => process.exit(0),
  (e) => {
    console.error(`rest: ${(e as Error).message}`);
    process.exit(1);
  },
);
