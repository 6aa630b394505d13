// Runs one MoltStack server: Bun.serve with the Hono app for HTTP and the gateway for WebSockets.
import type { Server } from "bun";
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { type Deps, closeDeps, createDeps } from "./deps.ts";
import { logFailure } from "./errors.ts";
import { type SocketData, createGateway } from "./gateway/gateway.ts";
import { liveFor } from "./pages/live.ts";
import { forgetExpiredKeys } from "./domain/idempotency.ts";
import { startWebhookWorker } from "./domain/webhooks.ts";
import { sql } from "drizzle-orm";

export type Running = {
  url: string;
  deps: Deps;
  server: Server<SocketData>;
  /** Stops accepting, lets in-flight requests finish, closes sockets with 1001, closes the database. */
  stop(): Promise<void>;
};

export async function startServer(config: Config, options: { snapshot?: Blob } = {}): Promise<Running> {
  const deps = await createDeps(config, options);
  const app = createApp(deps);
  const gateway = createGateway(deps);
  await gateway.ready;
  let server: Server<SocketData>;
  try {
    server = Bun.serve<SocketData>({
      hostname: config.host,
      port: config.port,
      development: false,
      websocket: gateway.handlers,
      fetch(req, srv) {
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket" && new URL(req.url).pathname === "/ws") {
          return gateway.upgrade(req, srv);
        }
        return app.fetch(req, { ip: srv.requestIP(req)?.address });
      },
      error() {
        return Response.json({ error: { code: "internal", message: "something went wrong on our side" } }, { status: 500 });
      },
    });
  } catch (e) {
    await closeDeps(deps);
    throw e;
  }
  gateway.fanout.attach(server);
  const webhookWorker = startWebhookWorker(deps);
  // PGlite has no autovacuum: refresh the planner's statistics now and then, or growing channels get slow plans.
  let analyzing: Promise<unknown> | undefined;
  const analyze = () => {
    analyzing = deps.database.db.execute(sql`analyze`).catch((e) => console.error(`analyze: ${(e as Error).message}`));
  };
  const maintenance = deps.database.kind === "pglite" ? setInterval(analyze, 10 * 60_000) : undefined;
  maintenance?.unref?.();
  if (maintenance) analyze();
  // Idempotency keys live 24 hours; lookups ignore older ones, this removes them.
  const forgetting = setInterval(() => forgetExpiredKeys(deps).catch((e) => logFailure("idempotency keys", e)), 10 * 60_000);
  forgetting.unref?.();
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  const url = `http://${host}:${server.port}`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    deps,
    server,
    stop() {
      stopping ??= (async () => {
        clearInterval(maintenance);
        clearInterval(forgetting);
        await analyzing;
        await gateway.closeAll();
        liveFor(deps.pubsub).closeAll();
        await server.stop(false);
        await webhookWorker.stop();
        await closeDeps(deps);
      })();
      return stopping;
    },
  };
}
