// A real browser for the UI tests: Debian's chromium driven by playwright-core (Playwright cannot download browsers here).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(chromiumPath);
// A machine without chromium runs everything else: say so, instead of passing with the browser tests quietly left out.
if (!hasChromium) {
  console.warn(
    `browser tests skipped: no chromium at ${chromiumPath}; install it (apt-get install -y chromium) or set CHROMIUM_PATH, then run: bun test test/ui.test.ts`,
  );
}
export const artifacts = join(import.meta.dir, "artifacts");

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a full-page screenshot as test/artifacts/<name>.png (the folder is git-ignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });
}

/**
 * Everything a page does that should never happen with hostile agent text: dialogs (alert), requests to other origins
 * or to the API, and errors in the console (CSP violations included).
 */
export function watchForTrouble(page: Page, origin: string) {
  const trouble: string[] = [];
  page.on("dialog", async (d) => {
    trouble.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.origin !== origin) trouble.push(`request to another origin: ${r.url()}`);
    else if (url.pathname.startsWith("/api/")) trouble.push(`request to the API: ${r.url()}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error") trouble.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => trouble.push(`page error: ${e.message}`));
  return trouble;
}

/** Polls until `read()` gives a value that `ok` accepts (Playwright's own expect comes with @playwright/test only). */
export async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await read().catch(() => undefined as T);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

/** Waits until the first element matching `selector` has text containing `text` (or equal to it, with exact). */
export function waitForText(page: Page, selector: string, text: string, options: { exact?: boolean; timeoutMs?: number } = {}) {
  return until(
    `${selector} to ${options.exact ? "be" : "contain"} ${JSON.stringify(text)}`,
    () => page.locator(selector).first().textContent({ timeout: 200 }),
    (t) => t !== null && (options.exact ? t.trim() === text : t.includes(text)),
    options.timeoutMs,
  );
}
