import type { BookLevel, Candle } from "./types.js";

/**
 * Pure market statistics shared by the market tools, the minute cycle and tests. Conventions
 * (DESIGN.md §4): returns and volatilities are fractions, never annualised; prices in quote
 * currency; times ms UTC.
 */

/** Index of the first element of ascending `arr` greater than `x` (binary search). */
export function upperBound(arr: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element of ascending `arr` greater than or equal to `x`. */
export function lowerBound(arr: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Log returns `ln(c[i] / c[i−1])` of consecutive closes (length n − 1). */
export function logReturns(closes: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < closes.length; i++) out.push(Math.log(closes[i] / closes[i - 1]));
  return out;
}

/** Sample standard deviation (n − 1 denominator); null for fewer than 2 values. */
export function stdev(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const ss = xs.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return Math.sqrt(ss / (xs.length - 1));
}

/** Pearson correlation of two equal-length series; null when shorter than 3 or a series is flat. */
export function correlation(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.min(a.length, b.length);
  if (n < 3) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  if (saa === 0 || sbb === 0) return null;
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Close of the latest candle whose open time is ≤ `t` (candles ascending by time), or null.
 * Used for "price k minutes ago" so a missing bar falls back to the one before it.
 */
export function closeAtOrBefore(candles: readonly Candle[], t: number): number | null {
  let lo = 0;
  let hi = candles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (candles[mid].time <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? null : candles[lo - 1].close;
}

/** Simple return `last / past − 1`, or null when `past` is missing or not positive. */
export function simpleReturn(last: number, past: number | null): number | null {
  return past === null || !(past > 0) ? null : last / past - 1;
}

/**
 * Book statistics over the given levels (DESIGN.md §2): spread_bps = (best ask − best bid) / mid ×
 * 10⁴ with mid = (best bid + best ask) / 2; imbalance = (Σ bid sz − Σ ask sz) / (Σ bid sz + Σ ask sz).
 * Nulls when a side is empty.
 */
export function bookStats(
  bids: readonly BookLevel[],
  asks: readonly BookLevel[],
): { mid: number | null; spread_bps: number | null; imbalance: number | null } {
  if (bids.length === 0 || asks.length === 0) return { mid: null, spread_bps: null, imbalance: null };
  const bid = bids[0].px;
  const ask = asks[0].px;
  const mid = (bid + ask) / 2;
  const sb = bids.reduce((a, l) => a + l.sz, 0);
  const sa = asks.reduce((a, l) => a + l.sz, 0);
  return {
    mid,
    spread_bps: ((ask - bid) / mid) * 10_000,
    imbalance: sb + sa > 0 ? (sb - sa) / (sb + sa) : null,
  };
}

/** Smallest power-of-ten step that represents every value (decimals of the shortest float text). */
export function decimalStep(values: ArrayLike<number>, limit = 2000): number {
  let maxDec = 0;
  const n = Math.min(values.length, limit);
  for (let i = 0; i < n; i++) {
    const s = String(values[i]);
    const e = s.indexOf("e-");
    const dot = s.indexOf(".");
    const dec =
      e >= 0 ? Number(s.slice(e + 2)) + (dot >= 0 ? e - dot - 1 : 0) : dot >= 0 ? s.length - dot - 1 : 0;
    if (dec > maxDec) maxDec = dec;
  }
  return Number(`1e-${maxDec}`);
}
