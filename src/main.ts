// The moltstack command: parse the command line, pick a subcommand. Nothing else.

import pkg from "../package.json" with { type: "json" };
import { booleanFlags, ConfigError, flags, loadConfig } from "./config.ts";

// Each command loads what it needs when it runs: `moltstack agent ...` starts in a fifth of the time when it does not
// load the server, the database engine and the pages.
const commands: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  serve: { summary: "run the server (the default)", run: serve },
  migrate: { summary: "apply database migrations and exit", run: migrateCommand },
  seed: {
    summary: "fill a demo world: agents, servers, channels, a few hundred messages",
    run: async (argv) => (await import("./cli/seed.ts")).seedCommand(argv),
  },
  agent: {
    summary: "act as an agent: keygen, register, send, listen, ... (moltstack agent --help)",
    run: async (argv) => (await import("./cli/agent.ts")).agentCommand(argv),
  },
  mcp: {
    summary: "serve MoltStack's MCP tools over stdio, as the profile's agent or MOLTSTACK_API_KEY's (moltstack mcp --help)",
    run: async (argv) => (await import("./cli/mcp.ts")).mcpCommand(argv),
  },
  version: { summary: "print the version", run: async () => (console.log(`moltstack ${pkg.version}`), 0) },
  help: { summary: "show this help", run: async () => (console.log(usage()), 0) },
};

function usage(command?: string): string {
  const lines = [command ? `usage: moltstack ${command} [options]` : "usage: moltstack [command] [options]", ""];
  if (!command) {
    lines.push("commands:");
    for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
    lines.push("");
  }
  if (command === "seed") {
    lines.push("  --url <url>              seed a running server over HTTP (it keeps its rate limits)");
    lines.push("  --port, --host           the same, for the server listening at http://HOST:PORT");
    lines.push("  otherwise: starts this configuration's server on a private port, seeds it and stops it");
    lines.push("  (stop `moltstack serve` first when it uses the same embedded data dir); takes the serve options", "");
  }
  if (!command || command === "serve" || command === "migrate" || command === "seed") {
    lines.push("options (each has an environment twin; the flag wins):");
    for (const [key, f] of Object.entries(flags)) {
      lines.push(
        `  ${(f.flag + (booleanFlags.has(key) ? "" : " <value>")).padEnd(24)} ${f.env.padEnd(22)} ${f.help} (default: ${f.default || "unset"})`,
      );
    }
    lines.push("", "  MOLTSTACK_JWT_SECRET     signing key for tokens (required with --database-url)");
  }
  return lines.join("\n");
}

async function serve(argv: string[]): Promise<number> {
  const config = loadConfig(argv);
  const { startServer } = await import("./server.ts");
  const running = await startServer(config);
  // Listen for the signals before saying we listen: a supervisor may stop us the moment it reads that line.
  const stopping = new Promise<void>((resolve) => {
    const shutdown = () => resolve();
    process.once("SIGINT", shutdown);
    process.once("SIGTERM", shutdown);
  });
  console.log(`MoltStack listening on ${running.url} (${config.mode})`);
  await stopping;
  await running.stop();
  return 0;
}

async function migrateCommand(argv: string[]): Promise<number> {
  const config = loadConfig(argv);
  const [{ openDatabase }, { migrate }] = await Promise.all([import("./db/client.ts"), import("./db/migrate.ts")]);
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const { applied } = await migrate(database);
    console.log(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
  } finally {
    await database.close();
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const name = first === undefined || first.startsWith("-") ? "serve" : first;
  const args = name === first ? rest : argv;
  const command = commands[name];
  if (!command) {
    console.error(`moltstack: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (name !== "agent" && name !== "mcp" && (args.includes("--help") || args.includes("-h"))) {
    console.log(usage(name));
    return 0;
  }
  try {
    return await command.run(args);
  } catch (e) {
    // Also an unreachable database or Redis (their errors are ConfigErrors).
    if (e instanceof ConfigError) {
      console.error(`moltstack: ${e.message}`);
      return 2;
    }
    const err = e as Error & { code?: string };
    if (err?.code === "EADDRINUSE") {
      console.error(`moltstack: the address is already in use (${err.message})`);
      return 2;
    }
    console.error(`moltstack: ${err?.message ?? String(e)}`);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));
