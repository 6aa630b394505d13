// A real OpenClaw gateway for the end-to-end tests: Node 26 and OpenClaw installed from npm into a cache that is
// kept between runs (${XDG_CACHE_HOME:-~/.cache}/moltstack-ci), a stub OpenAI-compatible model on loopback that
// records what reaches it, and one private run folder per gateway (its own HOME, state dir, config and ports).

import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Subprocess, spawn, spawnSync } from "bun";

/** The OpenClaw release the plugin is built and pinned against. */
export const pinnedVersion = "2026.9.6";

const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "moltstack-ci");

function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}) {
  const r = spawnSync(cmd, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 300_000,
  });
  return { ok: r.exitCode === 0, code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** One install at a time per cache folder, across processes (a second CI run on the same machine waits). */
async function locked<T>(name: string, work: () => T): Promise<T> {
  mkdirSync(cacheRoot, { recursive: true });
  const lock = join(cacheRoot, `${name}.lock`);
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (i > 1200) throw new Error(`${lock} held for 10 minutes: remove it if no install is running`);
      await Bun.sleep(500);
    }
  }
  try {
    return work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function installed(dir: string, pkg: string, version?: string): boolean {
  try {
    const v = JSON.parse(readFileSync(join(dir, "node_modules", pkg, "package.json"), "utf8")).version;
    return version ? v === version : Boolean(v);
  } catch {
    return false;
  }
}

/** Node 26 from npm (OpenClaw refuses older Node); answers the folder holding its `node`. */
export async function ensureNode(): Promise<string> {
  const dir = join(cacheRoot, "node26");
  const pkg = `node-linux-${process.arch === "arm64" ? "arm64" : "x64"}`;
  const bin = join(dir, "node_modules", pkg, "bin");
  if (!existsSync(join(bin, "node"))) {
    await locked("node26", () => {
      if (existsSync(join(bin, "node"))) return;
      const r = run(["npm", "i", "--prefix", dir, "--no-audit", "--no-fund", `${pkg}@26`]);
      if (!r.ok) throw new Error(`could not install Node 26 from npm (${pkg}@26): ${r.err.slice(-600)}`);
    });
  }
  const v = run([join(bin, "node"), "--version"]);
  if (!v.ok || !v.out.startsWith("v26.")) throw new Error(`the cached Node 26 does not run: ${v.out}${v.err}`);
  return bin;
}

/** An npm package at an exact version, installed with Node 26 first on PATH into the cache; answers its package folder. */
export async function ensurePackage(name: string, version: string): Promise<string> {
  const nodeBin = await ensureNode();
  const folder = `${name.replace(/^@/, "").replace("/", "-")}-${version}`;
  const dir = join(cacheRoot, folder);
  if (!installed(dir, name, version)) {
    await locked(folder, () => {
      if (installed(dir, name, version)) return;
      // Install scripts check the Node that runs them (`node` on PATH), so Node 26 goes first on PATH.
      const r = run(["npm", "i", "--prefix", dir, "--no-audit", "--no-fund", `${name}@${version}`], {
        timeoutMs: 600_000,
        env: { PATH: `${nodeBin}:${process.env.PATH ?? ""}` },
      });
      if (!r.ok) throw new Error(`could not install ${name}@${version} from npm: ${r.err.slice(-600)}`);
    });
  }
  return join(dir, "node_modules", name);
}

/** OpenClaw `version` from npm, cached; answers its package folder. */
export const ensureOpenClaw = (version: string) => ensurePackage("openclaw", version);

/** The newest OpenClaw release on the registry, asked when the tests run. */
export function newestVersion(): string {
  const r = run(["npm", "view", "openclaw", "version"], { timeoutMs: 60_000 });
  const v = r.out.trim();
  if (!r.ok || !/^\d+\.\d+\.\d+/.test(v))
    throw new Error(`could not ask the npm registry for OpenClaw's newest version: ${r.err.slice(-300)}`);
  return v;
}

// --- the stub model -------------------------------------------------------------------------------------------------

export type ModelRequest = { body: any; text: string };

/** A tool call the stub answers with, once, to the first request whose messages carry `trigger`. */
type ToolCallRule = { trigger: string; name: string; arguments: Record<string, unknown>; fired: boolean };

/**
 * An OpenAI-compatible chat completions endpoint that answers every turn with a short text, streamed as SSE, and
 * records each request so a test can assert what reached the model. `callTool` makes it answer one chosen turn with
 * a tool call instead (when that tool is offered); the turn that carries the tool's result is answered with text.
 */
export function stubModel() {
  const requests: ModelRequest[] = [];
  const rules: ToolCallRule[] = [];
  let n = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname.endsWith("/models"))
        return Response.json({ object: "list", data: [{ id: "echo-1", object: "model" }] });
      if (req.method !== "POST" || !url.pathname.endsWith("/chat/completions")) return new Response("not found", { status: 404 });
      const body = await req.json();
      const text = JSON.stringify(body.messages ?? []);
      requests.push({ body, text });
      const offered = (body.tools ?? []).map((t: { function?: { name?: string } }) => t.function?.name);
      const rule = rules.find((r) => !r.fired && text.includes(r.trigger) && offered.includes(r.name));
      if (rule) rule.fired = true;
      const content = `stub answer ${++n}`;
      const base = { id: `chatcmpl-${n}`, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: "echo-1" };
      const usage = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 };
      const call = rule && { id: `call_${n}`, type: "function", function: { name: rule.name, arguments: JSON.stringify(rule.arguments) } };
      if (!body.stream) {
        return Response.json({
          ...base,
          object: "chat.completion",
          choices: [
            {
              index: 0,
              message: call ? { role: "assistant", content: null, tool_calls: [call] } : { role: "assistant", content },
              finish_reason: call ? "tool_calls" : "stop",
            },
          ],
          usage,
        });
      }
      const chunks = [
        {
          ...base,
          choices: [
            {
              index: 0,
              delta: call ? { role: "assistant", tool_calls: [{ index: 0, ...call }] } : { role: "assistant", content },
              finish_reason: null,
            },
          ],
        },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: call ? "tool_calls" : "stop" }] },
        { ...base, choices: [], usage },
      ];
      const sse = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
      return new Response(sse, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests,
    /** Whether any request so far carried this text anywhere in its messages. */
    saw: (text: string) => requests.some((r) => r.text.includes(text)),
    /** The first turn whose messages carry `trigger` (and that offers the tool) is answered with this tool call. */
    callTool: (trigger: string, name: string, args: Record<string, unknown>) => {
      rules.push({ trigger, name, arguments: args, fired: false });
    },
    stop: () => server.stop(true),
  };
}

// --- the gateway ----------------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  // The gateway also takes port+2 for browser control unless disabled: keep a few ports above free too.
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once("error", rej);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    if (port < 60000 && (await Promise.all([1, 2, 3].map((d) => portFree(port + d)))).every(Boolean)) return port;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen(port, "127.0.0.1", () => s.close(() => res(true)));
  });
}

const unneededPlugins = [
  "browser",
  "canvas",
  "cua-computer",
  "device-pair",
  "file-transfer",
  "geolocation",
  "github",
  "linux-node",
  "talk-voice",
  "memory-core",
  "anthropic",
  "openai",
  "xai",
  "ollama",
];

export type Gateway = Awaited<ReturnType<typeof openclawGateway>>;

/**
 * A private OpenClaw install run: writes the config (the stub as the only model), installs the plugin tarball the
 * MoltStack server serves,
 * sets `channels.moltstack`, and can start/stop `openclaw gateway run` (the process we hold is the gateway itself).
 */
export async function openclawGateway(options: {
  version: string;
  modelUrl: string;
  /** The MoltStack server whose plugin tarball is installed. */
  moltstackUrl: string;
  channel: Record<string, unknown>;
  /** More of OpenClaw's config (top-level keys), e.g. `mcp` and `tools`. */
  config?: Record<string, unknown>;
}) {
  const nodeBin = await ensureNode();
  const pkg = await ensureOpenClaw(options.version);
  const dir = mkdtempSync(join(tmpdir(), "moltstack-openclaw-"));
  const port = await freePort();
  const paths = { home: join(dir, "home"), state: join(dir, "state"), config: join(dir, "openclaw.json"), log: join(dir, "gateway.log") };
  mkdirSync(paths.home, { recursive: true });
  mkdirSync(paths.state, { recursive: true });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${nodeBin}:${process.env.PATH}`,
    HOME: paths.home,
    OPENCLAW_STATE_DIR: paths.state,
    OPENCLAW_CONFIG_PATH: paths.config,
    CI: "1",
    DO_NOT_TRACK: "1",
    OPENCLAW_NO_AUTO_UPDATE: "1",
    OPENCLAW_DISABLE_BONJOUR: "1",
    OPENCLAW_OFFLINE: "1",
    OPENCLAW_SKIP_CANVAS_HOST: "1",
    OPENCLAW_NO_ONBOARD: "1",
    OPENCLAW_NO_PROMPT: "1",
  };
  // The MoltStack test server's own settings must not leak into OpenClaw's environment.
  for (const k of Object.keys(env)) if (k.startsWith("MOLTSTACK_") || k === "DATABASE_URL" || k === "REDIS_URL") delete env[k];
  const config = {
    gateway: { mode: "local", bind: "loopback", port, auth: { mode: "none" } },
    update: { checkOnStart: false },
    telemetry: { enabled: false },
    discovery: { mdns: { mode: "off" } },
    browser: { enabled: false },
    logging: { file: join(dir, "openclaw.log") },
    models: {
      mode: "replace",
      catalogRefresh: { enabled: false },
      providers: {
        stub: {
          baseUrl: options.modelUrl,
          apiKey: "any",
          api: "openai-completions",
          models: [
            {
              id: "echo-1",
              name: "Echo",
              reasoning: false,
              input: ["text"],
              cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
              contextWindow: 128000,
              maxTokens: 4096,
            },
          ],
        },
      },
    },
    agents: { defaults: { model: { primary: "stub/echo-1" }, workspace: join(dir, "workspace") } },
    // Bundled plugins a chat turn here does not need: less for a loaded CI machine to start and run.
    plugins: { entries: Object.fromEntries(unneededPlugins.map((id) => [id, { enabled: false }])) },
    ...options.config,
  };
  writeFileSync(paths.config, JSON.stringify(config, null, 2));
  const node = join(nodeBin, "node");
  const cli = join(pkg, "openclaw.mjs");
  // Asynchronous on purpose: the CLI may call the MoltStack server that runs inside this very test process.
  const openclaw = async (args: string[], timeoutMs = 300_000) => {
    const p = spawn([node, cli, ...args], { env, cwd: dir, stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    appendFileSync(paths.log, `$ openclaw ${args.join(" ")}\n${out}${err}\n`);
    return { ok: code === 0, code, out, err };
  };
  const must = async (args: string[]) => {
    const r = await openclaw(args);
    if (!r.ok) throw new Error(`openclaw ${args.join(" ")} failed (${r.code}): ${(r.out + r.err).slice(-1500)}`);
    return r;
  };
  // The plugin the MoltStack server hands out, installed as its README says: the tarball, then npm-pack:.
  const tarball = await fetch(`${options.moltstackUrl}/openclaw/moltstack-openclaw.tgz`);
  if (tarball.status !== 200) throw new Error(`GET /openclaw/moltstack-openclaw.tgz answered ${tarball.status}`);
  writeFileSync(join(dir, "moltstack-openclaw.tgz"), new Uint8Array(await tarball.arrayBuffer()));
  await must(["plugins", "install", "npm-pack:./moltstack-openclaw.tgz", "--force", "--accept-capabilities"]);
  // The install rewrote the config (plain JSON); the channel block goes in now that the plugin owns its id.
  // (`openclaw config set channels.moltstack '<json>' --strict-json` does the same, one slow CLI start later.)
  const written = JSON.parse(readFileSync(paths.config, "utf8"));
  written.channels = { ...written.channels, moltstack: options.channel };
  writeFileSync(paths.config, JSON.stringify(written, null, 2));

  let proc: Subprocess | undefined;
  let output = "";
  const gateway = {
    dir,
    port,
    version: options.version,
    openclaw,
    must,
    /** Everything the gateway printed (all its runs). */
    output: () => output,
    /** Starts the gateway and waits until each account is connected to MoltStack. */
    async start(accounts = ["default"]) {
      const started = output.length;
      proc = spawn([node, cli, "gateway", "run", "--port", String(port), "--bind", "loopback", "--auth", "none"], {
        env,
        cwd: dir,
        stdout: "pipe",
        stderr: "pipe",
      });
      for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[]) {
        void (async () => {
          const decoder = new TextDecoder();
          for await (const chunk of stream) {
            const text = decoder.decode(chunk);
            output += text;
            appendFileSync(paths.log, text);
          }
        })();
      }
      // Ready when the plugin says each account's session is connected (anything posted after that is answered).
      const connected = (id: string) => output.slice(started).includes(`[moltstack:${id}] connected to`);
      await until(
        () => accounts.every(connected) || proc!.exitCode !== null,
        480_000,
        () => `gateway did not connect: ${output.slice(-3000)}`,
      );
      if (proc.exitCode !== null) throw new Error(`gateway exited (${proc.exitCode}): ${output.slice(-2000)}`);
    },
    /** SIGTERM and wait for the gateway to exit (a second SIGTERM skips its drain). */
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(30_000).then(() => false)]);
      if (!exited) {
        proc.kill("SIGTERM");
        await Promise.race([proc.exited, Bun.sleep(10_000)]);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
      await proc.exited;
    },
    async remove() {
      await gateway.stop();
      if (!process.env.MOLTSTACK_KEEP_OPENCLAW_RUNS) rmSync(dir, { recursive: true, force: true });
    },
  };
  return gateway;
}

export async function until(
  ok: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  what: () => string = () => "condition",
): Promise<void> {
  const stop = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > stop) throw new Error(`timed out after ${timeoutMs / 1000}s: ${what()}`);
    await Bun.sleep(50);
  }
}
