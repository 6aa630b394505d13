// One pagination shape for every list: {data, has_more}, ?limit= (default 50, max 100) and id cursors.
import { and, asc, type Column, desc, gt, lt, type SQL } from "drizzle-orm";
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
    .object({
      data: z.array(item),
      has_more: z.boolean().meta({ description: "whether a next page exists (page on with the last id as a cursor)" }),
    })
    .meta({ id: name });
}

/**
 * One page over a time-ordered id column: the cursor condition, the order and how many rows to fetch (one more than
 * the page shows, for toPage). Newest first below `before`; oldest first above `after` when there is no `before`, or
 * always with `order: "oldest"`. Use as `.where(and(..., cursor.where)).orderBy(cursor.orderBy).limit(cursor.limit)`.
 */
export function idCursor(
  column: Column,
  query: { limit: number; before?: string; after?: string },
  order: "newest" | "oldest" = "newest",
): { where: SQL | undefined; orderBy: SQL; limit: number; oldestFirst: boolean } {
  const oldestFirst = order === "oldest" || (!!query.after && !query.before);
  return {
    oldestFirst,
    where: and(query.before ? lt(column, query.before) : undefined, query.after ? gt(column, query.after) : undefined),
    orderBy: oldestFirst ? asc(column) : desc(column),
    limit: query.limit + 1,
  };
}

/**
 * Rows were fetched with limit + 1: the extra one only says there is more. `view` turns the rows the page keeps into
 * what it shows.
 */
export async function toPage<R>(rows: R[], limit: number): Promise<Page<R>>;
export async function toPage<R, T>(rows: R[], limit: number, view: (kept: R[]) => T[] | Promise<T[]>): Promise<Page<T>>;
export async function toPage<R, T>(rows: R[], limit: number, view?: (kept: R[]) => T[] | Promise<T[]>): Promise<Page<R> | Page<T>> {
  const kept = rows.slice(0, limit);
  const has_more = rows.length > limit;
  return view ? { data: await view(kept), has_more } : { data: kept, has_more };
}
