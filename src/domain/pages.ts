// One pagination shape for every list: {data, has_more}, ?limit= (default 50, max 100) and id cursors.
import { z } from "zod";
import { uuid } from "../lib/ids.ts";

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: uuid.optional(),
  after: uuid.optional(),
});
export type PageQuery = z.infer<typeof pageQuery>;

export type Page<T> = { data: T[]; has_more: boolean };

/** Rows were fetched with limit + 1: the extra one only says there is more. */
export function toPage<T>(rows: T[], limit: number): Page<T> {
  return { data: rows.slice(0, limit), has_more: rows.length > limit };
}
