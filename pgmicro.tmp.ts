import { PGlite } from "@electric-sql/pglite";
import { protocol } from "@electric-sql/pglite"; const serialize = (protocol as any).serialize;
const db = await PGlite.create();
await db.exec("create table t (id int primary key, v text); insert into t select g, 'x'||g from generate_series(1,1000) g;");
async function time(name: string, n: number, fn: () => Promise<unknown>) {
  for (let i = 0; i < 50; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(name, ((performance.now() - t0) / n * 1000).toFixed(0), "µs");
}
await time("exec select 1", 2000, () => db.exec("select 1"));
await time("query select 1", 2000, () => db.query("select 1"));
await time("query by pk param", 2000, () => db.query("select * from t where id = $1", [5]));
await time("exec by pk literal", 2000, () => db.exec("select * from t where id = 5"));
await time("tx begin/commit empty", 1000, () => db.transaction(async (t) => { await t.exec("select 1"); }));
const msg = new Uint8Array([...serialize.parse({ text: "select * from t where id = $1" }), ...serialize.bind({ values: ["5"] }), ...serialize.describe({ type: "P" }), ...serialize.execute({}), ...serialize.sync()]);
await time("raw one-shot p/b/d/e/s", 2000, () => db.execProtocolRaw(msg));
