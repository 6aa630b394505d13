// Loaded before every test file (bunfig.toml). With `bun test --parallel`, files run at the same time in several
// worker processes; on PostgreSQL each worker then takes a database of its own, `<DATABASE_URL's database>_w<worker>`,
// made afresh here: servers of one database share its webhook outbox and its tables, and a test that counts what its
// server sent must not see another file's server send it. Within one worker, files run one after the other, as in a
// serial run on the one database. `.ci/run` drops these databases with its own; by hand, the next run remakes them.

import postgres from "postgres";

const base = process.env.DATABASE_URL;
const worker = process.env.BUN_TEST_WORKER_ID;

if (base && worker && /^\d+$/.test(worker)) {
  const url = new URL(base);
  const name = `${decodeURIComponent(url.pathname.slice(1)) || "postgres"}_w${worker}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin`create database ${admin(name)}`;
    url.pathname = `/${encodeURIComponent(name)}`;
    process.env.DATABASE_URL = url.toString();
  } finally {
    await admin.end();
  }
}
