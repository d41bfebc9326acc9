import { C_DAYS, C_EQ_SUM, C_MDD, C_PEAK, C_TROUGH, curveSlice, DAY_MS, newCurve } from "./curve.js";
import type { EngineResult } from "./engine.js";
import { SLICE } from "./fused.js";
import type { Metrics } from "./types.js";

/**
 * Performance metrics of an engine run (docs/backtesting.md "Metrics"). Conventions:
 * - total return = final / initial − 1; CAGR = (final / initial)^(1 / years) − 1 over calendar time
 *   from the first bar's open to the last bar's close (years of 365.25 days).
 * - max drawdown = max over t of 1 − equity_t / running peak, the peak starting at the initial equity.
 * - Sharpe and Sortino from daily (UTC, by bar open time) equity returns: the equity at the close of
 *   each day's last bar, preceded by the initial equity. Sharpe = mean / sample std × √365; Sortino =
 *   mean / √(mean(min(r, 0)²)) × √365 (the empyrical convention). Risk-free rate 0. Null with fewer
 *   than 2 daily returns or a zero denominator.
 * - win rate, profit factor (Σ winning PnL / |Σ losing PnL|), average trade PnL: closed round trips
 *   only; exposure = fraction of bars with a position; turnover = traded notional / mean equity.
 */

const YEAR_MS = 365.25 * DAY_MS;

/**
 * Daily returns of an equity series. `time[start + k]` is the open time of the bar whose close
 * equity is `equity[k]`.
 */
export function dailyReturns(
  equity: Float64Array,
  time: Float64Array,
  start: number,
  initial: number,
): Float64Array {
  const out: number[] = [];
  let prev = initial;
  for (let k = 0; k < equity.length; k++) {
    const day = Math.floor(time[start + k] / DAY_MS);
    const lastOfDay = k === equity.length - 1 || Math.floor(time[start + k + 1] / DAY_MS) !== day;
    if (lastOfDay) {
      out.push(equity[k] / prev - 1);
      prev = equity[k];
    }
  }
  return Float64Array.from(out);
}

/** Mean of a series. */
export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Sample standard deviation (÷ (n − 1)). */
export function sampleStd(x: ArrayLike<number>): number {
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return Math.sqrt(s / (x.length - 1));
}

/** Annualised Sharpe of daily returns (mean / sample std × √365), null when undefined. */
export function sharpe(r: ArrayLike<number>): number | null {
  if (r.length < 2) return null;
  const sd = sampleStd(r);
  return sd > 0 ? (mean(r) / sd) * Math.sqrt(365) : null;
}

/** Annualised Sortino of daily returns (mean / √mean(min(r,0)²) × √365), null when undefined. */
export function sortino(r: ArrayLike<number>): number | null {
  if (r.length < 2) return null;
  let s = 0;
  for (let i = 0; i < r.length; i++) if (r[i] < 0) s += r[i] * r[i];
  const dd = Math.sqrt(s / r.length);
  return dd > 0 ? (mean(r) / dd) * Math.sqrt(365) : null;
}

/** Largest peak-to-trough loss as a fraction, peak starting at `initial`. */
export function maxDrawdown(equity: ArrayLike<number>, initial: number): number {
  let peak = initial;
  let mdd = 0;
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i];
    if (e > peak) peak = e;
    const dd = 1 - e / peak;
    if (dd > mdd) mdd = dd;
  }
  return mdd;
}

/**
 * Metrics of a run over `time` (the frame's bar open times) with bars of `intervalMs`. One pass over
 * the equity curve gathers the drawdown, the equity sum and the daily returns, with the same
 * operations in the same order as {@link maxDrawdown}, {@link mean} and {@link dailyReturns} (so the
 * figures are identical to composing them).
 */
export function computeMetrics(
  r: EngineResult,
  time: Float64Array,
  intervalMs: number,
  initial: number,
): Metrics {
  return metricsAndDaily(r, time, intervalMs, initial).metrics;
}

/**
 * {@link computeMetrics} plus the daily returns it computed on the way (equal to
 * {@link dailyReturns} of the same curve and initial equity), so an experiment does not walk the
 * curve twice.
 */
export function metricsAndDaily(
  r: EngineResult,
  time: Float64Array,
  intervalMs: number,
  initial: number,
): { metrics: Metrics; daily: Float64Array } {
  const eq = r.equity;
  const n = eq.length;
  const final = eq[n - 1];
  const spanMs = time[r.end - 1] + intervalMs - time[r.start];
  const growth = final / initial;
  const cagr = growth > 0 ? growth ** (YEAR_MS / spanMs) - 1 : null;
  // The curve pass: done by the single-symbol loop when it knew this initial equity (fused.ts),
  // else here, in slices for the same reason as that loop (SLICE): a cold process gets the
  // optimised pass without waiting for on-stack replacement.
  let curve = r.curve;
  if (
    curve === undefined ||
    curve.initial !== initial ||
    curve.time !== time ||
    curve.start !== r.start ||
    curve.end !== r.end
  ) {
    curve = newCurve(initial, time, r.start, r.end);
    // Open time of bar k + 1 of the run is next[k]; the last bar always ends a day.
    const next = time.subarray(r.start + 1, r.start + n);
    for (let k = 0; k < n; k += SLICE)
      curveSlice(eq, next, k, Math.min(n, k + SLICE), curve.acc, curve.daily);
  }
  const acc = curve.acc;
  const daily = curve.daily;
  let mdd = acc[C_MDD];
  const lastDd = 1 - acc[C_TROUGH] / acc[C_PEAK];
  if (lastDd > mdd) mdd = lastDd;
  const dailyRets = daily.subarray(0, acc[C_DAYS]);
  const eqSum = acc[C_EQ_SUM];
  const closed = r.closedPnl;
  let wins = 0;
  let gross = 0;
  let loss = 0;
  let sum = 0;
  for (let t = 0; t < closed.length; t++) {
    const pnl = closed[t];
    sum += pnl;
    if (pnl > 0) {
      wins++;
      gross += pnl;
    } else loss -= pnl;
  }
  const metrics: Metrics = {
    initial_equity: initial,
    final_equity: final,
    total_return: growth - 1,
    cagr: cagr !== null && Number.isFinite(cagr) ? cagr : null,
    max_drawdown: mdd,
    sharpe: sharpe(dailyRets),
    sortino: sortino(dailyRets),
    win_rate: closed.length > 0 ? wins / closed.length : null,
    profit_factor: loss > 0 ? gross / loss : null,
    avg_trade: closed.length > 0 ? sum / closed.length : null,
    exposure: r.exposureBars / n,
    turnover: r.tradedNotional / (eqSum / n),
    fees_paid: r.feesPaid,
    funding_paid: r.fundingPaid,
    trades: closed.length,
    bars: n,
    days: spanMs / DAY_MS,
  };
  return { metrics, daily: dailyRets };
}
