// `bun test` runs vitest-style files: "vitest" resolves to Bun's own runner, whose types these are.
declare module "vitest" {
  export * from "bun:test";
}
