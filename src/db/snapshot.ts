// The migrated empty database a new embedded data dir starts from, so a first start skips initdb (seconds) and the
// migrations: the binary carries one (src/build/build.ts); run from source, one is made once and kept in the user's
// cache, named after what it was made from (the migrations and PGlite's version), and reused by every later start.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { embeddedSnapshot, migrationFiles } from "../build/embedded.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { openDatabase } from "./client.ts";
import { migrate } from "./migrate.ts";

/**
 * A freshly migrated embedded database, as a gzip tar of its data dir (initdb and every migration: a few seconds),
 * analyzed: a server starting from it has the planner statistics it would otherwise compute at every start.
 */
export async function makeSnapshot(): Promise<{ snapshot: Blob; applied: string[] }> {
  const database = await openDatabase({ dataDir: "memory:" });
  try {
    const { applied } = await migrate(database);
    await database.db.execute(sql`analyze`);
    return { snapshot: await database.dump!(), applied };
  } finally {
    await database.close();
  }
}

let made: Promise<Blob> | undefined;

/**
 * The snapshot to start a new data dir from: the binary's own, or from source the cached one (made first if there is
 * none yet). A cache that cannot be written costs only the time: the snapshot made is used all the same.
 */
export function startingSnapshot(): Promise<Blob> {
  const embedded = embeddedSnapshot();
  if (embedded) return Promise.resolve(embedded);
  made ??= (async () => {
    // From source, PGlite is in node_modules: its package.json is beside dist/.
    const pglite = await Bun.file(join(dirname(fileURLToPath(import.meta.resolve("@electric-sql/pglite"))), "..", "package.json")).json();
    // What a snapshot is made of, and how (analyzed since format 2): a change makes a new one.
    const name = sha256Hex(JSON.stringify([pglite.version, migrationFiles, "format 2"])).slice(0, 16);
    const dir = join(process.env.XDG_CACHE_HOME || join(process.env.HOME || homedir(), ".cache"), "moltstack");
    const file = join(dir, `snapshot-${name}.tar.gz`);
    const cached = Bun.file(file);
    if ((await cached.exists()) && cached.size > 0) return new Blob([await cached.arrayBuffer()]);
    const { snapshot } = await makeSnapshot();
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const partial = `${file}.${process.pid}.partial`;
      await Bun.write(partial, snapshot);
      renameSync(partial, file); // whole or not at all, whoever else is writing it
    } catch {
      rmSync(`${file}.${process.pid}.partial`, { force: true });
    }
    return snapshot;
  })();
  made.catch(() => (made = undefined));
  return made;
}
