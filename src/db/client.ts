// Opens the one database MoltStack runs on: embedded PGlite (a data dir, or memory:) or PostgreSQL via postgres.js.
// Both are wrapped in the same drizzle database so the domain never knows which one it talks to.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  PGlite,
  type Transaction as PGliteTransaction,
  parse as pgliteParse,
  protocol,
  type QueryOptions,
  type Results,
} from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite, PgliteDatabase, PgliteSession } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { pgliteAssets } from "../build/embedded.ts";
import { ConfigError } from "../config.ts";
import { isDiskFull, isOutage, ServiceUnavailable } from "../errors.ts";
import { within } from "../lib/deadline.ts";
import { link } from "../lib/link.ts";
import { type Listeners, listeners } from "../lib/listeners.ts";
import { tally } from "../lib/round-trips.ts";

export type Db = PgDatabase<PgQueryResultHKT>;
/** A transaction's handle: the database's query builders, bound to the transaction's connection. */
export type Tx = Db;

export interface Database {
  kind: "pglite" | "postgres";
  /** PGlite only: this open unpacked a snapshot (src/db/snapshot.ts) into a new data dir: its statistics are the snapshot's. */
  fromSnapshot?: boolean;
  db: Db;
  /**
   * Runs `fn` in one transaction that starts with `setup` (the caller's identity), and hands it the first row `setup`
   * answered. On PGlite BEGIN and `setup` go to the engine in one call.
   */
  transaction<T>(setup: SQL, fn: (tx: Tx, opened: Record<string, unknown> | undefined) => Promise<T>): Promise<T>;
  /**
   * Told, right after a transaction of this process commits and before its caller goes on, the keys its row changes
   * named (migrations/0007_read_model.sql): the read model applies them before anything reads it again.
   */
  committed: Listeners<[keys: string[]]>;
  /** Runs SQL text (several statements allowed) with no parameters, on one connection, under a cluster-wide lock. */
  execLocked(lockKey: number, run: (exec: Exec) => Promise<void>): Promise<void>;
  /**
   * Runs work that needs the database. While the database is known to be unreachable it is refused at once (503)
   * instead of queueing; an outage error marks it unreachable until a probe (every 200 ms) gets an answer again.
   */
  run<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Whether the database answers and can read: the first row of every table through its primary key, so a damaged
   * table file fails here, not only `select 1`. Refused at once while the database is known to be down.
   */
  ping(): Promise<void>;
  /** Whether the disk under the database is full: little space left under the data dir, or a write (`run`) refused lately. */
  diskFull(): boolean;
  /**
   * PostgreSQL only: hears the keys other instances' transactions named (NOTIFY moltstack_changes), on a connection of
   * its own; `link(false)` as soon as that connection is lost (changes may be missed from then on), `link(true)` once
   * it listens again. Answers the function that stops listening.
   */
  watchChanges?(on: { changes(keys: string[]): void; link(up: boolean): void }): Promise<() => Promise<void>>;
  /** PGlite only: the whole data dir as a gzip tarball (test snapshots, build-time snapshot). */
  dump?(): Promise<Blob>;
  close(): Promise<void>;
}

/** The keys a transaction's row changes named (migrations/0007_read_model.sql), space-separated. */
const notedChangesText = "select current_setting('moltstack.changes', true) as changes";
const notedChanges = sql.raw(notedChangesText);
const commitNoting = `${notedChangesText}; COMMIT`;

function tellCommitted(committed: Listeners<[string[]]>, noted: string | undefined): void {
  if (noted) committed.emit(noted.trim().split(" "));
}

/** Without params: SQL text of one or more statements. With params: one statement. */
export type Exec = (sql: string, params?: unknown[]) => Promise<unknown[]>;

export class DatabaseUnreachable extends ConfigError {}

/**
 * One index lookup and one heap fetch per table (the whole row is read, so the index alone cannot answer): enough to
 * notice a table or index file that was truncated or lost, cheap enough for every /readyz.
 */
const readEveryTable = `do $$
declare
  t record;
  row text;
begin
  set local enable_seqscan = off;
  set local enable_bitmapscan = off;
  for t in
    select c.oid::regclass as tbl,
           (select string_agg(quote_ident(a.attname), ',' order by k.n)
              from unnest(i.indkey) with ordinality k(attnum, n)
              join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum) as cols
      from pg_index i
      join pg_class c on c.oid = i.indrelid
      join pg_namespace ns on ns.oid = c.relnamespace
     where i.indisprimary and ns.nspname = 'public'
  loop
    execute format('select x::text from %s x order by %s limit 1', t.tbl, t.cols) into row;
  end loop;
end $$`;

/** Below this much free space under the data dir, the embedded database counts as out of disk. */
const minFreeBytes = 1024 * 1024;
/** This much free space under the data dir means a refused write is history (two WAL segments). */
const plentyBytes = 32 * 1024 * 1024;
/** A write refused for lack of space keeps /readyz unhealthy this long (a freed disk shows in the next check). */
const diskFullMemoryMs = 30_000;

/** Tracks the disk under the database: statfs of the data dir when there is one, and refused writes in any mode. */
function diskWatch(dataDir?: string) {
  let fullAt = -Infinity;
  return {
    diskFull() {
      if (dataDir) {
        try {
          const fs = statfsSync(dataDir);
          const free = fs.bavail * fs.bsize;
          if (free < minFreeBytes) return true;
          if (free >= plentyBytes) fullAt = -Infinity; // space was freed: no need to wait out the memory
        } catch {
          // no statfs here: the memory of refused writes decides
        }
      }
      return performance.now() - fullAt < diskFullMemoryMs;
    },
    noteFailure(e: unknown) {
      if (isDiskFull(e)) fullAt = performance.now();
    },
  };
}

/**
 * PostgreSQL's memory settings for the embedded database, sized for one process with one connection. PGlite keeps
 * PostgreSQL's defaults, made for a server: 128 MB of shared buffers, allocated in the WebAssembly heap at start,
 * and a lock table for 100 connections. The buffers are a cache in front of the data files, which themselves are in
 * memory (memory:) or in the OS's page cache, so a smaller one costs little (bench/memory.ts measures the process).
 * WAL: up to 1 GB between checkpoints by default, which in memory: mode is process memory; a checkpoint every 32 MB
 * (PGlite's single backend checkpoints at once when asked) keeps it to two 16 MB segments.
 */
const embeddedSettings = [
  "shared_buffers = 16MB",
  "work_mem = 2MB",
  "maintenance_work_mem = 16MB",
  "temp_buffers = 2MB",
  "max_connections = 10",
  "min_wal_size = 32MB",
  "max_wal_size = 32MB",
];

export type OpenOptions = {
  databaseUrl?: string;
  dataDir: string;
  /**
   * A migrated data dir to start from when the embedded database is new (src/db/snapshot.ts), or what answers one
   * (asked only then). Without it, a new database is made by initdb.
   */
  snapshot?: Blob | (() => Promise<Blob>);
};

export async function openDatabase(options: OpenOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl) : openPglite(options);
}

async function openPglite({ dataDir, snapshot }: OpenOptions): Promise<Database> {
  const inMemory = dataDir === "memory:";
  const isNew = inMemory || !existsSync(join(dataDir, "PG_VERSION"));
  if (!inMemory) {
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw dataDirProblem(dataDir, e);
    }
  }
  const unlock = inMemory ? () => {} : lockDataDir(dataDir);
  const start = isNew ? (typeof snapshot === "function" ? await snapshot() : snapshot) : undefined;
  let opened: PGlite | undefined;
  try {
    opened = await PGlite.create({
      ...(inMemory ? {} : { dataDir }),
      ...(await pgliteAssets()),
      ...(start ? { loadDataDir: start } : {}),
      postgresqlconf: embeddedSettings,
    });
    // An existing data dir is read before anything is served: a damaged one stops the start, with its name.
    if (!isNew) await opened.exec(readEveryTable);
  } catch (e) {
    await opened?.close().catch(() => {});
    unlock();
    throw unopenable(dataDir, e);
  }
  const client = opened;
  const db: Db = drizzlePglite(client);
  const watch = diskWatch(inMemory ? undefined : dataDir);
  const dialect = new PgDialect();
  const prepared = preparedStatements(client);
  const committed = listeners<[string[]]>("committed");
  return {
    kind: "pglite",
    committed,
    fromSnapshot: start !== undefined,
    db,
    diskFull: watch.diskFull,
    transaction: (setup, fn) =>
      // PGlite's own transaction() costs a call into the engine for BEGIN and another for the identity; here BEGIN
      // travels with the identity, and every statement goes through the prepared-statement cache.
      client._runExclusiveTransaction(async () => {
        tally("db", 3); // BEGIN, the setup, COMMIT
        const identity = dialect.sqlToQuery(setup);
        try {
          const [, opened] = await prepared.query(identity.sql, identity.params, undefined, protocol.serialize.query("BEGIN"));
          const statements: Pick<PGliteTransaction, "query"> = {
            query: async <R>(text: string, params?: unknown[], options?: QueryOptions) => {
              tally("db");
              return (await prepared.query<R>(text, params, options)).at(-1)!;
            },
          };
          const result = await fn(
            new PgliteDatabase(dialect, new PgliteSession(statements as PGliteTransaction, dialect, undefined), undefined),
            opened?.rows[0] as Record<string, unknown> | undefined,
          );
          // The keys the transaction's row changes named travel in the same call as the COMMIT.
          const [noted, commit] = pgliteParse.parseResults(await inOneCall(client, protocol.serialize.query(commitNoting)), client.parsers);
          if (commit?.command === "ROLLBACK")
            throw Object.assign(new Error("the transaction was aborted and rolled back"), { code: "25P02" });
          tellCommitted(committed, (noted?.rows[0] as { changes?: string } | undefined)?.changes);
          return result;
        } catch (e) {
          await inOneCall(client, protocol.serialize.query("ROLLBACK")).catch(() => {});
          throw e;
        }
      }),
    async execLocked(_key, run) {
      // One PGlite instance is one connection; its transaction mutex is the lock.
      await client.transaction(async (tx) => {
        await run(async (text, params) => (params ? (await tx.query(text, params)).rows : (await tx.exec(text)).flatMap((r) => r.rows)));
      });
    },
    // In process: there is no link to lose, only a disk that can fill up.
    async run(work) {
      try {
        return await work();
      } catch (e) {
        watch.noteFailure(e);
        throw e;
      }
    },
    async ping() {
      await client.exec(readEveryTable);
    },
    dump: () => client.dumpDataDir("gzip"),
    async close() {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

/** Prepared statements kept at most: a statement whose text varies with its input (a list of n ids) stays unnamed beyond. */
const maxPreparedStatements = 2000;

/**
 * Statements sent to PGlite in one call each, prepared once per text. PGlite's own query() makes six calls (parse,
 * describe, bind, describe, execute, sync), each a trip through the WebAssembly boundary and its virtual files, and
 * parses and plans the text every time; row-level security makes planning the dearer part (its policies are
 * expanded into every query). Here the text is parsed once into a named statement, whose plan PostgreSQL caches and
 * re-plans by itself when a table or policy it depends on changes; every later use is bind and execute only. The
 * describe PGlite adds only tells the client the parameters' types, which it needs to turn a value into text when the
 * text depends on the type; for strings, numbers, booleans, dates and nulls it does not (the server types each
 * parameter from the statement, as it does for postgres.js's text parameters); drizzle hands every other value as
 * one of those (arrays and JSON as their text).
 */
function preparedStatements(pg: PGlite) {
  const names = new Map<string, string>();
  let made = 0; // names are never reused: a statement whose first use failed may exist or not
  const { serialize } = protocol;
  // drizzle asks for dates and intervals as text through per-query parsers: merged with PGlite's once, not per row set.
  let merged: { keys: string; parsers: typeof pg.parsers } | undefined;
  const parsersFor = (options?: QueryOptions) => {
    const own = options?.parsers;
    if (!own) return pg.parsers;
    const keys = Object.keys(own).join(",");
    if (merged?.keys !== keys) merged = { keys, parsers: { ...pg.parsers, ...own } };
    return merged.parsers;
  };
  return {
    /** Runs one statement (after `before`, protocol messages of the same call); answers every result of the call. */
    async query<T>(text: string, params: unknown[] = [], options?: QueryOptions, ...before: Uint8Array[]): Promise<Results<T>[]> {
      const values: (string | null)[] = [];
      for (const value of params) {
        const asText = textOf(value);
        if (asText === undefined) throw new TypeError(`a statement parameter of type ${typeof value} has no text form here`);
        values.push(asText);
      }
      let name = names.get(text);
      const parse: Uint8Array[] = [];
      if (name === undefined && made < maxPreparedStatements) {
        const fresh = `moltstack_${made++}`;
        parse.push(serialize.parse({ name: fresh, text }));
        name = fresh;
      } else if (name === undefined) {
        parse.push(serialize.parse({ text }));
      }
      const messages = await inOneCall(
        pg,
        ...before,
        ...parse,
        serialize.bind({ statement: name ?? "", values }),
        serialize.describe({ type: "P" }),
        serialize.execute({}),
      );
      // A statement is kept once PostgreSQL has it (a Parse that failed threw above); its plan survives rollbacks.
      if (name !== undefined && !names.has(text)) names.set(text, name);
      return pgliteParse.parseResults(messages, parsersFor(options), { ...options, parsers: undefined }) as Results<T>[];
    },
  };
}

/** Sends protocol messages and a Sync in one call, under PGlite's query lock; a database error is thrown. */
async function inOneCall(pg: PGlite, ...parts: Uint8Array[]) {
  const sync = protocol.serialize.sync();
  const message = new Uint8Array(parts.reduce((n, p) => n + p.length, sync.length));
  let at = 0;
  for (const part of [...parts, sync]) {
    message.set(part, at);
    at += part.length;
  }
  return pg.runExclusive(() => pg.execProtocolStream(message, { syncToFs: false }));
}

function textOf(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "t" : "f";
  }
  return value instanceof Date ? value.toISOString() : undefined;
}

/** Data dirs this process holds: a lock file naming our own pid is stale unless it is in here (pid 1 in containers). */
const heldDataDirs = new Set<string>();

/**
 * One embedded database per data dir: two PGlite instances on the same files overwrite each other's writes. The lock
 * file holds the owner's pid; a lock left by a process that is gone (a crash, kill -9) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir);
  const file = join(dir, "moltstack.lock");
  const mine = String(process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      heldDataDirs.add(dir);
      return () => {
        heldDataDirs.delete(dir);
        try {
          if (readFileSync(file, "utf8").trim() === mine) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw dataDirProblem(dataDir, e);
    }
    const owner = lockOwner(file);
    if (owner !== undefined && (owner === mine ? heldDataDirs.has(dir) : isAlive(Number(owner)))) {
      throw new DatabaseUnreachable(`the data dir ${dataDir} is in use by process ${owner}`);
    }
    try {
      unlinkSync(file); // stale: its process is gone
    } catch {
      // someone else removed it first: try again
    }
  }
  throw new DatabaseUnreachable(`cannot lock the data dir ${dataDir}: ${file} keeps coming back`);
}

/** One line for an embedded database PGlite could not open: a full disk and damaged files said in words. */
function unopenable(dataDir: string, e: unknown): DatabaseUnreachable {
  if (isDiskFull(e) || diskWatch(dataDir).diskFull()) return dataDirProblem(dataDir, Object.assign(new Error(), { code: "ENOSPC" }));
  const message = String((e as Error)?.message ?? e).split("\n")[0];
  // The WASM build reports a PostgreSQL that failed its own checks on the files (PANIC, a bad pg_control) as "Aborted()".
  if (/^Aborted\(/.test(message) || (e as Error)?.name === "RuntimeError") {
    return new DatabaseUnreachable(
      `the embedded database in ${dataDir} is damaged (PostgreSQL stopped while reading its files): restore the data dir from a backup`,
    );
  }
  if (/^(XX|58)/.test(String((e as { code?: string })?.code))) {
    return new DatabaseUnreachable(`the embedded database in ${dataDir} is damaged (${message}): restore the data dir from a backup`);
  }
  return new DatabaseUnreachable(`cannot open the embedded database in ${dataDir}: ${message}`);
}

/** One line for a data dir MoltStack cannot use, in words rather than an errno. */
export function dataDirProblem(dataDir: string, e: unknown): DatabaseUnreachable {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why: Record<string, string> = {
    EEXIST: "it is a file, not a directory",
    ENOTDIR: "a part of its path is a file, not a directory",
    EACCES: "permission denied (the user running moltstack cannot write there)",
    EPERM: "permission denied (the user running moltstack cannot write there)",
    EROFS: "it is on a read-only filesystem",
    ENOSPC: "the disk is full",
    "53100": "the disk is full",
    EDQUOT: "the disk quota is used up",
  };
  return new DatabaseUnreachable(`cannot use the data dir ${dataDir}: ${(code && why[code]) || (e as Error)?.message || String(e)}`);
}

/** The pid in a lock file; a file just created by another process may still be empty for a moment. */
function lockOwner(file: string): string | undefined {
  for (let i = 0; i < 20; i++) {
    try {
      const text = readFileSync(file, "utf8").trim();
      if (/^[1-9]\d*$/.test(text)) return text;
    } catch {
      return undefined;
    }
    Bun.sleepSync(10);
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // alive, but someone else's
  }
}

/** Longest wait for one probe's answer while the database is down. */
const probeDeadlineMs = 500;
const probeEveryMs = 200;

async function openPostgres(url: string): Promise<Database> {
  const sql = postgres(url, {
    max: 10,
    onnotice: () => {},
    // An unreachable host fails a connection within 2 s; a refused one at once. Reconnecting waits at most 0.5 s
    // (postgres.js's default grows to 20 s), so service resumes within a second of the database's return.
    connect_timeout: 2,
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    connection: { application_name: "moltstack" },
  });
  try {
    await sql`select 1`;
  } catch (e) {
    await sql.end({ timeout: 1 }).catch(() => {});
    const where = url.replace(/\/\/[^@/]*@/, "//");
    throw new DatabaseUnreachable(`cannot reach PostgreSQL at ${where}: ${(e as Error).message}`);
  }
  preparing(sql);
  const db: Db = drizzlePostgres(sql);
  const state = link("database", "requests that need it answer 503 until it is back");
  let closed = false;
  let probing = false;
  const answers = () =>
    within(
      sql`select 1`.then(() => {}),
      probeDeadlineMs,
    );
  const wentDown = (e: unknown) => {
    state.down((e as Error)?.message ?? String(e));
    if (probing) return;
    probing = true;
    void (async () => {
      while (!closed && !state.up) {
        try {
          await answers();
          state.restored();
        } catch {
          await new Promise((r) => setTimeout(r, probeEveryMs));
        }
      }
      probing = false;
    })();
  };
  const watch = diskWatch();
  const committed = listeners<[string[]]>("committed");
  return {
    kind: "postgres",
    db,
    committed,
    diskFull: watch.diskFull,
    transaction: async (setup, fn) => {
      // postgres.js's begin() under drizzle's transaction(): it fails the transaction at once when the connection
      // drops.
      let noted: string | undefined;
      const result = await db.transaction(async (tx) => {
        const [opened] = await rows<Record<string, unknown>>(tx, setup);
        const answer = await fn(tx, opened);
        [{ changes: noted }] = await rows<{ changes: string | undefined }>(tx, notedChanges);
        return answer;
      });
      tellCommitted(committed, noted);
      return result;
    },
    watchChanges: (on) => watchChanges(url, on),
    async execLocked(key, run) {
      const conn = await sql.reserve();
      try {
        await conn`select pg_advisory_lock(${key})`;
        try {
          await conn.unsafe("begin");
          try {
            await run(async (text, params) => (await conn.unsafe(text, params as any[])) as unknown[]);
            await conn.unsafe("commit");
          } catch (e) {
            await conn.unsafe("rollback").catch(() => {});
            throw e;
          }
        } finally {
          await conn`select pg_advisory_unlock(${key})`;
        }
      } finally {
        conn.release();
      }
    },
    async run(work) {
      if (!state.up) throw new ServiceUnavailable("the database is unavailable");
      try {
        return await work();
      } catch (e) {
        if (isOutage(e)) wentDown(e);
        watch.noteFailure(e);
        throw e;
      }
    },
    async ping() {
      if (!state.up) throw new ServiceUnavailable("the database is unavailable");
      try {
        await sql.unsafe(readEveryTable); // the caller bounds the wait; a slow answer is not an outage, a failed one is
      } catch (e) {
        if (isOutage(e)) wentDown(e);
        throw e;
      }
    },
    close: () => {
      closed = true;
      // Requests have finished by now; a connection still reconnecting after an outage is not waited for long.
      return sql.end({ timeout: 1 });
    },
  };
}

const changesChannel = "moltstack_changes";

/**
 * LISTEN on a connection of its own (postgres.js's listen() reconnects by itself but never says it was away, and a
 * notification sent meanwhile is gone: the read model must know, to stop answering from memory until it listens again).
 */
async function watchChanges(url: string, on: { changes(keys: string[]): void; link(up: boolean): void }) {
  let closed = false;
  let relistening = false;
  const listener = postgres(url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    connect_timeout: 2,
    onnotice: () => {},
    connection: { application_name: "moltstack-changes" },
    onnotify: (channel: string, payload: string) => {
      if (channel === changesChannel) on.changes(payload.split(" "));
    },
    onclose: () => {
      if (closed) return;
      on.link(false);
      if (!relistening) void relisten();
    },
  } as postgres.Options<{}>);
  const listen = () => listener.unsafe(`listen ${changesChannel}`);
  const relisten = async () => {
    relistening = true;
    while (!closed) {
      try {
        await listen();
        on.link(true);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, probeEveryMs));
      }
    }
    relistening = false;
  };
  await listen();
  return async () => {
    closed = true;
    await listener.end({ timeout: 1 });
  };
}

/**
 * Every statement drizzle sends is prepared, once per connection. drizzle asks postgres.js for unnamed statements
 * (unless a query is built with .prepare(name)), and postgres.js sends an unnamed statement with parameters in two
 * round trips (parse and describe, then bind and execute) and PostgreSQL parses and plans it every time, row-level
 * security's policies included. Our statement texts do not vary with what callers send (values are parameters; the
 * few texts that vary with a list's length are bounded by the list's limit), and a connection's statements go with
 * it (postgres.js replaces connections after 30 to 60 minutes), so the cache stays small.
 */
function preparing(sql: postgres.Sql): void {
  type Unsafe = postgres.Sql["unsafe"];
  // Statements in transactions count as the request's (MOLTSTACK_COUNT_ROUND_TRIPS), as on PGlite.
  const prepared = (unsafe: Unsafe, inTransaction: boolean): Unsafe =>
    ((text: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) => {
      if (inTransaction) tally("db");
      return unsafe(text, params, { ...options, prepare: true });
    }) as Unsafe;
  sql.unsafe = prepared(sql.unsafe.bind(sql), false);
  // drizzle's transaction() calls begin() with a callback only; every statement goes through the handle's unsafe().
  const begin = sql.begin.bind(sql) as (fn: (tx: postgres.TransactionSql) => unknown) => Promise<unknown>;
  (sql as { begin: unknown }).begin = (fn: (tx: postgres.TransactionSql) => unknown) =>
    begin((tx) => {
      tally("db", 2); // BEGIN, COMMIT
      tx.unsafe = prepared(tx.unsafe.bind(tx), true);
      return fn(tx);
    });
}

/** The SQLSTATE of a database error, whichever driver raised it (drizzle wraps the driver's error in `cause`). */
export function sqlState(e: unknown): string | undefined {
  for (let err: any = e, i = 0; err && i < 4; err = err.cause, i++) {
    if (typeof err.code === "string" && /^[0-9A-Z]{5}$/.test(err.code)) return err.code;
  }
  return undefined;
}

/** The constraint a database error names, when it names one. */
export function sqlConstraint(e: unknown): string | undefined {
  for (let err: any = e, i = 0; err && i < 4; err = err.cause, i++) {
    const name = err.constraint_name ?? err.constraint;
    if (typeof name === "string") return name;
  }
  return undefined;
}

/** Rows of a raw `tx.execute(sql...)`: postgres.js answers an array, PGlite an object with `rows`. */
export async function rows<T>(tx: Pick<Db, "execute">, query: SQL): Promise<T[]> {
  const result: unknown = await tx.execute(query);
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
