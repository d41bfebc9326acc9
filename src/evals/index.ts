import { loadScenarios } from "./load.js";
import { scenarioDir } from "./paths.js";
import { buildReport, type EvalReport } from "./report.js";
import { runScenario, type ScenarioResult } from "./runner.js";
import type { TransportName } from "./schema.js";

/**
 * The eval harness entry: load scenarios, run them one after the other (each on its own TW_HOME,
 * App / server and simulated clock), and build the report. Used by `tradewarden eval` and tests.
 */

/** Options of {@link runEvals}. */
export interface RunEvalsOptions {
  /** Scenario folder (default: the shipped evals/scenarios). */
  dir?: string;
  /** Substring or `*` glob on scenario name or file name. */
  filter?: string;
  transport?: TransportName;
  /** Shared data folder (default TW_DATA or the repository's data/). */
  dataDir?: string;
  /** Called after each scenario (progress output). */
  onResult?: (r: ScenarioResult, index: number, total: number) => void;
}

/**
 * Runs the scenarios sequentially (they share process.env for secrets in memory mode, and a
 * sequential run keeps the output order and timings stable).
 * @throws ScenarioError when a scenario file is invalid (nothing runs).
 */
export async function runEvals(opts: RunEvalsOptions = {}): Promise<EvalReport> {
  const transport = opts.transport ?? "memory";
  const list = loadScenarios(opts.dir ?? scenarioDir(), opts.filter);
  const t0 = performance.now();
  const results: ScenarioResult[] = [];
  for (const [i, s] of list.entries()) {
    const r = await runScenario(s, { transport, dataDir: opts.dataDir });
    results.push(r);
    opts.onResult?.(r, i, list.length);
  }
  return buildReport(transport, results, performance.now() - t0);
}

export { loadScenarios, parseScenario, ScenarioError } from "./load.js";
export { buildReport, type EvalReport, renderTable, withoutTimings } from "./report.js";
export { runScenario, type ScenarioResult } from "./runner.js";
