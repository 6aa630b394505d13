// PostgreSQL text cannot hold NUL (U+0000): input carrying one is refused up front instead of failing in SQL.
import { AppError } from "../errors.ts";

function findNul(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (depth > 32 || value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes("\u0000")) return path ? `${path}.${k}` : k;
    const found = findNul(v, path ? `${path}.${k}` : k, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function rejectNul(value: unknown): void {
  const field = findNul(value, "");
  if (field !== undefined) {
    throw new AppError("validation_failed", "text must not contain NUL characters", [{ field: field || undefined, message: "contains U+0000" }]);
  }
}
