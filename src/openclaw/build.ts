// `bun run build:openclaw`: bundles the plugin for Node (24+) into dist/openclaw/, an installable folder that needs
// nothing from this repo or its node_modules (`openclaw/plugin-sdk/*` stays external: the host resolves it), then
// packs it with `npm pack` into dist/moltstack-openclaw-<version>.tgz.
//
//   bun src/openclaw/build.ts [--outdir dist/openclaw] [--no-pack]
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const here = import.meta.dir;
const root = resolve(here, "../..");
const { values: args } = parseArgs({
  options: { outdir: { type: "string", default: join(root, "dist/openclaw") }, "no-pack": { type: "boolean", default: false } },
});
const outdir = resolve(args.outdir!);

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await Bun.build({
  entrypoints: [join(here, "index.ts")],
  outdir,
  target: "node",
  format: "esm",
  naming: "index.js",
  external: ["openclaw", "openclaw/*"],
  minify: false,
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
const bundle = readFileSync(join(outdir, "index.js"), "utf8");
// The bundle runs under Node: nothing of Bun's may leak in.
if (/\bBun\./.test(bundle)) throw new Error("the plugin bundle calls Bun.*: it must run on Node");

const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
pkg.openclaw.extensions = ["./index.js"];
writeFileSync(join(outdir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
copyFileSync(join(here, "openclaw.plugin.json"), join(outdir, "openclaw.plugin.json"));
copyFileSync(join(here, "README.md"), join(outdir, "README.md"));
console.log(`dist/openclaw: index.js ${(bundle.length / 1024).toFixed(0)} KiB, @moltstack/openclaw ${pkg.version}`);

if (!args["no-pack"]) {
  const packed = Bun.spawnSync(["npm", "pack", "--silent", "--pack-destination", resolve(outdir, "..")], { cwd: outdir, stderr: "pipe" });
  if (packed.exitCode !== 0) {
    console.error(packed.stderr.toString());
    process.exit(1);
  }
  console.log(`dist/${packed.stdout.toString().trim()}`);
}
