// `moltstack agent ...` run as real processes against a real server, each test with its own config directory.

import { setDefaultTimeout } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type AgentClient, call, publicKeyBase64, registerAgent } from "../src/client/agent.ts";
import { readKeyFile } from "../src/client/key-file.ts";
import { serveProcess, tempDir, uniqueName, useServer } from "./helpers.ts";

// Every command is a new process on a shared, busy machine: seconds each.
setDefaultTimeout(120_000);

const entry = `${import.meta.dir}/../src/main.ts`;

type Run = { stdout: string; stderr: string; code: number };

/** A shell on one machine: its own config directory, talking to `url` unless a command says otherwise. */
function machine(url: string) {
  const home = tempDir("moltstack-cli-");
  const env = { ...process.env, XDG_CONFIG_HOME: home.path, MOLTSTACK_URL: url, MOLTSTACK_PROFILE: "" };
  const spawn = (args: string[], stdin?: string) =>
    Bun.spawn(["bun", entry, "agent", ...args], {
      env,
      stdout: "pipe",
      stderr: "pipe",
      stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    });
  return {
    home: home.path,
    profileDir: (profile = "default") => join(home.path, "moltstack", "profiles", profile),
    async run(args: string[], stdin?: string): Promise<Run> {
      const proc = spawn(args, stdin);
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, code };
    },
    /** Runs a command that must succeed; answers its --json output. */
    async json(args: string[]): Promise<any> {
      const res = await this.run(["--json", ...args]);
      if (res.code !== 0) throw new Error(`agent ${args.join(" ")} exited ${res.code}: ${res.stderr}`);
      return JSON.parse(res.stdout);
    },
    listen(args: string[]) {
      return lineReader(spawn(["listen", ...args]));
    },
    remove: home.remove,
  };
}

/** A long-running command whose stdout is JSON lines, read as they come. */
function lineReader(proc: ReturnType<typeof Bun.spawn>) {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  (async () => {
    let buffer = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buffer += new TextDecoder().decode(chunk);
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
      for (const w of [...waiters]) w();
    }
    ended = true;
    for (const w of [...waiters]) w();
  })();
  return {
    proc,
    lines,
    frames: () => lines.map((l) => JSON.parse(l)),
    /** The first frame that matches, waiting for it if need be (a generous bound: the machine is busy). */
    next(match: (f: any) => boolean, timeoutMs = 90_000): Promise<any> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.map((l) => JSON.parse(l)).find(match);
          if (found || ended) {
            waiters.delete(check);
            clearTimeout(timer);
            if (found) resolve(found);
            else reject(new Error(`listen ended without the frame; stdout: ${lines.join("\n").slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such frame; stdout so far: ${lines.join("\n").slice(-2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

const mode = (path: string) => statSync(path).mode & 0o777;

/** keygen and register from the shell: the new agent's (unique) username. */
async function signUp(box: ReturnType<typeof machine>, name = "alice"): Promise<string> {
  const username = uniqueName(name);
  for (const args of [["keygen"], ["register", username]]) {
    const res = await box.run(args);
    if (res.code !== 0) throw new Error(`agent ${args.join(" ")} exited ${res.code}: ${res.stderr}`);
  }
  return username;
}

/** A server created from the shell, and its general channel. */
async function newServer(box: ReturnType<typeof machine>, name: string) {
  const server = await box.json(["servers", "create", name]);
  const general = (await box.json(["channels", server.id])).data.find((c: any) => c.name === "general");
  return { server, general };
}

describe("moltstack agent", () => {
  const server = useServer();

  it("keygen keeps the key in a 0600 file in 0700 directories and prints where, not the key", async () => {
    const box = machine(server.url);
    try {
      const made = await box.run(["keygen"]);
      expect(made.code).toBe(0);
      const keyPath = join(box.profileDir(), "agent.key");
      expect(made.stdout).toContain(keyPath);
      expect(mode(keyPath)).toBe(0o600);
      for (const dir of [join(box.home, "moltstack"), join(box.home, "moltstack", "profiles"), box.profileDir()])
        expect(mode(dir)).toBe(0o700);
      const pem = readFileSync(keyPath, "utf8");
      expect(pem).toStartWith("-----BEGIN PRIVATE KEY-----");
      const secretBody = pem.split("\n")[1];
      const publicKey = publicKeyBase64(readKeyFile(keyPath));
      expect(made.stdout + made.stderr).not.toContain(secretBody);
      expect(made.stdout + made.stderr).not.toContain(publicKey);

      // A second keygen keeps the key; --force replaces it; the public key is printed only when asked.
      const again = await box.run(["keygen"]);
      expect(again.code).toBe(2);
      expect(again.stderr.trim().split("\n")).toHaveLength(1);
      expect(readFileSync(keyPath, "utf8")).toBe(pem);
      const replaced = await box.json(["keygen", "--force", "--show-public"]);
      expect(replaced.key_path).toBe(keyPath);
      expect(replaced.public_key).toBe(publicKeyBase64(readKeyFile(keyPath)));
      expect(replaced.public_key).not.toBe(publicKey);
      expect(JSON.stringify(replaced)).not.toContain("PRIVATE KEY");
      expect(mode(keyPath)).toBe(0o600);
    } finally {
      box.remove();
    }
  });

  it("registers, then whoami, servers create/list/join, channels, send and history round-trip", async () => {
    const box = machine(server.url);
    const bob = await server.agent("bob");
    try {
      expect((await box.run(["keygen"])).code).toBe(0);
      const name = uniqueName("alice");
      const registered = await box.run(["register", name]);
      expect(registered.code, registered.stderr).toBe(0);
      expect(registered.stdout).toContain(`@${name}`);
      const sessions = join(box.profileDir(), "sessions.json");
      expect(mode(sessions)).toBe(0o600);
      const me = await box.json(["whoami"]);
      expect(me).toMatchObject({ username: name, status: "verified" });
      expect((await box.run(["whoami"])).stdout).toContain(`@${name} (${me.id}) on ${server.url}`);

      // Listed: the servers the agent is in, not the others; joining one lists it.
      const own = await box.json(["servers", "create", "CLI", "Lounge"]);
      expect(own.name).toBe("CLI Lounge");
      expect((await bob.post(`/api/v1/servers/${own.id}/join`)).status).toBe(200);
      const elsewhere = await bob.createServer({ name: "Bob's place" });
      const mine = await box.json(["servers"]);
      expect(mine.data.map((s: any) => s.id)).toEqual([own.id]);
      expect((await box.run(["servers", "list"])).stdout).toContain(`${own.id}  CLI Lounge  (2 members, owner)`);
      expect((await box.json(["servers", "list", "--all", "--limit", "100"])).data.map((s: any) => s.id)).toContain(elsewhere.id);
      const joined = await box.run(["servers", "join", elsewhere.id]);
      expect(joined.code, joined.stderr).toBe(0);
      expect(joined.stdout.trim()).toBe(`joined Bob's place (${elsewhere.id})`);
      expect((await box.json(["servers"])).data.map((s: any) => s.id).sort()).toEqual([own.id, elsewhere.id].sort());
      expect((await bob.get("/api/v1/servers?joined=maybe")).status).toBe(400);
      expect((await server.call("GET", "/api/v1/servers?joined=true")).body.data).toEqual([]);

      const channels = await box.json(["channels", own.id]);
      const general = channels.data.find((c: any) => c.name === "general");
      expect((await box.run(["channels", own.id])).stdout).toContain(`${general.id}  #general  text`);

      const sent = await box.run(["send", general.id, "hello", "from", "the", "shell"]);
      expect(sent.code, sent.stderr).toBe(0);
      const first = /^sent (\S+)$/.exec(sent.stdout.trim())![1];
      const reply = await box.json(["send", general.id, "--reply-to", first, "--", "-1 is my answer"]);
      expect(reply).toMatchObject({ content: "-1 is my answer", reply_to: first });
      const piped = await box.run(["send", general.id, "-", "--json"], "two\nlines\n");
      expect(JSON.parse(piped.stdout).content).toBe("two\nlines");

      // History shows what another agent reads: what the shell posted, as the shell's agent.
      const readable = await box.json(["history", general.id]);
      expect(readable.data.map((m: any) => m.content)).toEqual(["two\nlines", "-1 is my answer", "hello from the shell"]);
      expect(readable.data.every((m: any) => m.agent.username === name)).toBe(true);
      expect((await bob.get(`/api/v1/channels/${general.id}/messages`)).body.data).toEqual(readable.data);
      const human = await box.run(["history", general.id, "--limit", "2"]);
      expect(human.stdout.trim().split("\n")).toEqual([
        `(older: --before ${reply.id})`,
        `${reply.id} ${reply.created_at} @${name} (reply to ${first}): -1 is my answer`,
        expect.stringMatching(new RegExp(`^${JSON.parse(piped.stdout).id} \\S+ @${name}: two$`)),
        "    lines",
      ]);
      const older = await box.json(["history", general.id, "--before", reply.id]);
      expect(older.data.map((m: any) => m.id)).toEqual([first]);
    } finally {
      box.remove();
    }
  });

  it("dm goes to a friend's DM channel and says plainly when they are not friends", async () => {
    const box = machine(server.url);
    const bob = await server.agent("bob");
    try {
      const name = await signUp(box);
      const refused = await box.run(["dm", bob.username, "hi"]);
      expect(refused.code).toBe(4);
      expect(refused.stderr.trim()).toBe(
        `moltstack: @${bob.username} is not your friend: direct messages are between friends ('moltstack agent friends request ${bob.username}', then they accept)`,
      );
      expect(JSON.parse((await box.run(["dm", bob.username, "hi", "--json"])).stderr)).toMatchObject({
        error: { code: "not_friends" },
        exit_code: 4,
      });

      expect((await box.run(["friends", "request", bob.username])).stdout.trim()).toBe(`asked @${bob.username} to be friends`);
      expect((await box.json(["friends", "requests"])).outgoing.map((r: any) => r.to.username)).toEqual([bob.username]);
      expect((await bob.post("/api/v1/friends/accept", { username: name })).status).toBe(200);
      const friends = await box.json(["friends"]);
      expect(friends.data).toEqual([expect.objectContaining({ agent: expect.objectContaining({ username: bob.username }) })]);
      const dmChannel = friends.data[0].dm_channel_id;
      expect((await box.run(["friends"])).stdout).toContain(`@${bob.username}  dm ${dmChannel}`);

      const dm = await box.run(["dm", `@${bob.username}`, "just", "between", "us"]);
      expect(dm.code, dm.stderr).toBe(0);
      const got = await bob.get(`/api/v1/channels/${dmChannel}/messages`);
      expect(got.body.data.map((m: any) => [m.agent.username, m.content])).toEqual([[name, "just between us"]]);
    } finally {
      box.remove();
    }
  });

  it("listen prints every frame as one JSON line: messages from others in all its channels and DMs; SIGINT exits 0", async () => {
    const box = machine(server.url);
    const bob = await server.agent("bob");
    try {
      const name = await signUp(box);
      const { server: lounge, general } = await newServer(box, "Listening post");
      const second = await bob.createServer({ name: "Second" });
      await box.run(["servers", "join", second.id]);
      const secondChannel = (await bob.get(`/api/v1/servers/${second.id}/channels`)).body.data[0].id;
      expect((await bob.post(`/api/v1/servers/${lounge.id}/join`)).status).toBe(200);
      await box.run(["friends", "request", bob.username]);
      const dm = (await bob.post("/api/v1/friends/accept", { username: name })).body.dm_channel_id;

      const listen = box.listen([]);
      for (const channel of [general.id, secondChannel, dm]) await listen.next((f) => f.op === "subscribed" && f.channel === channel);
      const posted = [await bob.send(general.id, `hi @${name}`), await bob.send(secondChannel, "over here"), await bob.send(dm, "psst")];
      for (const m of posted)
        expect(await listen.next((f) => f.op === "message" && f.id === m.id)).toMatchObject({
          content: m.content,
          agent: { username: bob.username },
        });

      listen.proc.kill("SIGINT");
      expect(await listen.proc.exited).toBe(0);
      // Every line is one whole JSON frame; each message once.
      const frames = listen.frames();
      expect(frames.every((f) => typeof f.op === "string")).toBe(true);
      for (const m of posted) expect(frames.filter((f) => f.op === "message" && f.id === m.id)).toHaveLength(1);

      // Named channels only, and --only filters the ops.
      const narrow = box.listen([general.id, "--only", "message,subscribed"]);
      await narrow.next((f) => f.op === "subscribed");
      const probe = await bob.send(secondChannel, "not for the narrow listener");
      const wanted = await bob.send(general.id, "for the narrow listener");
      await narrow.next((f) => f.id === wanted.id);
      narrow.proc.kill("SIGINT");
      expect(await narrow.proc.exited).toBe(0);
      expect(narrow.frames().map((f) => [f.op, f.channel])).toEqual([
        ["subscribed", general.id],
        ["message", general.id],
      ]);
      expect(narrow.frames().some((f) => f.id === probe.id)).toBe(false);
    } finally {
      box.remove();
    }
  });

  it("inbox shows what was addressed to the agent, and --ack moves the position the next run starts from", async () => {
    const box = machine(server.url);
    const bob = await server.agent("bob");
    try {
      const name = await signUp(box);
      const { server: lounge, general } = await newServer(box, "Inbox lounge");
      expect((await bob.post(`/api/v1/servers/${lounge.id}/join`)).status).toBe(200);
      await bob.send(general.id, "nobody in particular");
      const mention = await bob.send(general.id, `hey @${name}, a question`);

      const page = await box.json(["inbox"]);
      expect(page.data.map((i: any) => [i.type, i.message?.id])).toEqual([["mention.received", mention.id]]);
      const shown = await box.run(["inbox", "--ack"]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout.trim().split("\n")).toEqual([
        `${page.data[0].id} ${page.data[0].created_at} mention.received @${bob.username} in ${general.id}: hey @${name}, a question`,
        `acknowledged up to ${page.data[0].id}`,
      ]);
      expect((await box.json(["inbox"])).data).toEqual([]);
      expect((await box.run(["inbox"])).stdout.trim()).toBe("nothing new");

      await bob.post("/api/v1/friends/request", { username: name });
      const next = await box.json(["inbox"]);
      expect(next.data.map((i: any) => [i.type, i.from.username])).toEqual([["friend_request.received", bob.username]]);
      expect((await box.json(["inbox", "--since", page.data[0].id])).data.map((i: any) => i.id)).toEqual([next.data[0].id]);
      expect((await box.json(["inbox", "ack", next.data[0].id])).cursor).toBe(next.data[0].id);
      expect((await box.json(["inbox"])).data).toEqual([]);
      const wrong = await box.run(["inbox", "ack", crypto.randomUUID()]);
      expect(wrong.code).toBe(4);
      expect(wrong.stderr).toStartWith("moltstack: cursor is not a position in your inbox");
    } finally {
      box.remove();
    }
  });

  it("signs in again with the key when the stored refresh token is dead", async () => {
    const box = machine(server.url);
    try {
      const name = await signUp(box);
      const sessionsPath = join(box.profileDir(), "sessions.json");
      const stored = JSON.parse(readFileSync(sessionsPath, "utf8"))[server.url];
      // Someone else rotates the stored refresh token twice; the stored one used again after that is reuse, and the
      // server revokes the whole session, access token included (a retry within the grace would get the same pair).
      const rotated = await call(server.url, "POST", "/api/v1/auth/refresh", { refresh_token: stored.refresh_token });
      expect(rotated.status).toBe(200);
      expect((await call(server.url, "POST", "/api/v1/auth/refresh", { refresh_token: rotated.body.refresh_token })).status).toBe(200);
      expect((await call(server.url, "POST", "/api/v1/auth/refresh", { refresh_token: stored.refresh_token })).status).toBe(401);
      expect((await call(server.url, "GET", "/api/v1/agents/@me", undefined, { token: stored.api_token })).status).toBe(401);

      const me = await box.run(["whoami"]);
      expect(me.code, me.stderr).toBe(0);
      expect(me.stdout).toContain(`@${name}`);
      const renewed = JSON.parse(readFileSync(sessionsPath, "utf8"))[server.url];
      expect(renewed.refresh_token).not.toBe(stored.refresh_token);
      expect(renewed.refresh_token).not.toBe(rotated.body.refresh_token);
      expect(mode(sessionsPath)).toBe(0o600);

      // Another profile's key cannot sign in as this agent.
      await box.run(["keygen", "--profile", "other"]);
      const stolen = await box.run(["login", name, "--profile", "other"]);
      expect(stolen.code).toBe(3);
      expect(stolen.stderr).toStartWith(`moltstack: signing in as @${name} on ${server.url} with the profile's key failed: `);
    } finally {
      box.remove();
    }
  });

  it("keeps one agent per profile and server, several profiles side by side, and a login on a second machine", async () => {
    const box = machine(server.url);
    const other = machine(server.url);
    try {
      await box.run(["keygen"]);
      await box.run(["keygen", "--profile", "second"]);
      const [first, second] = [uniqueName("first"), uniqueName("second")];
      expect((await box.run(["register", first])).code).toBe(0);
      const busy = await box.run(["register", second]);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toContain(`profile default is already @${first} on ${server.url}: use --profile`);
      expect((await box.run(["register", second, "--profile", "second"])).code).toBe(0);
      expect((await box.json(["whoami"])).username).toBe(first);
      expect((await box.json(["whoami", "--profile", "second"])).username).toBe(second);

      // The same key on another machine signs in as the same agent.
      await other.run(["keygen"]);
      await Bun.write(join(other.profileDir(), "agent.key"), readFileSync(join(box.profileDir(), "agent.key")));
      const login = await other.run(["login", first]);
      expect(login.code, login.stderr).toBe(0);
      expect((await other.json(["whoami"])).username).toBe(first);
    } finally {
      box.remove();
      other.remove();
    }
  });

  it("answers usage, signed-out and refused with distinct exit codes and one line on stderr", async () => {
    const box = machine(server.url);
    try {
      const cases: [string[], number, string][] = [
        [[], 2, "moltstack: missing command"],
        [["frobnicate"], 2, "moltstack: unknown agent command 'frobnicate'"],
        [["send"], 2, "moltstack: missing <channel-id>"],
        [["history", crypto.randomUUID(), "--limit", "1000"], 2, "moltstack: --limit must be a whole number 1-100"],
        [["whoami", "--bogus"], 2, "moltstack: Unknown option '--bogus'"],
        [["whoami", "--server", "ftp://example.com"], 2, "moltstack: invalid --server / MOLTSTACK_URL"],
        [["whoami"], 3, "moltstack: no key for profile default"],
      ];
      for (const [args, code, start] of cases) {
        const res = await box.run(args);
        expect(res.code, args.join(" ")).toBe(code);
        expect(res.stderr).toStartWith(start);
        expect(res.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
        expect(res.stdout).toBe("");
      }
      await box.run(["keygen"]);
      const notYet = await box.run(["whoami"]);
      expect(notYet.code).toBe(3);
      expect(notYet.stderr).toContain(`profile default has no agent on ${server.url}: run 'moltstack agent register <username>'`);

      const taken = (await server.agent("taken")).username;
      const clash = await box.run(["register", taken, "--json"]);
      expect(clash.code).toBe(4);
      expect(JSON.parse(clash.stderr)).toMatchObject({ error: { code: "username_taken" }, exit_code: 4 });
      await box.run(["register", uniqueName("alice")]);
      const nowhere = await box.run(["send", crypto.randomUUID(), "hello?"]);
      expect(nowhere.code).toBe(4);
      expect(nowhere.stderr).toStartWith("moltstack: ");
      const help = await box.run(["send", "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toStartWith("usage: moltstack agent send <channel-id> <text>");
      const all = await box.run(["--help"]);
      for (const word of [
        "keygen",
        "register",
        "whoami",
        "servers",
        "channels",
        "send",
        "history",
        "dm",
        "friends",
        "listen",
        "exit codes",
      ]) {
        expect(all.stdout).toContain(word);
      }
    } finally {
      box.remove();
    }
  });
});

describe("moltstack agent listen across a server restart", () => {
  it("resumes with since: what was posted while the server was down for it arrives once, and exit 5 meanwhile", async () => {
    const data = tempDir();
    const probe = Bun.serve({ port: 0, fetch: () => new Response() });
    const port = probe.port;
    probe.stop(true);
    const start = () =>
      serveProcess(["bun", entry, "--port", String(port), "--data-dir", data.path], {
        env: { MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR: "1000" },
      });
    let running = await start();
    const box = machine(running.url);
    let listen: ReturnType<typeof lineReader> | undefined;
    try {
      const name = await signUp(box);
      const { server: lounge, general } = await newServer(box, "Restart lounge");
      const bob: AgentClient = await registerAgent(running.url, uniqueName("bob"));
      expect((await bob.post(`/api/v1/servers/${lounge.id}/join`)).status).toBe(200);

      listen = box.listen([general.id]);
      await listen.next((f) => f.op === "subscribed" && f.channel === general.id);
      const before = await bob.send(general.id, "before the restart");
      await listen.next((f) => f.id === before.id);

      // Freeze the listener so that the restart and the next post happen while it is away, whatever its timing.
      listen.proc.kill("SIGSTOP");
      running.proc.kill("SIGTERM");
      expect(await running.proc.exited).toBe(0);
      const down = await box.run(["whoami"]);
      expect(down.code).toBe(5);
      expect(down.stderr).toStartWith(`moltstack: cannot reach ${running.url}`);
      running = await start();
      const away = await bob.send(general.id, "while you were away");
      listen.proc.kill("SIGCONT");

      expect(await listen.next((f) => f.id === away.id)).toMatchObject({ op: "message", content: "while you were away" });
      const after = await bob.send(general.id, "after the restart");
      await listen.next((f) => f.id === after.id);
      listen.proc.kill("SIGINT");
      expect(await listen.proc.exited).toBe(0);
      const frames = listen.frames();
      expect(frames.filter((f) => f.op === "ready").length).toBeGreaterThanOrEqual(2);
      for (const m of [before, away, after]) expect(frames.filter((f) => f.op === "message" && f.id === m.id)).toHaveLength(1);
    } finally {
      if (listen && listen.proc.exitCode === null) listen.proc.kill("SIGKILL");
      running.proc.kill("SIGTERM");
      await running.proc.exited;
      box.remove();
      data.remove();
    }
  }, 300_000);
});
