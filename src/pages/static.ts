// The files embedded in the binary (scripts, styles, icons), served under /static with long caching when the URL
// carries this build's version, and robots.txt.
import { Hono } from "hono";
import { assetVersion } from "../../views/layout.tsx";
import { staticFile } from "../build/embedded.ts";
import { AppError } from "../errors.ts";
import type { AppEnv } from "../http/context.ts";

function serveStatic(versioned: boolean, path: string): Response {
  const file = staticFile(path);
  if (!file) throw new AppError("not_found", "no such file");
  return new Response(file, {
    headers: {
      "Content-Type": file.type,
      "Cache-Control": versioned ? "public, max-age=31536000, immutable" : "public, max-age=300",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

export const staticFiles = new Hono<AppEnv>()
  .get("/static/*", (c) =>
    serveStatic(c.req.query("v") === assetVersion, decodeURIComponent(new URL(c.req.url).pathname.slice("/static/".length))),
  )
  .get("/favicon.ico", (c) => serveStatic(c.req.query("v") === assetVersion, "favicon.svg"));

export const robots = new Hono<AppEnv>().get("/robots.txt", (c) => c.text("User-agent: *\nDisallow: /servers/*/events\n"));
