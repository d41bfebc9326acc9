import { z } from "zod";
import { TwError } from "../errors.js";
import { bps } from "../exchange/fillModel.js";
import { type EngineResult, runEngine } from "./engine.js";
import { DEFAULT_GATE, evaluateGate, type GateConfig, type GateResult, GateSpec } from "./gate.js";
import { metricsAndDaily } from "./metrics.js";
import { cancelled, DataSpec } from "./run.js";
import { buyAndHold } from "./strategies/single.js";
import { resolveStrategy } from "./strategies/index.js";
import { deflatedSharpe, moments } from "./stats.js";
import type { Frame, IndicatorCache, Metrics, SignalScratch, Signals } from "./types.js";
import {
  coverageOf,
  DEFAULT_WARNING_LIMITS,
  type FundingRemedy,
  fundingWarnings,
  gridEdgeWarnings,
  sampleWarnings,
  type WarningLimits,
} from "./warnings.js";

/**
 * Experiments: a bounded parameter grid evaluated in-sample and out-of-sample, ranked by
 * out-of-sample Sharpe, with the deflated Sharpe ratio of the winner given the number of variants
 * tried (Bailey & López de Prado 2014, see stats.ts), the out-of-sample gate (gate.ts) and warnings
 * about the sample (warnings.ts); docs/backtesting.md "Experiments".
 *
 * Windows: `train_test` cuts the bars at `train_fraction`; `walk_forward` cuts them into folds + 1
 * equal segments, fold f training on segment f−1 and testing on segment f. Signals are computed once
 * over the whole frame (indicators are causal, so the test window sees only its own past, with warm-up
 * from earlier bars) and the engine is run per window, each window starting flat with the previous
 * window's final equity; window results are chained into one equity curve per side.
 */

const gridValue = z.union([z.number(), z.boolean(), z.string().max(1000)]);

/** Hard cap on variants per experiment. */
export const MAX_VARIANTS = 5000;

/**
 * In-sample / out-of-sample split: `train_test` (first `train_fraction` of the bars in-sample) or
 * `walk_forward` (`folds` consecutive train/test windows). Shared by the spec and the experiment_run tool.
 */
export const SplitSpec = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("train_test"), train_fraction: z.number().gt(0).lt(1).default(0.7) }).strict(),
    z.object({ kind: z.literal("walk_forward"), folds: z.number().int().min(1).max(20).default(3) }).strict(),
  ])
  .default({ kind: "train_test", train_fraction: 0.7 });

/** An experiment specification (snake_case; stored verbatim). */
export const ExperimentSpec = z
  .object({
    strategy: z.string().min(1).max(64),
    /** Fixed params shared by every variant. */
    base_params: z.record(z.string(), z.unknown()).default({}),
    /** param name → values; the grid is their cartesian product. */
    grid: z.record(z.string(), z.array(gridValue).min(1).max(1000)),
    data: DataSpec,
    split: SplitSpec,
    /** The gate in force (gate.ts); default: the default gate. */
    gate: GateSpec.default({ name: "default", ...DEFAULT_GATE }),
    max_variants: z.number().int().min(1).max(MAX_VARIANTS).default(1000),
    fee_bps: z.number().min(0).max(1000).default(4.5),
    slippage_bps: z.number().min(0).max(1000).default(1),
    initial_equity: z.number().positive().max(1e12).default(100_000),
    leverage: z.number().positive().max(100).default(1),
  })
  .strict();
export type ExperimentSpec = z.infer<typeof ExperimentSpec>;

/** Metrics of one variant on both sides. */
export interface VariantResult {
  params: Record<string, unknown>;
  in_sample: Metrics;
  out_of_sample: Metrics;
}

/** The experiment outcome. */
export interface ExperimentOutcome {
  variants_total: number;
  variants_tried: number;
  /** Variants refused by the strategy (e.g. fast ≥ slow) with the reason. */
  variants_invalid: Array<{ params: Record<string, unknown>; reason: string }>;
  windows: { in_sample: Array<[number, number]>; out_of_sample: Array<[number, number]> };
  /** Top variants by out-of-sample Sharpe (at most 20). */
  ranking: VariantResult[];
  winner:
    | (VariantResult & {
        deflated_sharpe: number | null;
        expected_max_sharpe: number;
        daily_observations: number;
      })
    | null;
  buy_and_hold: { in_sample: Metrics; out_of_sample: Metrics };
  /** The gate's verdict with every criterion (gate.ts). */
  gate: GateResult;
  /** What makes this result weak evidence (warnings.ts); empty when nothing does. */
  warnings: string[];
  /** Symbol → fraction of the run's 8-hour funding times covered by funding data. */
  funding_coverage: Record<string, number>;
  elapsed_ms: number;
}

/** Hooks of an experiment. */
export interface ExperimentHooks {
  signal?: AbortSignal;
  progress?: (done: number, total: number) => void | Promise<void>;
}

/** Settings of an experiment's verdict and warnings that are not part of its spec. */
export interface ExperimentOptions {
  /** Thresholds listed for criteria a looser gate turns off. Default {@link DEFAULT_GATE}. */
  gateDefaults?: GateConfig;
  /** Default {@link DEFAULT_WARNING_LIMITS}. */
  limits?: WarningLimits;
  /** How funding warnings say to add funding. Default `server`. */
  remedy?: FundingRemedy;
}

/**
 * Cartesian product of a grid in key order (last key varies fastest), merged over `base`.
 * @throws TwError INVALID_INPUT when the product exceeds `max`.
 */
export function expandGrid(
  base: Record<string, unknown>,
  grid: Record<string, unknown[]>,
  max: number,
): Array<Record<string, unknown>> {
  const keys = Object.keys(grid);
  const total = keys.reduce((n, k) => n * grid[k].length, 1);
  if (total > max) {
    throw new TwError("INVALID_INPUT", `The grid has ${total} variants; the limit is ${max}.`, {
      hint: "Use fewer values per parameter or raise max_variants (at most 5000).",
      details: { variants: total, max },
    });
  }
  let out: Array<Record<string, unknown>> = [{ ...base }];
  for (const k of keys) out = out.flatMap((p) => grid[k].map((v) => ({ ...p, [k]: v })));
  return out;
}

/** Splits [0, n) into (train, test) windows. */
export function windowsFor(
  n: number,
  split: ExperimentSpec["split"],
): { train: Array<[number, number]>; test: Array<[number, number]> } {
  if (split.kind === "train_test") {
    const cut = Math.floor(n * split.train_fraction);
    if (cut < 2 || n - cut < 2) throw tooShort(n);
    return { train: [[0, cut]], test: [[cut, n]] };
  }
  const seg = Math.floor(n / (split.folds + 1));
  if (seg < 2) throw tooShort(n);
  const bounds = Array.from({ length: split.folds + 2 }, (_, m) => (m === split.folds + 1 ? n : m * seg));
  const train: Array<[number, number]> = [];
  const test: Array<[number, number]> = [];
  for (let f = 1; f <= split.folds; f++) {
    train.push([bounds[f - 1], bounds[f]]);
    test.push([bounds[f], bounds[f + 1]]);
  }
  return { train, test };
}

function tooShort(n: number): TwError {
  return new TwError("INVALID_INPUT", `Only ${n} bars: too few to split into windows.`, {
    hint:
      "Use a longer range or a finer interval; on a replay source, research sees only the bars closed by the " +
      "replay clock.",
  });
}

/**
 * Chained engine results over consecutive windows (each starts flat with the previous final equity).
 * Window w writes its equity into `buffer` right after window w − 1, so the chained curve is the
 * buffer's first Σ lengths values without a copy; the buffer is reused by the next call (the result's
 * curve is read before that, only metrics and daily returns are kept).
 */
function runWindows(
  frame: Frame,
  signals: Signals,
  windows: Array<[number, number]>,
  spec: ExperimentSpec,
  buffer: Float64Array,
): { result: EngineResult; metrics: Metrics; daily: Float64Array } {
  const parts: EngineResult[] = [];
  let equity = spec.initial_equity;
  let offset = 0;
  for (const [start, end] of windows) {
    const r = runEngine(frame, signals, {
      feeRate: bps(spec.fee_bps),
      slippage: bps(spec.slippage_bps),
      initialEquity: equity,
      metricsInitial: spec.initial_equity,
      leverage: spec.leverage,
      start,
      end,
      equityBuffer: buffer.subarray(offset),
    });
    offset += end - start;
    equity = r.equity[r.equity.length - 1];
    parts.push(r);
  }
  const result: EngineResult =
    parts.length === 1
      ? parts[0]
      : {
          start: parts[0].start,
          end: parts[parts.length - 1].end,
          equity: buffer.subarray(0, offset),
          // Built only when read, like a single run's records (the metrics read closedPnl).
          get trades() {
            return parts.flatMap((p) => p.trades);
          },
          closedPnl: concat(parts.map((p) => p.closedPnl)),
          feesPaid: sum(parts.map((p) => p.feesPaid)),
          fundingPaid: sum(parts.map((p) => p.fundingPaid)),
          tradedNotional: sum(parts.map((p) => p.tradedNotional)),
          exposureBars: sum(parts.map((p) => p.exposureBars)),
          positions: parts[parts.length - 1].positions,
        };
  const m = metricsAndDaily(result, frame.time, frame.intervalMs, spec.initial_equity);
  return { result, metrics: m.metrics, daily: m.daily };
}

/** A buffer for the equity curves of `windows` laid end to end. */
const windowsBuffer = (windows: Array<[number, number]>) =>
  new Float64Array(windows.reduce((n, [a, b]) => n + b - a, 0));

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function concat(arrs: Float64Array[]): Float64Array {
  const out = new Float64Array(arrs.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function rankKey(m: Metrics): number {
  return m.sharpe ?? Number.NEGATIVE_INFINITY;
}

/**
 * Runs an experiment on a loaded frame.
 * @throws TwError NOT_FOUND (strategy), INVALID_INPUT (grid too large, base params invalid, too few
 *   bars, every variant invalid), CANCELLED when aborted.
 */
export async function runExperiment(
  frame: Frame,
  spec: ExperimentSpec,
  hooks: ExperimentHooks = {},
  opts: ExperimentOptions = {},
): Promise<ExperimentOutcome> {
  const t0 = performance.now();
  const variants = expandGrid(spec.base_params, spec.grid, spec.max_variants);
  const win = windowsFor(frame.time.length, spec.split);
  const cache: IndicatorCache = new Map();
  // Equity curves of every variant's windows go to these two buffers (issue 15: no per-variant
  // allocation of curves).
  const trainBuffer = windowsBuffer(win.train);
  // …and strategies that support it write their targets into one set of arrays.
  const scratch: SignalScratch = { targets: null };
  const testBuffer = windowsBuffer(win.test);
  const results: Array<VariantResult & { daily: Float64Array }> = [];
  const invalid: ExperimentOutcome["variants_invalid"] = [];
  let lastYield = performance.now();
  for (let v = 0; v < variants.length; v++) {
    if (hooks.signal?.aborted) throw cancelled();
    let signals: Signals;
    let params: Record<string, unknown>;
    try {
      const r = resolveStrategy(spec.strategy, variants[v]);
      params = r.params;
      signals = r.def.signals(frame, params, cache, scratch);
    } catch (e) {
      if (e instanceof TwError && e.code === "INVALID_INPUT") {
        invalid.push({ params: variants[v], reason: e.message });
        continue;
      }
      throw e;
    }
    const is = runWindows(frame, signals, win.train, spec, trainBuffer);
    const oos = runWindows(frame, signals, win.test, spec, testBuffer);
    // The out-of-sample daily returns (dailyReturns of the chained curve), kept for the DSR.
    results.push({ params, in_sample: is.metrics, out_of_sample: oos.metrics, daily: oos.daily });
    if (performance.now() - lastYield > 50) {
      await hooks.progress?.(v + 1, variants.length);
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
  }
  await hooks.progress?.(variants.length, variants.length);
  if (results.length === 0) {
    throw new TwError(
      "INVALID_INPUT",
      `Every one of the ${variants.length} variants was refused by ${spec.strategy}.`,
      {
        hint: invalid[0]?.reason ?? "Check the grid values against strategy_list.",
      },
    );
  }
  // Stable sort: ties keep grid order, so the ranking is deterministic.
  const ranked = [...results].sort((a, b) => rankKey(b.out_of_sample) - rankKey(a.out_of_sample));
  const best = ranked[0];
  const bhSignals = buyAndHold.signals(frame, {}, cache);
  const bh = {
    in_sample: runWindows(frame, bhSignals, win.train, spec, trainBuffer).metrics,
    out_of_sample: runWindows(frame, bhSignals, win.test, spec, testBuffer).metrics,
  };
  const dsr = winnerDsr(
    best.daily,
    results.map((r) => r.daily),
  );
  const gate = evaluateGate(
    {
      oos_return: best.out_of_sample.total_return,
      oos_sharpe: best.out_of_sample.sharpe,
      deflated_sharpe: dsr.dsr,
      oos_trades: best.out_of_sample.trades,
      buy_and_hold_return: bh.out_of_sample.total_return,
      variants: results.length,
    },
    spec.gate,
    opts.gateDefaults,
  );
  const coverage = coverageOf(frame);
  const warnings = [
    ...sampleWarnings(
      best.out_of_sample.bars,
      best.out_of_sample.trades,
      opts.limits ?? DEFAULT_WARNING_LIMITS,
      "out-of-sample",
    ),
    ...fundingWarnings(coverage, spec.data.funding, opts.remedy ?? "server"),
    ...gridEdgeWarnings(spec.grid, best.params),
  ];
  const strip = ({ daily: _d, ...r }: VariantResult & { daily: Float64Array }): VariantResult => r;
  return {
    variants_total: variants.length,
    variants_tried: results.length,
    variants_invalid: invalid,
    windows: {
      in_sample: win.train.map((w) => span(frame, w)),
      out_of_sample: win.test.map((w) => span(frame, w)),
    },
    ranking: ranked.slice(0, 20).map(strip),
    winner: {
      ...strip(best),
      deflated_sharpe: dsr.dsr,
      expected_max_sharpe: dsr.sr0,
      daily_observations: best.daily.length,
    },
    buy_and_hold: bh,
    gate,
    warnings,
    funding_coverage: coverage,
    elapsed_ms: Math.round(performance.now() - t0),
  };
}

function span(frame: Frame, [a, b]: [number, number]): [number, number] {
  return [frame.time[a], frame.time[b - 1]];
}

/**
 * DSR of the winner: per-day Sharpe of its out-of-sample daily returns against the variance of every
 * variant's per-day Sharpe, with N = the number of variants tried.
 */
function winnerDsr(best: Float64Array, all: Float64Array[]): { dsr: number | null; sr0: number } {
  const perDay = (r: Float64Array): number | null => {
    if (r.length < 2) return null;
    const m = moments(r);
    const sd = m.std * Math.sqrt(r.length / (r.length - 1));
    return sd > 0 ? m.mean / sd : null;
  };
  const srs = all.map(perDay).filter((x): x is number => x !== null);
  const sr = perDay(best);
  if (sr === null || srs.length === 0) return { dsr: null, sr0: 0 };
  const mean = srs.reduce((a, b) => a + b, 0) / srs.length;
  const variance = srs.length > 1 ? srs.reduce((a, b) => a + (b - mean) ** 2, 0) / (srs.length - 1) : 0;
  const m = moments(best);
  return deflatedSharpe({
    sharpe: sr,
    observations: best.length,
    skew: m.skew,
    kurtosis: m.kurt,
    trials: all.length,
    varianceOfSharpes: variance,
  });
}
