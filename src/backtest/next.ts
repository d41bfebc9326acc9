import { INTERVALS, type Interval } from "../exchange/types.js";
import type { ExperimentSpec } from "./experiment.js";
import type { GateResult } from "./gate.js";
import { gridEdges } from "./warnings.js";

/**
 * The next adjacent experiment (issue 18: research record → bounded backtest → variants → gate →
 * evidence card → next experiment). One deterministic suggestion, ready to pass to experiment_run,
 * chosen by the first rule that applies:
 *  1. the winner sits at an edge of a searched numeric parameter → extend that parameter's grid two
 *     steps past the edge (neighbouring parameters);
 *  2. the gate passed → the winner alone (one variant) on a coin of the universe it was not selected
 *     on (an independent confirmation);
 *  3. too few out-of-sample trades or bars → the same grid on the next finer interval;
 *  4. otherwise → the same grid on the next coarser interval (fewer trades, lower costs), or on
 *     another coin when there is none.
 */

/** experiment_run arguments of the suggestion (snake_case; from/to ms UTC, omitted when open). */
export interface NextExperimentArgs {
  strategy: string;
  base_params: Record<string, unknown>;
  grid: Record<string, unknown[]>;
  symbols: string[];
  interval: Interval;
  from?: number;
  to?: number;
  split: ExperimentSpec["split"];
  /** Only when the experiment used a custom gate (same thresholds). */
  gate?: Omit<ExperimentSpec["gate"], "name">;
}

/** A suggested next experiment. */
export interface NextExperiment {
  /** Which rule chose it: `extend_grid`, `other_coin`, `finer_interval`, `coarser_interval`. */
  kind: "extend_grid" | "other_coin" | "finer_interval" | "coarser_interval";
  /** Why, in one sentence. */
  reason: string;
  arguments: NextExperimentArgs;
}

/** What the rules look at. */
export interface NextInput {
  spec: ExperimentSpec;
  /** Winner's params (defaults filled in). */
  winner: Record<string, unknown>;
  gate: GateResult;
  oos_bars: number;
  oos_trades: number;
  /** Fewest out-of-sample bars before a sample counts as too small (warnings' min_bars). */
  min_bars: number;
  /** The server's coins (config `universe`). */
  universe: readonly string[];
}

/** Picks the next experiment by the rules above. Pure. */
export function nextExperiment(i: NextInput): NextExperiment {
  const { spec } = i;
  const base: NextExperimentArgs = {
    strategy: spec.strategy,
    base_params: spec.base_params,
    grid: spec.grid,
    symbols: spec.data.symbols,
    interval: spec.data.interval,
    ...(spec.data.from !== null ? { from: spec.data.from } : {}),
    ...(spec.data.to !== null ? { to: spec.data.to } : {}),
    split: spec.split,
    ...(spec.gate.name === "custom" ? { gate: stripName(spec.gate) } : {}),
  };
  for (const e of gridEdges(spec.grid, i.winner)) {
    const values = extend(e.values, e.edge);
    if (values.every((v) => e.values.includes(v))) continue;
    return {
      kind: "extend_grid",
      reason: `${e.param} = ${e.value} won at the ${e.edge} edge of [${e.values.join(", ")}]; search past it.`,
      arguments: { ...base, grid: { ...spec.grid, [e.param]: values } },
    };
  }
  const coin = i.universe.find((c) => !spec.data.symbols.includes(c));
  const iv = INTERVALS.indexOf(spec.data.interval);
  const finer = iv > 0 ? INTERVALS[iv - 1] : null;
  const coarser = iv < INTERVALS.length - 1 ? INTERVALS[iv + 1] : null;
  if (i.gate.passed && coin) {
    const fixed = Object.fromEntries(Object.keys(spec.grid).map((k) => [k, [i.winner[k]]]));
    return {
      kind: "other_coin",
      reason: `The gate passed on ${spec.data.symbols.join(", ")}; confirm the winner alone on ${coin}, which it was not selected on.`,
      arguments: { ...base, grid: fixed, symbols: [coin] },
    };
  }
  const thin = i.oos_trades < i.gate.config.min_trades || i.oos_bars < i.min_bars;
  if (thin && finer) {
    return {
      kind: "finer_interval",
      reason: `Too few out-of-sample trades or bars (${i.oos_trades} trades, ${i.oos_bars} bars) on ${spec.data.interval}; ${finer} bars give more of both.`,
      arguments: { ...base, interval: finer },
    };
  }
  if (coarser) {
    return {
      kind: "coarser_interval",
      reason: i.gate.passed
        ? `The gate passed on ${spec.data.interval} and no other coin is left; confirm on ${coarser} bars.`
        : `The gate failed with the winner inside the grid on ${spec.data.interval}; try ${coarser} bars (fewer trades, lower costs).`,
      arguments: { ...base, interval: coarser },
    };
  }
  return {
    kind: "other_coin",
    reason: `No coarser interval than ${spec.data.interval}; try the same grid on ${coin ?? "another coin"}.`,
    arguments: { ...base, symbols: coin ? [coin] : spec.data.symbols },
  };
}

function stripName(g: ExperimentSpec["gate"]): Omit<ExperimentSpec["gate"], "name"> {
  const { name: _n, ...rest } = g;
  return rest;
}

/**
 * Two steps past an edge at the edge's own spacing, keeping the edge and its neighbour. Integer grids
 * stay integer; grids of positive values stay positive (periods cannot be 0).
 */
export function extend(values: number[], edge: "lower" | "upper"): number[] {
  const ints = values.every(Number.isInteger);
  const positive = values.every((v) => v > 0);
  const n = values.length;
  const step = edge === "lower" ? values[1] - values[0] : values[n - 1] - values[n - 2];
  const around =
    edge === "lower"
      ? [values[0] - 2 * step, values[0] - step, values[0], values[1]]
      : [values[n - 2], values[n - 1], values[n - 1] + step, values[n - 1] + 2 * step];
  const out = around.map((v) => (ints ? Math.round(v) : v)).filter((v) => !positive || v > 0);
  return [...new Set(out)].sort((a, b) => a - b);
}
