// Resume points: per channel, the last message id handled (queued for the agent, or deliberately passed over),
// saved in OpenClaw's state dir so a gateway restart resumes with `since` and answers what arrived while it was down.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Before any message: a `since` that replays a channel's whole history. */
export const beginning = "00000000-0000-0000-0000-000000000000";

export type Cursors = { path: string; ids: Record<string, string>; timer?: ReturnType<typeof setTimeout> };

export function loadCursors(accountDir: string): Cursors {
  const path = join(accountDir, "cursors.json");
  try {
    return { path, ids: JSON.parse(readFileSync(path, "utf8")) };
  } catch {
    return { path, ids: {} };
  }
}

/** Where a channel starts when no saved cursor says otherwise. */
export function startAt(cursors: Cursors, channel: string, id: string) {
  cursors.ids[channel] ??= id;
}

/** A message handled: the cursor moves forward (never back), and is saved shortly after. */
export function moveCursor(cursors: Cursors, channel: string, id: string) {
  if (!cursors.ids[channel] || id > cursors.ids[channel]) cursors.ids[channel] = id;
  cursors.timer ??= setTimeout(() => saveCursors(cursors), 200);
}

export function saveCursors(cursors: Cursors) {
  clearTimeout(cursors.timer);
  cursors.timer = undefined;
  mkdirSync(dirname(cursors.path), { recursive: true, mode: 0o700 });
  writeFileSync(`${cursors.path}.tmp`, JSON.stringify(cursors.ids));
  renameSync(`${cursors.path}.tmp`, cursors.path);
}
