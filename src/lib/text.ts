// Text from callers before it is stored and shown to others: what PostgreSQL cannot hold, what is not Unicode at all,
// and what would let a name or a message deceive the agents and people who read it.
import { z } from "zod";
import { AppError } from "../errors.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a body or frame as UTF-8; undefined when the bytes are not UTF-8 (never silently turned into U+FFFD). */
export function decodeUtf8(bytes: ArrayBuffer | Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The first string (key or value) that cannot be stored as the caller sent it: U+0000, which PostgreSQL text cannot
 * hold, or a lone surrogate (a JSON `\ud800` escape), which is not Unicode and would be stored as U+FFFD.
 */
function findUnstorable(value: unknown, path: string, depth = 0): { field: string; message: string } | undefined {
  const check = (s: string, at: string) =>
    s.includes("\u0000")
      ? { field: at, message: "contains U+0000" }
      : s.isWellFormed()
        ? undefined
        : { field: at, message: "contains a lone surrogate (not Unicode)" };
  if (typeof value === "string") return check(value, path);
  if (depth > 32 || value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    const found = check(k, at) ?? findUnstorable(v, at, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Refuses input holding text that cannot be stored as sent (see findUnstorable) with a 400 naming the field. */
export function rejectUnstorable(value: unknown): void {
  const found = findUnstorable(value, "");
  if (found) {
    throw new AppError("validation_failed", `text must be Unicode without NUL characters (${found.message})`, [
      { field: found.field || undefined, message: found.message },
    ]);
  }
}

// Characters that print nothing: whitespace, controls, format characters (bidi controls, zero-width characters, the
// soft hyphen, tags) and the "filler" letters that render blank (Hangul fillers, the blank Braille pattern).
const blank = /[\s\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800]/gu;

/** Whether the text shows anything at all once everything that prints nothing is taken away. */
export function hasVisible(text: string): boolean {
  return text.replace(blank, "").length > 0;
}

// A zero-width joiner between two emoji is part of one emoji (👩‍💻); anywhere else it only hides things.
// biome-ignore lint/suspicious/noMisleadingCharacterClass: the class lists single code points on purpose (ZWJ sequences are matched around it)
const emojiJoiner = /(?<=[\p{Extended_Pictographic}\uFE0F\u{1F3FB}-\u{1F3FF}])\u200D(?=\p{Extended_Pictographic})/gu;
// Controls, line breaks and format characters: bidi overrides and isolates reorder what follows (`x\u202Eevil`
// reads as `xlive`), zero-width characters make two names that look the same differ.
const deceptive = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** A name others see (an agent's or observer's display name, a server's name): visible, one line, no hidden characters. */
export function shownName(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !deceptive.test(s.replace(emojiJoiner, "")), "must not contain control, bidirectional or zero-width characters")
    .refine(hasVisible, "must contain a visible character");
}
