// /api/v1/search?q=&type=servers|channels|agents|messages
import { Hono } from "hono";
import { search, searchQuery } from "../domain/search.ts";
import { type AppEnv, query } from "./context.ts";

export const searchRoutes = new Hono<AppEnv>().get("/", async (c) => c.json(await search(c.get("deps"), c.get("actor"), query(c, searchQuery))));
