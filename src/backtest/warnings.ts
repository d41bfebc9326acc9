import type { Frame } from "./types.js";

/**
 * Warnings on research results (issue 18 and issue 11 §2, docs/backtesting.md "Warnings"): plain
 * sentences an agent reads next to the numbers, each saying what is wrong with the sample and what to
 * do about it. A result with warnings is not evidence until they are resolved.
 */

/** Below these counts a sample is flagged. */
export interface WarningLimits {
  /** Bars simulated (for experiments: out-of-sample bars). Default 1,000. */
  min_bars: number;
  /** Closed round trips (for experiments: the winner's out of sample). Default 30. */
  min_trades: number;
}

/** Defaults of {@link WarningLimits} (issue 18). */
export const DEFAULT_WARNING_LIMITS: Readonly<WarningLimits> = Object.freeze({
  min_bars: 1000,
  min_trades: 30,
});

/**
 * Who is told how to add funding: `cli` (the `backtest` command: `--funding DIR`) or `server` (a
 * tool on `serve`: the market-data source must carry funding).
 */
export type FundingRemedy = "cli" | "server";

/** Results' diagnostics. */
export interface Diagnostics {
  warnings: string[];
  /** Symbol → fraction of the run's 8-hour funding times covered by funding data (coverage.ts). */
  funding_coverage: Record<string, number>;
}

/** Symbol → funding coverage of a frame (0 for frames without a recorded coverage). */
export function coverageOf(frame: Frame): Record<string, number> {
  return Object.fromEntries(frame.symbols.map((s, j) => [s, frame.fundingCoverage?.[j] ?? 0]));
}

/**
 * Bar and trade count warnings. `scope` prefixes the sentence, e.g. "out-of-sample" for experiments.
 */
export function sampleWarnings(
  bars: number,
  trades: number,
  limits: WarningLimits,
  scope: "run" | "out-of-sample" = "run",
): string[] {
  const out: string[] = [];
  const where = scope === "run" ? "" : " out of sample";
  if (bars < limits.min_bars) {
    out.push(
      `Only ${bars} bars${where} (fewer than ${limits.min_bars}): too small a sample for these metrics to be ` +
        "evidence. Use a longer from/to range or a finer interval.",
    );
  }
  if (trades < limits.min_trades) {
    out.push(
      `Only ${trades} closed round trips${where} (fewer than ${limits.min_trades}): return, Sharpe, win rate ` +
        "and profit factor rest on too few trades to be evidence. Use a longer range or a finer interval.",
    );
  }
  return out;
}

/**
 * One warning per perp whose funding coverage is below 1: with funding switched off, that it was;
 * otherwise the coverage and what to pass to add the missing funding.
 */
export function fundingWarnings(
  coverage: Record<string, number>,
  applied: boolean,
  remedy: FundingRemedy,
): string[] {
  const out: string[] = [];
  for (const [sym, c] of Object.entries(coverage)) {
    if (c >= 1) continue;
    if (!applied) {
      out.push(
        `${sym}: funding was not applied (${remedy === "cli" ? "--no-funding" : "funding: false"}), so PnL leaves ` +
          `out the funding a perp pays or receives. ${remedy === "cli" ? "Drop --no-funding" : "Omit funding: false"} to include it.`,
      );
      continue;
    }
    const pct = `${Math.round(c * 1000) / 10}%`;
    const fix =
      remedy === "cli"
        ? `Pass --funding DIR with ${sym}USDT_funding*.csv[.gz] files (or put them in a --data folder); ` +
          "without --data the embedded data includes funding."
        : `Run the server on a market-data source with ${sym} funding: TW_MARKET_DATA=replay:<candles dir>:<funding dir> ` +
          "(files named <COIN><QUOTE>_funding*.csv[.gz]), or TW_MARKET_DATA=replay for the embedded data with funding.";
    out.push(
      `${sym}: funding data covers ${pct} of the run's 8-hour funding times, so PnL leaves out funding for the ` +
        `rest. ${fix}`,
    );
  }
  return out;
}

/**
 * The window was cut by the replay clock: it ends at `endsAt` (last bar open, ms UTC) although the
 * data runs to `dataEndsAt`.
 */
export function clockWarning(endsAt: number, dataEndsAt: number, clockNow: number): string {
  const iso = (t: number) => new Date(t).toISOString();
  return (
    `The window ends at ${iso(endsAt)} because the replay clock stands at ${iso(clockNow)}; the data runs to ` +
    `${iso(dataEndsAt)}. Research never sees the replay's future: the later bars are left out until the clock ` +
    "passes them, so this result covers less than the data."
  );
}

/**
 * Warnings for a winner whose value of a searched parameter (≥ 2 distinct numbers in the grid) is the
 * smallest or largest searched: the optimum may lie outside the grid.
 */
export function gridEdgeWarnings(grid: Record<string, unknown[]>, params: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const e of gridEdges(grid, params)) {
    out.push(
      `The winner's ${e.param} = ${e.value} is at the ${e.edge} edge of the searched values ` +
        `[${e.values.join(", ")}]: the best value may lie beyond it, so this winner is not an optimum. ` +
        `Search ${e.edge === "lower" ? "below" : "above"} it (next_experiment).`,
    );
  }
  return out;
}

/** A searched numeric parameter whose winning value is at an edge of its grid. */
export interface GridEdge {
  param: string;
  value: number;
  edge: "lower" | "upper";
  /** The searched values, ascending, distinct. */
  values: number[];
}

/** The winner's parameters that sit at an edge of their searched values, in grid key order. */
export function gridEdges(grid: Record<string, unknown[]>, params: Record<string, unknown>): GridEdge[] {
  const out: GridEdge[] = [];
  for (const [param, raw] of Object.entries(grid)) {
    const v = params[param];
    if (typeof v !== "number" || !raw.every((x) => typeof x === "number")) continue;
    const values = [...new Set(raw as number[])].sort((a, b) => a - b);
    if (values.length < 2) continue;
    if (v === values[0]) out.push({ param, value: v, edge: "lower", values });
    else if (v === values[values.length - 1]) out.push({ param, value: v, edge: "upper", values });
  }
  return out;
}

/**
 * Warnings and funding coverage of a finished backtest (the research service and the `backtest` command).
 * @param fundingApplied the spec's `funding` flag.
 */
export function backtestDiagnostics(
  frame: Frame,
  m: { bars: number; trades: number },
  fundingApplied: boolean,
  limits: WarningLimits,
  remedy: FundingRemedy = "server",
): Diagnostics {
  const funding_coverage = coverageOf(frame);
  return {
    warnings: [
      ...sampleWarnings(m.bars, m.trades, limits),
      ...fundingWarnings(funding_coverage, fundingApplied, remedy),
    ],
    funding_coverage,
  };
}
