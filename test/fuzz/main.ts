// `bun run fuzz`: fuzzes every API operation and every gateway op of a fresh real server at length, prints the totals
// and exits non-zero on any failure, with the shrunk counterexample.
//   bun run fuzz [--runs N] [--ws-runs N] [--seed S] [--only "POST /api/v1/servers"] [--workers N] [--batch N]
// Env twins: FUZZ_RUNS, FUZZ_WS_RUNS, FUZZ_SEED, FUZZ_ONLY, FUZZ_WORKERS, FUZZ_BATCH. Defaults: 10,000 per operation and
// per op, a new random seed (printed: pass it back with --seed to replay a run).
import { failureReport, fuzzServer, runFuzz, slowest, totalsTable } from "./fuzz.ts";

function option(name: string, env: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i >= 0) return argv[i].includes("=") ? argv[i].slice(argv[i].indexOf("=") + 1) : argv[i + 1];
  return process.env[env] || undefined;
}
const whole = (v: string | undefined, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a whole number: ${v}`);
  return n;
};

const runs = whole(option("runs", "FUZZ_RUNS"), 10_000);
const options = {
  runs,
  wsRuns: whole(option("ws-runs", "FUZZ_WS_RUNS"), runs),
  seed: whole(option("seed", "FUZZ_SEED"), Math.floor(Math.random() * 2 ** 31)),
  workers: whole(option("workers", "FUZZ_WORKERS"), 4),
  batch: whole(option("batch", "FUZZ_BATCH"), 250),
  only: option("only", "FUZZ_ONLY"),
};
console.log(
  `fuzz: seed ${options.seed}, ${options.runs} requests per operation, ${options.wsRuns} frames per gateway op${options.only ? `, only ${options.only}` : ""}`,
);
const server = await fuzzServer();
let code = 1;
try {
  const report = await runFuzz(server, options);
  console.log(totalsTable(report));
  console.log(`\nslowest answers:\n${slowest(report)}`);
  if (report.failures.length) {
    console.log(
      `\n${failureReport(report)}\n\nreplay: bun run fuzz --seed ${options.seed} --runs ${options.runs} --ws-runs ${options.wsRuns} --batch ${options.batch}${options.only ? ` --only "${options.only}"` : ""}`,
    );
  } else {
    code = 0;
  }
} finally {
  await server.stop();
}
process.exit(code);
