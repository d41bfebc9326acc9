import { z } from "zod";
import { TwError } from "../errors.js";
import { bps } from "../exchange/fillModel.js";
import { INTERVALS } from "../exchange/types.js";
import { EngineRun, type EngineResult } from "./engine.js";
import { computeMetrics } from "./metrics.js";
import { resolveStrategy } from "./strategies/index.js";
import type { Frame, IndicatorCache, Metrics, Trade } from "./types.js";

/**
 * One backtest from a complete, repeatable specification: strategy + params, data source, symbols,
 * interval, range, costs, equity and leverage. The spec is stored with the result, so running it
 * again on the same data gives the same numbers (the engine is deterministic).
 */

/** Data part of a spec. */
export const DataSpec = z
  .object({
    /** Market-data source id: `replay:<dir>[:<dir>…]`, `hyperliquid`, `ccxt:<id>`. */
    source: z.string().min(1).max(2000),
    symbols: z
      .array(z.string().regex(/^[A-Z0-9]{1,20}$/))
      .min(1)
      .max(20),
    interval: z.enum(INTERVALS),
    /** First bar open time, ms UTC (inclusive). */
    from: z.number().int().nullable().default(null),
    /** Last bar open time, ms UTC (inclusive). */
    to: z.number().int().nullable().default(null),
    /** Apply funding when the source has it. */
    funding: z.boolean().default(true),
  })
  .strict();

/** A full backtest specification (snake_case; stored verbatim). */
export const BacktestSpec = z
  .object({
    strategy: z.string().min(1).max(64),
    params: z.record(z.string(), z.unknown()).default({}),
    data: DataSpec,
    fee_bps: z.number().min(0).max(1000).default(4.5),
    slippage_bps: z.number().min(0).max(1000).default(1),
    initial_equity: z.number().positive().max(1e12).default(100_000),
    leverage: z.number().positive().max(100).default(1),
  })
  .strict();
export type BacktestSpec = z.infer<typeof BacktestSpec>;

/** Downsampled curves for charts and `backtest_get`. */
export interface Samples {
  /** Bar open times, ms UTC. */
  time: number[];
  /** Equity at that bar's close, quote. */
  equity: number[];
  /** 1 − equity / running peak (over every bar, not only samples). */
  drawdown: number[];
  /** Close of each symbol at the sample (same order as the spec's symbols). */
  close: number[][];
}

/** What a backtest produces. */
export interface BacktestOutcome {
  metrics: Metrics;
  trades: Trade[];
  samples: Samples;
  /** Open time of the first and last simulated bar, ms UTC. */
  first_bar: number;
  last_bar: number;
  elapsed_ms: number;
  bars_per_second: number;
}

/** Hooks of an async run. */
export interface RunHooks {
  signal?: AbortSignal;
  /** Called between chunks with bars done and total. */
  progress?: (done: number, total: number) => void | Promise<void>;
  /** Bars per chunk between progress reports (default 100 000). */
  chunk?: number;
}

/** Most points in {@link Samples}. */
export const MAX_SAMPLES = 1000;

/** Downsamples an engine result to at most `max` points, always keeping the last bar. */
export function sampleCurves(frame: Frame, r: EngineResult, initial: number, max = MAX_SAMPLES): Samples {
  const n = r.equity.length;
  const stride = Math.max(1, Math.ceil(n / max));
  const s: Samples = { time: [], equity: [], drawdown: [], close: frame.assets.map(() => []) };
  let peak = initial;
  for (let k = 0; k < n; k++) {
    const e = r.equity[k];
    if (e > peak) peak = e;
    if (k % stride === 0 || k === n - 1) {
      s.time.push(frame.time[r.start + k]);
      s.equity.push(e);
      s.drawdown.push(1 - e / peak);
      frame.assets.forEach((b, j) => {
        s.close[j].push(b.close[r.start + k]);
      });
    }
  }
  return s;
}

/**
 * Runs a spec's strategy over a loaded frame, in chunks so callers can report progress and cancel.
 * @throws TwError NOT_FOUND / INVALID_INPUT for a bad strategy or params, CANCELLED when aborted.
 */
export async function runBacktest(
  frame: Frame,
  spec: BacktestSpec,
  hooks: RunHooks = {},
): Promise<BacktestOutcome> {
  const t0 = performance.now();
  const { def, params } = resolveStrategy(spec.strategy, spec.params);
  const cache: IndicatorCache = new Map();
  const signals = def.signals(frame, params, cache);
  const run = new EngineRun(frame, signals, {
    feeRate: bps(spec.fee_bps),
    slippage: bps(spec.slippage_bps),
    initialEquity: spec.initial_equity,
    leverage: spec.leverage,
  });
  const total = run.end - run.start;
  const chunk = hooks.chunk ?? 100_000;
  while (!run.finished) {
    if (hooks.signal?.aborted) throw cancelled();
    run.step(run.start + run.done + chunk);
    await hooks.progress?.(run.done, total);
    // Yield so a cancellation notification can be processed between chunks.
    if (!run.finished) await new Promise((r) => setImmediate(r));
  }
  const result = run.finish();
  const metrics = computeMetrics(result, frame.time, frame.intervalMs, spec.initial_equity);
  const elapsed = performance.now() - t0;
  return {
    metrics,
    // Built from the round-trip log on first read (storage and tools read them; `backtest --json`
    // without --save does not), outside elapsed_ms like the samples.
    get trades() {
      return result.trades;
    },
    samples: sampleCurves(frame, result, spec.initial_equity),
    first_bar: frame.time[result.start],
    last_bar: frame.time[result.end - 1],
    elapsed_ms: Math.round(elapsed * 1000) / 1000,
    bars_per_second: Math.round(total / (elapsed / 1000)),
  };
}

/** The CANCELLED error of an aborted run. */
export function cancelled(): TwError {
  return new TwError("CANCELLED", "The run was cancelled; nothing was stored.", {
    hint: "Call again to start over.",
  });
}
