import { backtestBench } from "./backtest.js";
import { run as runRag } from "./rag.js";
import { replayBench } from "./replay.js";
import { serveBench } from "./serve.js";

/**
 * `npm run bench` entry (runs dist/bench/index.js with --expose-gc). Benchmarks are not tests: each
 * module measures its own throughput against a baseline measured in the same run and prints a report;
 * nothing here asserts. Other areas add their module to BENCHES with one line.
 */

/** One benchmark module: prints human-readable lines and returns a JSON-able summary. */
export interface BenchModule {
  name: string;
  run(): Promise<Record<string, unknown>>;
}

/** Every benchmark, in run order. */
export const BENCHES: BenchModule[] = [
  backtestBench,
  replayBench,
  serveBench,
  {
    name: "rag",
    run: async () => {
      const report = await runRag();
      process.stdout.write(`${report}\n`);
      return { report };
    },
  },
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const summary: Record<string, unknown> = {};
  for (const b of BENCHES) {
    if (only.length > 0 && !only.includes(b.name)) continue;
    process.stdout.write(`\n== ${b.name} ==\n`);
    summary[b.name] = await b.run();
  }
  process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
