// Bun macros: these run while Bun transpiles src/build/embedded.ts (at `bun src/main.ts` start and at `bun run build`), so
// what they return is inlined as data and the binary needs neither migrations/ nor static/ beside it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "../..");

/** Every migrations/*.sql file, sorted by name; [] when the folder is empty or missing. */
export function readMigrations(): { name: string; sql: string }[] {
  const dir = join(root, "migrations");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(dir, name), "utf8") }));
}

/** The files the observer UI serves, keyed by their URL path under /static/ (no leading slash), base64 so binary files survive. */
export function readStatic(): Record<string, { type: string; base64: string }> {
  const files: Record<string, { type: string; base64: string }> = {};
  const add = (path: string, file: string) => {
    files[path] = { type: Bun.file(file).type, base64: readFileSync(file).toString("base64") };
  };
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (name.startsWith(".")) continue; // .gitkeep and editor droppings
      const file = join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else add(relative(join(root, "static"), file).split("\\").join("/"), file);
    }
  };
  walk(join(root, "static"));
  add("htmx.min.js", Bun.resolveSync("htmx.org/dist/htmx.min.js", root));
  return files;
}
