// Everything that must live inside the single executable: migrations, static files, PGlite's WASM/data files and the
// migrated database snapshot made by src/build/build.ts. The app imports these from here and never from the disk.
// File imports: each default export is a path (under /$bunfs/ inside the binary). TypeScript has no declaration for them.
// @ts-expect-error
import pgliteWasmPath from "@electric-sql/pglite/pglite.wasm" with { type: "file" };
// @ts-expect-error
import initdbWasmPath from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
// @ts-expect-error
import pgliteDataPath from "@electric-sql/pglite/pglite.data" with { type: "file" };
import { readMigrations, readStatic } from "./embedded.macro.ts" with { type: "macro" };

/** Every migrations/*.sql file, sorted by name (read when the code is transpiled or compiled). */
export const migrationFiles: { name: string; sql: string }[] = readMigrations();

/** The name src/build/build.ts gives the migrated snapshot it embeds in the binary. */
export const SNAPSHOT_NAME = "moltstack-snapshot.tar.gz";
/** The name src/build/build.ts gives the OpenClaw plugin's npm-pack tarball it embeds in the binary. */
export const PLUGIN_TARBALL_NAME = "moltstack-openclaw.tgz";

export type PGliteAssets = {
  pgliteWasmModule: WebAssembly.Module;
  initdbWasmModule: WebAssembly.Module;
  fsBundle: Blob;
};

let assets: Promise<PGliteAssets> | undefined;

/** PGlite's WASM modules and file-system bundle, compiled once per process; spread into `PGlite.create({...})`. */
export function pgliteAssets(): Promise<PGliteAssets> {
  assets ??= (async () => {
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
      Bun.file(pgliteWasmPath)
        .arrayBuffer()
        .then((bytes) => WebAssembly.compile(bytes)),
      Bun.file(initdbWasmPath)
        .arrayBuffer()
        .then((bytes) => WebAssembly.compile(bytes)),
    ]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: Bun.file(pgliteDataPath) };
  })();
  assets.catch(() => (assets = undefined)); // a failed compile may be retried
  return assets;
}

const staticSources = readStatic();
const staticBlobs = new Map<string, Blob>();

/**
 * A file of static/ (plus `htmx.min.js`), by its path under /static/ without the leading slash, or undefined.
 * The Blob's `type` is the content type to send.
 */
export function staticFile(path: string): Blob | undefined {
  const key = path.replace(/^\/+/, "");
  let blob = staticBlobs.get(key);
  if (!blob) {
    const source = Object.hasOwn(staticSources, key) ? staticSources[key] : undefined;
    if (!source) return undefined;
    blob = new Blob([Buffer.from(source.base64, "base64")], { type: source.type });
    staticBlobs.set(key, blob);
  }
  return blob;
}

/** The paths staticFile() knows, sorted. */
export const staticPaths: string[] = Object.keys(staticSources).sort();

/**
 * The gzip tar of a freshly migrated PGlite data dir that src/build/build.ts embedded in the binary, for
 * `PGlite.create(dir, { loadDataDir: embeddedSnapshot(), ...assets })` on an empty data dir. Undefined from source.
 */
export function embeddedSnapshot(): Blob | undefined {
  return Bun.embeddedFiles.find((file) => (file as Blob & { name?: string }).name === SNAPSHOT_NAME);
}

/** The OpenClaw plugin's tarball that src/build/build.ts embedded in the binary; undefined from source. */
export function embeddedPluginTarball(): Blob | undefined {
  return Bun.embeddedFiles.find((file) => (file as Blob & { name?: string }).name === PLUGIN_TARBALL_NAME);
}
