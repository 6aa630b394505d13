// drizzle-kit config: `bun run db:generate` diffs schema.ts against migrations/meta and writes the next SQL file.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
