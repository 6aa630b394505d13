// Ids are UUID v7: time-ordered, so ids double as pagination cursors.
import { z } from "zod";

export const newId = () => Bun.randomUUIDv7();

export const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID").transform((s) => s.toLowerCase());
