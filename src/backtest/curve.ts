/**
 * The one pass over an equity curve that the metrics need (metrics.ts): running peak, trough and max
 * drawdown, the equity sum and the daily returns. Its state lives in a Float64Array (C_* slots) so
 * the pass can run in slices (metrics.ts) or inside the single-symbol engine loop (fused.ts), which
 * repeats the per-bar steps of {@link curveSlice} inline; all give the same bits
 * (test/backtest/fused.test.ts).
 */

/** One day, ms. */
export const DAY_MS = 86_400_000;

// Slots of CurveStats.acc.
export const C_PREV = 0;
export const C_PEAK = 1;
export const C_MDD = 2;
export const C_EQ_SUM = 3;
export const C_NEXT_DAY = 4;
export const C_TROUGH = 5;
export const C_DAYS = 6;
const C_SLOTS = 7;

/** The curve pass's state over bars [start, end) of `time`, relative to `initial` equity. */
export interface CurveStats {
  /** Equity before the first bar (the metrics' initial equity), quote. */
  initial: number;
  /** The frame's bar open times the pass used (ms UTC), and its bar range [start, end). */
  time: Float64Array;
  start: number;
  end: number;
  /** C_PREV: equity at the last day's end; C_PEAK / C_TROUGH / C_MDD: running peak, lowest equity
   * since it, max drawdown so far (without the open peak's); C_EQ_SUM; C_NEXT_DAY: open time of the
   * next UTC day; C_DAYS: daily returns so far. */
  acc: Float64Array;
  /** Daily returns in `daily[0 … acc[C_DAYS])`. */
  daily: Float64Array;
}

/** A fresh curve state for bars [start, end) of `time`. */
export function newCurve(initial: number, time: Float64Array, start: number, end: number): CurveStats {
  const acc = new Float64Array(C_SLOTS);
  acc[C_PREV] = initial;
  acc[C_PEAK] = initial;
  // Drawdown from the lowest equity since each peak: 1 − e / peak is monotone in e (IEEE division
  // and subtraction are monotone), so max(1 − trough / peak) over peaks equals the per-bar maximum.
  acc[C_TROUGH] = initial;
  // Open time of the next UTC day: times increase, so a bar starts a new day exactly when its open
  // time reaches it (the same days as ⌊t / DAY_MS⌋ without a division per bar).
  acc[C_NEXT_DAY] = (Math.floor(time[start] / DAY_MS) + 1) * DAY_MS;
  // At most one return per UTC day touched.
  const daily = new Float64Array(Math.floor((time[end - 1] - time[start]) / DAY_MS) + 2);
  return { initial, time, start, end, acc, daily };
}

/**
 * Bars [from, to) of the one-pass curve metrics: running peak, trough and max drawdown, the equity
 * sum and the daily returns (appended to `daily`), state in `acc` (C_* slots). `next[k]` is the open
 * time of bar k + 1; bar `eq.length − 1` ends the last day.
 */
export function curveSlice(
  eq: Float64Array,
  next: Float64Array,
  from: number,
  to: number,
  acc: Float64Array,
  daily: Float64Array,
): void {
  let prev = acc[C_PREV];
  let peak = acc[C_PEAK];
  let mdd = acc[C_MDD];
  let eqSum = acc[C_EQ_SUM];
  let nextDay = acc[C_NEXT_DAY];
  let trough = acc[C_TROUGH];
  let days = acc[C_DAYS];
  const last = eq.length - 1;
  for (let k = from; k < to; k++) {
    const e = eq[k];
    eqSum += e;
    if (e > peak) {
      const dd = 1 - trough / peak;
      if (dd > mdd) mdd = dd;
      peak = e;
      trough = e;
    } else if (e < trough) trough = e;
    if (k === last) daily[days++] = e / prev - 1;
    else if (next[k] >= nextDay) {
      daily[days++] = e / prev - 1;
      prev = e;
      nextDay = (Math.floor(next[k] / DAY_MS) + 1) * DAY_MS;
    }
  }
  acc[C_PREV] = prev;
  acc[C_PEAK] = peak;
  acc[C_MDD] = mdd;
  acc[C_EQ_SUM] = eqSum;
  acc[C_NEXT_DAY] = nextDay;
  acc[C_TROUGH] = trough;
  acc[C_DAYS] = days;
}
