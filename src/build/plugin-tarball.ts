// The OpenClaw plugin's npm-pack tarball that this server hands out (GET /openclaw/moltstack-openclaw.tgz): the binary
// carries the one src/build/build.ts packed; from source it is packed once per process by `bun run build:openclaw`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pluginVersion } from "../connect.ts";
import { embeddedPluginTarball } from "./embedded.ts";

let packed: Promise<Blob | undefined> | undefined;

/** The tarball, or undefined when this build has none (a binary built without it). */
export function pluginTarball(): Promise<Blob | undefined> {
  const embedded = embeddedPluginTarball();
  if (embedded) return Promise.resolve(embedded);
  if (Bun.embeddedFiles.length) return Promise.resolve(undefined); // a binary, built without the plugin
  packed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "moltstack-plugin-"));
    try {
      const build = Bun.spawn(["bun", resolve(import.meta.dir, "../openclaw/build.ts"), "--outdir", join(dir, "openclaw")], {
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
      if (code !== 0) throw new Error(`build:openclaw failed: ${out}${err}`.slice(0, 2000));
      return new Blob([await Bun.file(join(dir, `moltstack-openclaw-${pluginVersion}.tgz`)).arrayBuffer()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  packed.catch(() => (packed = undefined));
  return packed;
}
