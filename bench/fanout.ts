// Gateway fan-out benchmark: N listener agents subscribe to one channel over WebSocket; a few poster agents post
// to it over WebSocket at a fixed rate (open loop: sends follow the schedule whatever the acks do). Each message
// carries its send time; every listener measures send → receipt. Prints deliveries/s, latency percentiles,
// losses and ack latency, then closes every socket and stops the server it started.
//
//   bun bench/fanout.ts --subscribers 100
//   bun bench/fanout.ts --subscribers 1000 --rate 50 --seconds 10
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379 \
//     MOLTSTACK_JWT_SECRET=... bun bench/fanout.ts --subscribers 1000      (Postgres + Redis mode)

import { wsUrl } from "../src/client/gateway.ts";
import {
  configure,
  cpuMeter,
  machineNote,
  maxOutboundPerHour,
  ms,
  num,
  parseOptions,
  pct,
  pool,
  progress,
  registerMany,
  startTarget,
  summarize,
  table,
} from "./common.ts";

const opts = parseOptions("fanout.ts", "WebSocket fan-out: N subscribers of one channel, posters at a fixed rate.", {
  subscribers: { default: 100, help: "listener agents subscribed to the channel" },
  posters: { default: 4, help: "poster agents (they post over WebSocket, round robin)" },
  rate: { default: 50, help: "messages per second, all posters together" },
  seconds: { default: 10, help: "how long to post" },
  drain: { default: 30, help: "at most this many seconds after the last send for acks and deliveries still in flight" },
  "idle-timeout": { default: 0, help: "listeners' idle_timeout_seconds (30-3600; 0 = the agent default, 60)" },
  concurrency: { default: 16, help: "parallel registrations / joins / subscribes while setting up" },
  url: { default: "", help: "use a server that is already running (loopback only) instead of starting one" },
  postgres: { default: false, help: "run the server on a scratch database of the local PostgreSQL + the local Redis (dropped after)" },
  json: { default: false, help: "also print the figures as one JSON line" },
});

const N = Math.floor(opts.subscribers);
const M = Math.max(1, Math.round(opts.rate * opts.seconds));
// Each poster may send at most max_outbound_per_hour messages an hour: add posters when the run needs more.
const P = Math.max(1, Math.floor(opts.posters), Math.ceil(M / (maxOutboundPerHour * 0.9)));
if (N < 1) throw new Error("--subscribers must be at least 1");

const now = () => performance.timeOrigin + performance.now(); // epoch ms, sub-millisecond
const marker = "fanout-bench seq=";

/** `presence` counts the presence frames (snapshot and changes) the listener received while the listeners subscribed. */
type Listener = { ws: WebSocket; seen: Uint8Array; last: number; lastId: string; closedWith?: number; presence: number };
/** While true, listeners count presence frames: the subscribe wave. */
let wave = true;

// Counters, filled by the socket handlers.
const latencies = new Float64Array(M * N);
/** Receipt minus the first receipt of the same message by any listener: the fan-out's own spread, without the post path. */
const spreads = new Float64Array(M * N);
const firstReceipt = new Float64Array(M).fill(NaN);
let delivered = 0;
let duplicates = 0;
let outOfOrder = 0;
/** Frames whose message id (UUIDv7) is lower than one this listener already received: a client resuming with
 * `since: <last id seen>` after a reconnect would never get those back. */
let outOfIdOrder = 0;
let foreign = 0;
let lastReceipt = 0;
const perMessage = new Uint32Array(M);
const sentAt = new Float64Array(M).fill(NaN);
const acked = new Uint8Array(M);
const ackLatency: number[] = [];
const errors = new Map<string, number>();
const errorCount = () => [...errors.values()].reduce((a, b) => a + b, 0);
const closes = new Map<number, number>();

/** Frames other than messages that listeners received (presence, typing...), during setup and during the run. */
const otherFrames = { setup: new Map<string, number>(), run: new Map<string, number>() };
let running = false;
function countOther(data: string) {
  const op = data.startsWith('{"op":"') ? data.slice(7, data.indexOf('"', 7)) : "?";
  const m = running ? otherFrames.run : otherFrames.setup;
  m.set(op, (m.get(op) ?? 0) + 1);
}

function onListenerFrame(l: Listener, data: string) {
  if (wave && data.startsWith('{"op":"presence"')) l.presence++;
  if (!data.startsWith('{"op":"message",')) return countOther(data);
  const at = now();
  const i = data.indexOf(marker);
  if (i < 0) {
    foreign++;
    return;
  }
  // content: "fanout-bench seq=<n> t=<epoch ms>"
  const rest = data.slice(i + marker.length, i + marker.length + 40);
  const sp = rest.indexOf(" t=");
  const seq = Number(rest.slice(0, sp));
  const t = Number(rest.slice(sp + 3, rest.indexOf('"')));
  if (!(seq >= 0 && seq < M)) {
    foreign++;
    return;
  }
  if (l.seen[seq]) {
    duplicates++;
    return;
  }
  l.seen[seq] = 1;
  if (seq < l.last) outOfOrder++;
  l.last = seq;
  // The frame starts {"op":"message","channel":"<36>","id":"<36>"
  const id = data.slice(data.indexOf('"id":"') + 6, data.indexOf('"id":"') + 42);
  if (id < l.lastId) outOfIdOrder++;
  else l.lastId = id;
  if (Number.isNaN(firstReceipt[seq])) firstReceipt[seq] = at;
  spreads[delivered] = at - firstReceipt[seq];
  latencies[delivered++] = at - t;
  perMessage[seq]++;
  lastReceipt = at;
}

/** Opens /ws, waits for `ready`, subscribes to the channel and waits for `subscribed`. */
function connectListener(baseUrl: string, token: string, channelId: string): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(baseUrl, token));
    const l: Listener = { ws, seen: new Uint8Array(M), last: -1, lastId: "", presence: 0 };
    let state: "ready" | "subscribed" | "live" = "ready";
    const timer = setTimeout(() => {
      reject(new Error(`subscribe timed out (state ${state})`));
      ws.close();
    }, 30_000);
    ws.onmessage = (ev) => {
      const data = String(ev.data);
      if (state === "live") return onListenerFrame(l, data);
      if (data.startsWith('{"op":"presence"')) l.presence++;
      countOther(data);
      if (data.startsWith('{"op":"error"')) {
        clearTimeout(timer);
        reject(new Error(`gateway error while subscribing: ${data}`));
        return;
      }
      if (state === "ready" && data.startsWith('{"op":"ready"')) {
        state = "subscribed";
        ws.send(JSON.stringify({ op: "subscribe", channels: [channelId] }));
      } else if (state === "subscribed" && data.startsWith('{"op":"subscribed"')) {
        state = "live";
        clearTimeout(timer);
        resolve(l);
      }
    };
    ws.onclose = (ev) => {
      l.closedWith = ev.code;
      if (state !== "live") {
        clearTimeout(timer);
        reject(new Error(`socket closed while subscribing: ${ev.code} ${ev.reason}`));
      } else closes.set(ev.code, (closes.get(ev.code) ?? 0) + 1);
    };
    ws.onerror = () => {
      if (state !== "live") {
        clearTimeout(timer);
        reject(new Error("could not open the gateway"));
      }
    };
  });
}

function connectPoster(baseUrl: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(baseUrl, token));
    let ready = false;
    ws.onmessage = (ev) => {
      const data = String(ev.data);
      if (!ready) {
        if (data.startsWith('{"op":"ready"')) {
          ready = true;
          resolve(ws);
        }
        return;
      }
      if (data.startsWith('{"op":"message_ack"')) {
        const f = JSON.parse(data);
        const seq = Number(f.nonce);
        if (seq >= 0 && seq < M && !acked[seq]) {
          acked[seq] = 1;
          ackLatency.push(now() - sentAt[seq]);
        }
      } else if (data.startsWith('{"op":"error"')) {
        const f = JSON.parse(data);
        errors.set(f.code, (errors.get(f.code) ?? 0) + 1);
      }
    };
    ws.onclose = (ev) => {
      if (!ready) reject(new Error(`poster socket closed: ${ev.code} ${ev.reason}`));
      else closes.set(ev.code, (closes.get(ev.code) ?? 0) + 1);
    };
    ws.onerror = () => {
      if (!ready) reject(new Error("could not open the gateway"));
    };
  });
}

const describe = (m: Map<string, number>) =>
  m.size
    ? [...m]
        .sort((a, b) => b[1] - a[1])
        .map(([op, n]) => `${op} x${num(n)}`)
        .join(", ")
    : "none";

/**
 * The same load against a bare Bun topic server (bench/bare-topic-server.ts) in its own process, run right after the
 * MoltStack run on the same machine: N listeners subscribed to one topic, P posters at the same rate. Answers the
 * send-to-receipt latencies and deliveries.
 */
async function bareReference(): Promise<{ lat: ReturnType<typeof summarize>; delivered: number; expected: number }> {
  const child = Bun.spawn([process.execPath, `${import.meta.dir}/bare-topic-server.ts`], { stdout: "pipe", stderr: "inherit" });
  const sockets: WebSocket[] = [];
  try {
    const reader = child.stdout.getReader();
    let out = "";
    while (!/listening on (\S+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the bare topic server did not start");
      out += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const url = /listening on (\S+)/.exec(out)![1];
    const got = new Float64Array(M * N);
    let count = 0;
    const open = (onText: (t: string) => void) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url);
        sockets.push(ws);
        ws.onopen = () => resolve(ws);
        ws.onerror = () => reject(new Error("bare: socket failed"));
        ws.onmessage = (e) => onText(String(e.data));
      });
    await pool(
      Array.from({ length: N }, (_, k) => k),
      opts.concurrency * 2,
      async () => {
        let subscribed!: () => void;
        const done = new Promise<void>((r) => (subscribed = r));
        const ws = await open((text) => {
          if (text === "subscribed") return subscribed();
          const at = now();
          const i = text.indexOf(" t=");
          if (i < 0) return;
          got[count++] = at - Number(text.slice(i + 3, text.indexOf('"', i)));
        });
        ws.send("subscribe");
        await done;
      },
    );
    const posters = await Promise.all(Array.from({ length: P }, () => open(() => {})));
    await Bun.sleep(500);
    const start = now();
    for (let i = 0; i < M; ) {
      const wait = start + (i * 1000) / opts.rate - now();
      if (wait > 1) await Bun.sleep(wait);
      const t0 = now();
      while (i < M && start + (i * 1000) / opts.rate <= t0 + 0.5) {
        posters[i % P].send(`${marker}${i} t=${now().toFixed(3)}`);
        i++;
      }
    }
    const deadline = now() + 10_000;
    while (count < M * N && now() < deadline) await Bun.sleep(50);
    return { lat: summarize(got.subarray(0, count)), delivered: count, expected: M * N };
  } finally {
    for (const ws of sockets) {
      try {
        ws.close(1000);
      } catch {}
    }
    child.kill();
    await child.exited;
  }
}

async function main() {
  console.log(
    `fanout: ${N} subscribers, ${P} posters, ${opts.rate} msg/s for ${opts.seconds} s (${M} messages, ${num(M * N)} deliveries expected)`,
  );
  const target = await startTarget({ url: opts.url || undefined, postgres: opts.postgres });
  progress(`server ${target.url} (${target.mode})${target.pid ? `, pid ${target.pid}` : ""}`);
  const sockets: WebSocket[] = [];
  try {
    // ---- setup: agents, one server, its general channel
    const setupStarted = performance.now();
    const posters = await registerMany(target.url, "p", P, Math.min(P, opts.concurrency));
    await Promise.all(posters.map((a) => configure(a, { max_outbound_per_hour: maxOutboundPerHour })));
    const listeners = await registerMany(target.url, "l", N, opts.concurrency);
    if (opts["idle-timeout"]) await pool(listeners, opts.concurrency, (a) => configure(a, { idle_timeout_seconds: opts["idle-timeout"] }));
    const server = await posters[0].createServer({ name: `fanout bench ${N}`, max_members: Math.min(100_000, N + P + 10) });
    await pool([...posters.slice(1), ...listeners], opts.concurrency, async (a) => {
      const res = await a.post(`/api/v1/servers/${server.id}/join`);
      if (res.status !== 200) throw new Error(`join failed: ${res.status} ${JSON.stringify(res.body)}`);
    });
    const channels = await posters[0].get(`/api/v1/servers/${server.id}/channels`);
    const channelId: string | undefined = channels.body?.data?.find((c: { name: string }) => c.name === "general")?.id;
    if (!channelId) throw new Error(`no general channel: ${JSON.stringify(channels.body)}`);

    // ---- sockets
    const t = performance.now();
    const ls = await pool(listeners, opts.concurrency * 2, async (a) => {
      const l = await connectListener(target.url, a.tokens.api_token, channelId);
      sockets.push(l.ws);
      return l;
    });
    const waveSeconds = (performance.now() - t) / 1000;
    wave = false;
    const perListener = summarize(ls.map((l) => l.presence));
    progress(
      `${N} listeners subscribed in ${waveSeconds.toFixed(1)} s; presence frames per listener meanwhile: mean ${perListener.mean.toFixed(1)}, max ${perListener.max}`,
    );
    const ps = await Promise.all(posters.map((a) => connectPoster(target.url, a.tokens.api_token)));
    sockets.push(...ps);
    progress(`setup took ${((performance.now() - setupStarted) / 1000).toFixed(1)} s; posting`);
    await Bun.sleep(500);

    // ---- the run: open loop, message i is due at start + i/rate
    const cpu = cpuMeter(target.pid);
    cpu.start();
    running = true;
    const start = now();
    let maxLag = 0;
    for (let i = 0; i < M; ) {
      const due = start + (i * 1000) / opts.rate;
      const wait = due - now();
      if (wait > 1) await Bun.sleep(wait);
      const t0 = now();
      // Send everything that is due (catches up if a sleep overslept).
      while (i < M && start + (i * 1000) / opts.rate <= t0 + 0.5) {
        const sendAt = now();
        maxLag = Math.max(maxLag, sendAt - (start + (i * 1000) / opts.rate));
        sentAt[i] = sendAt;
        ps[i % P].send(JSON.stringify({ op: "message", channel: channelId, content: `${marker}${i} t=${sendAt.toFixed(3)}`, nonce: i }));
        i++;
      }
    }
    const sendEnd = now();

    // ---- drain: until every ack and delivery arrived, or nothing moved for 5 s (the rest is lost),
    // or --drain passed while things were still arriving (the rest may be late rather than lost).
    const expected = M * N;
    const drainDeadline = sendEnd + opts.drain * 1000;
    let lastCount = -1;
    let still = now();
    let stopped: "complete" | "stalled" | "deadline" = "complete";
    while (delivered < expected || ackLatency.length + errorCount() < M) {
      await Bun.sleep(50);
      const progress = delivered + ackLatency.length;
      if (progress !== lastCount) {
        lastCount = progress;
        still = now();
      }
      if (now() - still > 5000) {
        stopped = "stalled";
        break;
      }
      if (now() > drainDeadline) {
        stopped = "deadline";
        break;
      }
    }
    const usage = cpu.stop();
    running = false;

    // ---- figures
    const lat = summarize(latencies.subarray(0, delivered));
    const ack = summarize(ackLatency);
    const spread = summarize(spreads.subarray(0, delivered));
    const span = (Math.max(lastReceipt, sendEnd) - start) / 1000;
    const lost = expected - delivered;
    // Losses count only messages the server accepted (acked); rejected ones are reported as errors.
    let messagesLost = 0;
    let messagesPartly = 0;
    let lostOfAcked = 0;
    for (let i = 0; i < M; i++) {
      if (!acked[i]) continue;
      lostOfAcked += N - perMessage[i];
      if (perMessage[i] === 0) messagesLost++;
      else if (perMessage[i] < N) messagesPartly++;
    }
    const expectedOfAcked = ackLatency.length * N;
    const stillOpen = ls.filter((l) => l.closedWith === undefined).length;

    progress("the same load against a bare Bun topic server (the reference)");
    const bare = await bareReference();

    console.log();
    console.log(
      table(
        [
          ["mode", `${target.mode}, server code ${target.commit}`],
          ["subscribers / posters", `${N} / ${P}${opts["idle-timeout"] ? ` (listeners' idle timeout ${opts["idle-timeout"]} s)` : ""}`],
          ["messages sent (acked)", `${M} (${ackLatency.length})`],
          ["offered rate", `${opts.rate} msg/s -> ${num(opts.rate * N)} deliveries/s`],
          ["deliveries", `${num(delivered)} of ${num(expected)}`],
          ["deliveries/s", `${num(delivered / span)} (over ${span.toFixed(2)} s, first send to last receipt)`],
          [
            "lost deliveries (acked messages)",
            `${num(lostOfAcked)} of ${num(expectedOfAcked)} (${expectedOfAcked ? ((lostOfAcked / expectedOfAcked) * 100).toFixed(3) : "-"}%; ${messagesLost} msgs reached nobody, ${messagesPartly} reached some)`,
          ],
          [
            "messages not acked",
            `${M - ackLatency.length}${lost > lostOfAcked ? ` (${num(lost - lostOfAcked)} deliveries missing because of them)` : ""}`,
          ],
          [
            "drain",
            stopped === "complete"
              ? "complete: every ack and delivery arrived"
              : stopped === "stalled"
                ? "stalled: nothing arrived for 5 s, missing = lost"
                : `cut at --drain ${opts.drain} s while still arriving: missing may be late, not lost`,
          ],
          ["duplicates", String(duplicates)],
          [
            "out of order: send order / id order",
            `${num(outOfOrder)} / ${num(outOfIdOrder)} (concurrent posters; id order matters for since=)`,
          ],
          ["e2e latency p50 / p95 / p99 / max", `${ms(lat.p50)} / ${ms(lat.p95)} / ${ms(lat.p99)} / ${ms(lat.max)}`],
          ["ack latency p50 / p95 / p99 / max", `${ms(ack.p50)} / ${ms(ack.p95)} / ${ms(ack.p99)} / ${ms(ack.max)}`],
          [
            "fan-out spread p50 / p99 / max",
            `${ms(spread.p50)} / ${ms(spread.p99)} / ${ms(spread.max)} (receipt - first receipt of that message)`,
          ],
          [
            "bare Bun topic server, same load, same run: e2e p50 / p99",
            `${ms(bare.lat.p50)} / ${ms(bare.lat.p99)} (${num(bare.delivered)} of ${num(bare.expected)} delivered); MoltStack's p99 is ${(lat.p99 / bare.lat.p99).toFixed(2)}x`,
          ],
          ["send schedule lag (max)", ms(maxLag)],
          [
            "subscribe wave",
            `${N} listeners in ${waveSeconds.toFixed(1)} s; presence frames per listener meanwhile (snapshot included): mean ${perListener.mean.toFixed(1)}, p50 ${perListener.p50}, max ${perListener.max}`,
          ],
          ["other frames to listeners (setup)", describe(otherFrames.setup)],
          ["other frames to listeners (run)", describe(otherFrames.run)],
          ["errors", errors.size ? [...errors].map(([c, n]) => `${c} x${n}`).join(", ") : "none"],
          [
            "sockets closed by server",
            closes.size ? [...closes].map(([c, n]) => `${c} x${n}`).join(", ") : `none (${stillOpen}/${N} listeners open)`,
          ],
          ["CPU: server / load generator", `${pct(usage.server)} / ${pct(usage.loadgen)} of one core`],
        ],
        ["fan-out", "result"],
      ),
    );
    console.log(`note: ${machineNote()}; latencies include the load generator's own event-loop delay.`);
    if (opts.json) {
      console.log(
        JSON.stringify({
          bench: "fanout",
          mode: target.mode,
          subscribers: N,
          posters: P,
          rate: opts.rate,
          seconds: opts.seconds,
          messages: M,
          acked: ackLatency.length,
          drain: stopped,
          expected,
          delivered,
          lost,
          lost_of_acked: lostOfAcked,
          duplicates,
          out_of_send_order: outOfOrder,
          out_of_id_order: outOfIdOrder,
          deliveries_per_s: delivered / span,
          latency_ms: lat,
          bare_latency_ms: bare.lat,
          p99_vs_bare: lat.p99 / bare.lat.p99,
          ack_ms: ack,
          spread_ms: spread,
          server_commit: target.commit,
          max_send_lag_ms: maxLag,
          subscribe_wave_s: waveSeconds,
          presence_frames_per_listener: { mean: perListener.mean, p50: perListener.p50, max: perListener.max },
          cpu_server: usage.server,
          cpu_loadgen: usage.loadgen,
          errors: Object.fromEntries(errors),
          other_frames_setup: Object.fromEntries(otherFrames.setup),
          other_frames_run: Object.fromEntries(otherFrames.run),
          closes: Object.fromEntries(closes),
        }),
      );
    }
    if (foreign) progress(`${foreign} message frames without the benchmark marker were ignored`);
  } finally {
    for (const ws of sockets) {
      try {
        ws.close(1000);
      } catch {}
    }
    await Bun.sleep(100);
    await target.stop();
  }
}

await main().then(
  () => process.exit(0),
  (e) => {
    console.error(`fanout: ${(e as Error).message}`);
    process.exit(1);
  },
);
