// Applies the SQL files of migrations/ (embedded in the binary) that this database has not seen yet.
// It runs under an advisory lock so that instances starting together apply each file exactly once.
import { migrationFiles } from "../build/embedded.ts";
import type { Database } from "./client.ts";

const lockKey = 0x6d6f6c74; // "molt"

export type Migration = { name: string; sql: string };

export async function migrate(database: Database, files: Migration[] = migrationFiles): Promise<{ applied: string[] }> {
  const applied: string[] = [];
  await database.execLocked(lockKey, async (exec) => {
    await exec(
      `create table if not exists moltstack_migrations (name text primary key, applied_at timestamptz not null default now());
       alter table moltstack_migrations enable row level security;
       alter table moltstack_migrations force row level security;
       drop policy if exists migrator_only on moltstack_migrations;
       create policy migrator_only on moltstack_migrations using (current_user <> 'moltstack_app');`,
    );
    const done = new Set(((await exec("select name from moltstack_migrations")) as { name: string }[]).map((r) => r.name));
    for (const file of files) {
      if (done.has(file.name)) continue;
      await exec(file.sql.replaceAll("--> statement-breakpoint", ""));
      await exec("insert into moltstack_migrations (name) values ($1)", [file.name]);
      applied.push(file.name);
    }
  });
  return { applied };
}
