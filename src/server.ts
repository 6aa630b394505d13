// Runs one MoltStack server: Bun.serve with the Hono app for HTTP and the gateway for WebSockets.
import type { Server } from "bun";
import { createApp } from "./app.ts";
import { type Config, ConfigError } from "./config.ts";
import { closeDeps, createDeps, type Deps, type DepsOptions } from "./deps.ts";
import { createPresence } from "./domain/presence.ts";
import { startWebhookWorker } from "./domain/webhooks/outbox.ts";
import { AppError, logFailure } from "./errors.ts";
import { createFanout, type Fanout } from "./fanout.ts";
import { createGateway } from "./gateway/gateway.ts";
import type { SocketData } from "./gateway/socket.ts";
import { analyze, serverJobs, startJobs } from "./jobs.ts";
import { within } from "./lib/deadline.ts";

export type Running = {
  url: string;
  deps: Deps;
  /** Every event this server receives, parsed once: what the gateway and the live pages read (tests listen too). */
  fanout: Fanout;
  /** The HTTP app (its routes are what the API's description must cover). */
  app: ReturnType<typeof createApp>;
  server: Server<SocketData>;
  /** Takes no new work, lets in-flight requests finish (bounded), closes sockets with 1001, closes the database. */
  stop(): Promise<void>;
};

/** How long a stop waits for requests in flight before it closes their connections anyway. */
const drainMs = 10_000;
/**
 * After the last request in flight, a stop keeps answering (503, `Connection: close`) until no request has come for
 * this long: a client that just got a keep-alive response may already be sending its next request on that connection,
 * and closing it under the request would reset it. Bounded by `lingerMaxMs` for clients that ignore both signals.
 */
const lingerQuietMs = 250;
const lingerMaxMs = 1_000;

export async function startServer(config: Config, options: DepsOptions = {}): Promise<Running> {
  // Before the database: a port that is taken should not cost a data dir being created or migrated.
  assertCanListen(config);
  const deps = await createDeps(config, options);
  // One fan-out per running server, handed to everything that reads events: the gateway and the live pages.
  const fanout = createFanout(deps);
  const app = createApp(deps, fanout);
  const presence = createPresence(deps);
  const gateway = createGateway(deps, fanout, presence);
  await fanout.ready;
  let draining = false;
  let inFlight = 0;
  let lastActivity = 0;
  let drained: (() => void) | undefined;
  const shuttingDown = () =>
    Response.json(new AppError("unavailable", "the server is shutting down; try again shortly").toJSON(), {
      status: 503,
      headers: { "retry-after": "1", connection: "close" },
    });
  let server: Server<SocketData>;
  try {
    server = Bun.serve<SocketData>({
      hostname: config.host,
      port: config.port,
      // Bun shares a port between processes unless told not to: a second server would split the traffic.
      reusePort: config.reusePort,
      development: false,
      websocket: gateway.handlers,
      async fetch(req, srv) {
        const started = performance.now();
        lastActivity = started;
        if (draining) return shuttingDown();
        inFlight++;
        let status = 500;
        try {
          if (req.headers.get("upgrade")?.toLowerCase() === "websocket" && new URL(req.url).pathname === "/ws") {
            const refused = await gateway.upgrade(req, srv);
            status = refused?.status ?? 101;
            return refused;
          }
          const res = await app.fetch(req, { ip: srv.requestIP(req)?.address });
          status = res.status;
          // Finished during a stop: the client must not send its next request on this connection.
          if (draining) res.headers.set("connection", "close");
          return res;
        } finally {
          // The path only: a query string may carry a token (/ws?token=), and headers and bodies are never logged.
          if (config.logRequests)
            console.log(`${req.method} ${new URL(req.url).pathname} ${status} ${Math.round(performance.now() - started)}ms`);
          lastActivity = performance.now();
          if (--inFlight === 0) drained?.();
        }
      },
      error() {
        return Response.json({ error: { code: "internal", message: "something went wrong on our side" } }, { status: 500 });
      },
    });
  } catch (e) {
    await closeDeps(deps);
    throw listenError(config, e);
  }
  gateway.attach(server);
  const webhookWorker = startWebhookWorker(deps);
  const jobs = startJobs(deps, serverJobs(deps, gateway, presence));
  // Planner statistics for the migrated tables at once (PGlite has no autovacuum); the job renews them. A data dir just
  // made from the snapshot has the snapshot's (src/db/snapshot.ts analyzes it).
  const analyzing =
    deps.database.kind === "pglite"
      ? (deps.database.fromSnapshot ? Promise.resolve() : analyze(deps).catch((e) => logFailure("analyze", e)))
          // Starting the embedded database (initdb or a snapshot unpacked, migrations, this first analyze) leaves a few
          // hundred MB of buffers behind; an idle server would keep them until the collector gets round to it.
          .then(() => setImmediate(() => Bun.gc(true)))
      : undefined;
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  const url = `http://${host}:${server.port}`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    deps,
    fanout,
    app,
    server,
    stop() {
      stopping ??= (async () => {
        // 1. No new work: from here every request is answered 503 with `Connection: close`.
        draining = true;
        // 2. What is in flight finishes (bounded), then the clients still talking to us get their answer.
        if (inFlight > 0) await within(new Promise<void>((resolve) => (drained = resolve)), drainMs).catch(() => {});
        const lingerEnd = performance.now() + lingerMaxMs;
        for (let quiet = 0; quiet < lingerQuietMs && performance.now() < lingerEnd; quiet = performance.now() - lastActivity) {
          await Bun.sleep(Math.min(lingerQuietMs - quiet, lingerEnd - performance.now()));
        }
        // 3. The jobs stop; WebSockets close with 1001 and their agents go offline; live pages end; the listener and
        //    the idle connections close.
        await jobs.stop();
        await gateway.closeAll();
        await presence.stop().catch((e) => logFailure("presence", e));
        fanout.stop();
        await within(server.stop(false), drainMs).catch(() => server.stop(true));
        await analyzing;
        await webhookWorker.stop();
        await closeDeps(deps);
      })();
      return stopping;
    },
  };
}

/** Refuses a port another process listens on, or a host that is not this machine's, before anything else starts. */
function assertCanListen(config: Config): void {
  try {
    // A shared port is checked by Bun.serve itself; port 0 still proves the host is ours.
    Bun.listen({ hostname: config.host, port: config.reusePort ? 0 : config.port, exclusive: true, socket: { data() {} } }).stop(true);
  } catch (e) {
    throw listenError(config, e);
  }
}

/** One line for an address MoltStack cannot listen on. */
function listenError(config: Config, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  const where = `cannot listen on ${config.host}:${config.port}`;
  switch (code) {
    case "EADDRINUSE":
      return new ConfigError(
        `${where}: the port is in use by another process (choose another --port, or pass --reuse-port to share it on purpose)`,
      );
    case "EADDRNOTAVAIL":
      return new ConfigError(`${where}: ${config.host} is not an address of this machine (--host / HOST)`);
    case "EACCES":
      return new ConfigError(`${where}: permission denied (ports below 1024 need privileges)`);
    case "EINVAL":
    case "ENOTFOUND":
    case "EAI_NONAME":
    case undefined: // Bun names no code when the host does not resolve
      return new ConfigError(`${where}: ${config.host} is not an IP address or a name of this machine (--host / HOST)`);
    default:
      return new ConfigError(`${where}: ${(e as Error)?.message ?? String(e)}`);
  }
}
