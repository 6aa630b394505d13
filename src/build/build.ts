// `bun run build`: compiles src/main.ts into dist/moltstack, one executable that needs no Bun, node_modules or repo.
// Migrations and static files come in through src/build/embedded.ts's macros, PGlite's WASM/data through file imports, and
// a freshly migrated database snapshot (made here) as an extra entrypoint, so a first start skips initdb.
//
//   bun src/build/build.ts [--entry src/main.ts] [--outfile dist/moltstack] [--target bun-linux-x64] [--no-snapshot]
import { mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { makeSnapshot } from "../db/snapshot.ts";
import { pluginVersion } from "../connect.ts";
import { migrationFiles, PLUGIN_TARBALL_NAME, SNAPSHOT_NAME } from "./embedded.ts";

const root = resolve(import.meta.dir, "../..");
const { values: args } = parseArgs({
  options: {
    entry: { type: "string", default: join(root, "src/main.ts") },
    outfile: { type: "string", default: join(root, "dist/moltstack") },
    target: { type: "string" },
    "no-snapshot": { type: "boolean", default: false },
  },
});
const outfile = resolve(args.outfile!);
const work = join(dirname(outfile), ".build");
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const since = (t: number) => `${((performance.now() - t) / 1000).toFixed(1)} s`;

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const entrypoints = [resolve(args.entry!)];

if (!args["no-snapshot"]) {
  // The same migrator the server runs, so the snapshot is exactly what a first start would have built.
  const t = performance.now();
  const { snapshot, applied } = await makeSnapshot();
  const path = join(work, SNAPSHOT_NAME);
  await Bun.write(path, snapshot);
  entrypoints.push(path);
  console.log(`snapshot: ${applied.length}/${migrationFiles.length} migrations, ${mb(snapshot.size)}, ${since(t)}`);
}

{
  // The OpenClaw plugin, packed as `bun run build:openclaw` packs it: the server hands it out to install.
  const t = performance.now();
  const packed = Bun.spawnSync(["bun", join(root, "src/openclaw/build.ts"), "--outdir", join(work, "openclaw")], { stderr: "pipe" });
  if (packed.exitCode !== 0) {
    console.error(packed.stderr.toString());
    process.exit(1);
  }
  const path = join(work, PLUGIN_TARBALL_NAME);
  await Bun.write(path, Bun.file(join(work, `moltstack-openclaw-${pluginVersion}.tgz`)));
  entrypoints.push(path);
  console.log(`openclaw plugin: ${PLUGIN_TARBALL_NAME} ${pluginVersion}, ${since(t)}`);
}

const t = performance.now();
const result = await Bun.build({
  entrypoints,
  compile: {
    outfile,
    ...(args.target ? { target: args.target as Bun.Build.CompileTarget } : {}),
    // The binary reads its settings from flags and the environment only, never from files in whatever folder it runs in.
    autoloadDotenv: false,
    autoloadBunfig: false,
  },
  // Not `minify: true`: its syntax pass once rejected fengari (the Lua of ioredis-mock, since dropped) and, tried
  // again without it, makes no smaller binary.
  minify: { whitespace: true, identifiers: true, syntax: false },
  sourcemap: "none",
  // Keep the snapshot's name stable (no content hash) so embeddedSnapshot() can find it in Bun.embeddedFiles.
  naming: { asset: "[name].[ext]" },
  loader: { ".tgz": "file" },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log(`built ${outfile}: ${mb(statSync(outfile).size)} in ${since(t)}`);
