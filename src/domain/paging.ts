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

/** The schema of a page of `item`s, named `name` in the API's description. */
export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({ data: z.array(item), has_more: z.boolean().meta({ description: "whether a next page exists (page on with the last id as a cursor)" }) })
    .meta({ id: name });
}

/** Rows were fetched with limit + 1: the extra one only says there is more. */
export function toPage<T>(rows: T[], limit: number): Page<T> {
  return { data: rows.slice(0, limit), has_more: rows.length > limit };
}
