import type { ScenarioResult } from "./runner.js";
import type { TransportName } from "./schema.js";

/**
 * The eval report: a table for humans (stdout) and a JSON document (file). Scenarios are sorted by
 * name and carry no timestamps, so two runs of the same build give identical reports apart from
 * `duration_ms` fields (see {@link withoutTimings}).
 */

/** The JSON report (snake_case). */
export interface EvalReport {
  transport: TransportName;
  summary: { total: number; passed: number; failed: number; not_applicable: number };
  scenarios: ScenarioResult[];
  /** Wall time of the whole run, ms. */
  duration_ms: number;
}

/** Builds the report from results (sorted by scenario name). */
export function buildReport(
  transport: TransportName,
  results: ScenarioResult[],
  durationMs: number,
): EvalReport {
  const scenarios = [...results].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    transport,
    summary: {
      total: scenarios.length,
      passed: scenarios.filter((r) => r.result === "pass").length,
      failed: scenarios.filter((r) => r.result === "fail").length,
      not_applicable: scenarios.filter((r) => r.result === "n/a").length,
    },
    scenarios,
    duration_ms: Math.round(durationMs),
  };
}

/** The report with every `duration_ms` removed: the part that must be identical across runs. */
export function withoutTimings(r: EvalReport): Omit<EvalReport, "duration_ms"> {
  const { duration_ms: _d, ...rest } = r;
  return { ...rest, scenarios: r.scenarios.map(({ duration_ms: _x, ...s }) => ({ ...s, duration_ms: 0 })) };
}

function fmtTime(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/**
 * Renders the table (scenario, steps, result, time), then the failures of each failed scenario,
 * then a summary line.
 */
export function renderTable(r: EvalReport): string {
  const rows = r.scenarios.map((s) => [
    s.name,
    s.result === "n/a" ? "-" : `${s.steps_passed}/${s.steps}`,
    s.result === "pass" ? "PASS" : s.result === "fail" ? "FAIL" : "n/a",
    fmtTime(s.duration_ms),
  ]);
  const head = ["scenario", "steps", "result", "time"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  const failed = r.scenarios.filter((s) => s.result !== "pass" && s.failures.length > 0);
  if (failed.length > 0) out.push("");
  for (const s of failed) {
    out.push(`${s.result === "fail" ? "FAIL" : "n/a "} ${s.name} (${s.file}): ${s.guarantee}`);
    for (const f of s.failures) out.push(`     ${f}`);
  }
  const m = r.summary;
  out.push(
    "",
    `${m.passed} passed, ${m.failed} failed, ${m.not_applicable} n/a of ${m.total} scenarios (${r.transport}) in ${fmtTime(r.duration_ms)}`,
  );
  return `${out.join("\n")}\n`;
}
