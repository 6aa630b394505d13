// Ids are UUID v7: time-ordered, so ids double as pagination cursors.
import { z } from "zod";

export const newId = () => Bun.randomUUIDv7();

/**
 * A new v7 id strictly greater than `previous` (a v7 id), even when this machine's clock is behind the one that made
 * `previous`: then it takes previous's millisecond + 1 and a random tail.
 */
export function newIdAfter(previous: string | undefined): string {
  const id = newId();
  if (!previous || id > previous) return id;
  const ms = parseInt(previous.slice(0, 8) + previous.slice(9, 13), 16) + 1;
  const hex = ms.toString(16).padStart(12, "0");
  const tail = crypto.getRandomValues(new Uint8Array(10));
  const rand = Buffer.from(tail).toString("hex");
  const variant = ((tail[2] & 0x3f) | 0x80).toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8)}-7${rand.slice(0, 3)}-${variant}${rand.slice(6, 8)}-${rand.slice(8, 20)}`;
}

export const uuid = z
  .string()
  // Both cases spelled out rather than a flag: the API description prints the pattern, and JSON Schema has no flags.
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "must be a UUID")
  .meta({ format: "uuid" })
  .transform((s) => s.toLowerCase());

/** The smallest UUID v7 of a moment: a cursor that means "stored from then on". */
export function firstIdAt(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
