import type { z } from "zod";

/**
 * Core shapes of the backtester (docs/backtesting.md). Columnar and typed so the engine loop never
 * allocates per bar. Units: times ms UTC (bar open time), prices quote currency, quantities coins,
 * weights and rates fractions (0.0001 = 1 bp).
 */

/** One symbol's OHLCV columns, aligned to {@link Frame.time}. */
export interface Bars {
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

/**
 * Candles of one or more symbols on a common time axis (timestamps present in every symbol).
 * `funding[j][i]` is the sum of funding rates whose event falls inside bar i of symbol j (0 when
 * none); null when no funding series was given.
 */
export interface Frame {
  symbols: string[];
  /** Bar length, ms. */
  intervalMs: number;
  /** Bar open times, ms UTC, strictly increasing. */
  time: Float64Array;
  assets: Bars[];
  funding: Float64Array[] | null;
  /**
   * Per symbol (same order), the fraction of the frame's 8-hour funding times covered by the funding
   * data attached (src/backtest/coverage.ts); 0 without funding. Set by buildFrame; absent on frames
   * built by hand, which count as uncovered.
   */
  fundingCoverage?: number[];
}

/**
 * What a strategy emits: per symbol, the target weight decided on bar i's close (`targets[j][i]`,
 * fraction of equity, before leverage; > 0 long, < 0 short). The engine holds `targets[j][i-1]`
 * during bar i (executed at its open); during the very first bar it holds `initial[j]`.
 */
export interface Signals {
  targets: Float64Array[];
  /** Target before any data is seen (buy_and_hold = 1); default 0. */
  initial?: number[];
}

/** Target buffers reused across calls of {@link StrategyDef.signals} on one frame. */
export interface SignalScratch {
  targets: Float64Array[] | null;
}

/** Memoises indicator arrays by key during one run or experiment (same frame). */
export type IndicatorCache = Map<string, Float64Array>;

/** A named strategy with a zod parameter schema. */
export interface StrategyDef<P = Record<string, unknown>> {
  name: string;
  description: string;
  /** `single`: one signal per symbol (equal weight across symbols); `portfolio`: cross-sectional. */
  kind: "single" | "portfolio";
  params: z.ZodType<P>;
  /**
   * Computes targets from the frame. Must be causal: `targets[j][i]` may use data of bars ≤ i only.
   * With `scratch`, a strategy may write its targets into `scratch.targets` (one array of the frame's
   * length per symbol, made on first use) instead of new arrays: the returned signals are then valid
   * until the next call with the same scratch (an experiment's variants, issue 15).
   * @throws TwError INVALID_INPUT for parameters the schema cannot express (e.g. fast ≥ slow).
   */
  signals(frame: Frame, params: P, cache: IndicatorCache, scratch?: SignalScratch): Signals;
}

/** Cost and sizing inputs of one engine run. */
export interface EngineOptions {
  /** Taker fee rate (fraction). */
  feeRate: number;
  /** Slippage (fraction) applied against the taker at the open. */
  slippage: number;
  /** Starting equity, quote currency. */
  initialEquity: number;
  /** Multiplies every target weight. */
  leverage: number;
  /**
   * Participation cap (fraction of the bar's volume, issue 13): when set, a fill at bar i's open is at
   * most `maxParticipation × volume[i]` coins and the rest is retried at the next bars. Default: none
   * (the documented all-in convention).
   */
  maxParticipation?: number;
  /**
   * Forces the general multi-symbol loop even for one symbol without a participation cap (which
   * otherwise takes the fused single-symbol path with identical results). For equivalence tests and
   * the benchmark only.
   */
  general?: boolean;
  /**
   * The initial equity the run's metrics will be computed with (default `initialEquity`; an
   * experiment's later windows start from the previous window's equity but are measured from the
   * spec's). The single-symbol path does the metrics' curve pass inside its loop against it.
   */
  metricsInitial?: number;
  /**
   * Where to write the equity curve: a buffer of at least end − start values, reused across a grid's
   * runs (the result's `equity` is then a view of it, valid until the buffer is used again). Default:
   * a new array per run.
   */
  equityBuffer?: Float64Array;
  /** First bar index (inclusive). Default 0. */
  start?: number;
  /** Last bar index (exclusive). Default frame length. */
  end?: number;
}

/** One round trip (flat → position → flat) of one symbol. */
export interface Trade {
  symbol: string;
  side: "long" | "short";
  /** Open time (ms UTC) of the bar whose open filled the first entry. */
  entry_time: number;
  /** Quantity-weighted average entry fill price. */
  entry_price: number;
  /** Open time of the bar whose open filled the final exit; null while open. */
  exit_time: number | null;
  /** Quantity-weighted average exit fill price; null while open. */
  exit_price: number | null;
  /** Largest absolute position held (coins). */
  qty: number;
  /** Net PnL, quote: fills, fees and funding; mark-to-market at the last close while open. */
  pnl: number;
  fees: number;
  /** Funding received (> 0) or paid (< 0), quote. */
  funding: number;
  /** pnl / (entry_price × qty). */
  return: number;
  /** Bars held. */
  bars: number;
  open: boolean;
}

/** Summary statistics of a run (formulas in src/backtest/metrics.ts and docs/backtesting.md). */
export interface Metrics {
  initial_equity: number;
  final_equity: number;
  total_return: number;
  cagr: number | null;
  max_drawdown: number;
  sharpe: number | null;
  sortino: number | null;
  win_rate: number | null;
  profit_factor: number | null;
  avg_trade: number | null;
  exposure: number;
  turnover: number;
  fees_paid: number;
  funding_paid: number;
  trades: number;
  bars: number;
  days: number;
}
