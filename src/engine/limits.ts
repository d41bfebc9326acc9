import type { Weights } from "./types.js";

/**
 * Portfolio limits of the minute cycle and the checks the cycle runs on the *actual* book
 * (issue 13). Weights are signed fractions of equity (position × mid / equity). Defaults come from
 * `cycle.limits` (src/config.ts), overrides from `risk_set_limits` (src/store/portfolioLimits.ts).
 */

/** Portfolio limits; fractions of equity. */
export interface PortfolioLimits {
  maxGross: number;
  maxNet: number;
  /** Per-coin caps by symbol; symbols not listed use `defaultCap`. */
  caps: Record<string, number>;
  defaultCap: number;
  lowConfidenceThreshold: number;
  lowConfidenceScale: number;
  ewmaAlpha: number;
  turnoverCap: number;
  /**
   * Share of each limit kept free for price drift between cycles: the cycle aims at
   * `limit × (1 − headroom)`, so a book left inside that still respects the limit at the next cycle's
   * prices unless a coin moves more than about `headroom` in one cycle. Default 0.05.
   */
  headroom: number;
}

/** The defaults of DESIGN.md §5 (headroom: issue 13). */
export const DEFAULT_LIMITS: PortfolioLimits = {
  maxGross: 0.4,
  maxNet: 0.2,
  caps: { BTC: 0.15, ETH: 0.15 },
  defaultCap: 0.1,
  lowConfidenceThreshold: 0.5,
  lowConfidenceScale: 0.5,
  ewmaAlpha: 0.5,
  turnoverCap: 0.1,
  headroom: 0.05,
};

/** Σ|w|. */
export function gross(w: Weights): number {
  return Object.values(w).reduce((a, x) => a + Math.abs(x), 0);
}

/** Σw. */
export function net(w: Weights): number {
  return Object.values(w).reduce((a, x) => a + x, 0);
}

/** Σ|a − b| over the union of symbols. */
export function turnover(a: Weights, b: Weights): number {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  let t = 0;
  for (const k of keys) t += Math.abs((a[k] ?? 0) - (b[k] ?? 0));
  return t;
}

/**
 * Σ over symbols of the part of a move from `from` to `to` that adds exposure: `|to| − |from|` when
 * the sign is kept and the position grows, `|to|` when it flips (the new side is all new), else 0.
 * This is what the rolling notional budget is paced on (reductions always go).
 */
export function increase(from: Weights, to: Weights): number {
  let t = 0;
  for (const k of new Set([...Object.keys(from), ...Object.keys(to)]))
    t += increaseTerm(from[k] ?? 0, to[k] ?? 0);
  return t;
}

/** One symbol's term of {@link increase}: the exposure a move from weight `a` to weight `b` adds (≥ 0). */
export function increaseTerm(a: number, b: number): number {
  if (b === 0) return 0;
  if (a === 0 || Math.sign(a) !== Math.sign(b)) return Math.abs(b);
  return Math.abs(b) > Math.abs(a) ? Math.abs(b) - Math.abs(a) : 0;
}

/** Cap of a symbol. */
export function capOf(limits: PortfolioLimits, symbol: string): number {
  return limits.caps[symbol] ?? limits.defaultCap;
}

/** One limit a book is outside of. `value` and `limit` are fractions of equity. */
export interface Breach {
  limit: "per_coin_cap" | "max_gross" | "max_net";
  symbol: string | null;
  value: number;
  max: number;
}

/**
 * The limits a book is outside of, each beyond `tolerance` (e.g. one lot of each traded symbol, as a
 * weight; pass 0 for a strict check).
 */
export function breaches(w: Weights, limits: PortfolioLimits, tolerance = 0): Breach[] {
  const out: Breach[] = [];
  for (const [s, x] of Object.entries(w)) {
    const cap = capOf(limits, s);
    if (Math.abs(x) > cap + tolerance) out.push({ limit: "per_coin_cap", symbol: s, value: x, max: cap });
  }
  const g = gross(w);
  if (g > limits.maxGross + tolerance)
    out.push({ limit: "max_gross", symbol: null, value: g, max: limits.maxGross });
  const n = net(w);
  if (Math.abs(n) > limits.maxNet + tolerance)
    out.push({ limit: "max_net", symbol: null, value: n, max: limits.maxNet });
  return out;
}

/** Scales every weight so Σ|w| ≤ max (never above, after float rounding). Returns the changed symbols. */
export function scaleGross(w: Weights, max: number): string[] {
  const g = gross(w);
  if (g <= max) return [];
  const f = max / g;
  for (const s of Object.keys(w)) w[s] *= f;
  shave(w, () => gross(w) - max);
  return Object.keys(w).filter((s) => w[s] !== 0);
}

/** Scales the dominant side so |Σw| ≤ max. Returns the changed symbols. */
export function scaleNet(w: Weights, max: number): string[] {
  const n = net(w);
  if (Math.abs(n) <= max) return [];
  const sign = Math.sign(n);
  const dominant = Object.keys(w).filter((s) => Math.sign(w[s]) === sign);
  const side = dominant.reduce((a, s) => a + w[s], 0);
  const other = n - side;
  // Want other + side·f = sign·max.
  const f = Math.max(0, (sign * max - other) / side);
  for (const s of dominant) w[s] *= f;
  shave(w, () => Math.abs(net(w)) - max, sign);
  return dominant;
}

function shave(w: Weights, excess: () => number, sign?: number): void {
  for (let i = 0; i < 4 && excess() > 0; i++) {
    const keys = Object.keys(w).filter((s) => (sign === undefined ? w[s] !== 0 : Math.sign(w[s]) === sign));
    if (keys.length === 0) return;
    const k = keys.reduce((a, b) => (Math.abs(w[a]) >= Math.abs(w[b]) ? a : b));
    const e = excess();
    const mag = Math.max(0, Math.abs(w[k]) - e * (1 + 1e-12) - Number.EPSILON);
    w[k] = Math.sign(w[k]) * mag;
  }
}

/** Clips caps, then gross, then net, into `limits` scaled by `factor` (1 = the limits themselves). */
export function enforceAll(w: Weights, limits: PortfolioLimits, factor = 1): void {
  for (const s of Object.keys(w)) {
    const cap = capOf(limits, s) * factor;
    if (Math.abs(w[s]) > cap) w[s] = Math.sign(w[s]) * cap;
  }
  scaleGross(w, limits.maxGross * factor);
  scaleNet(w, limits.maxNet * factor);
}

/**
 * The mandatory breach reduction of a book: every limit the book is *outside* of is brought back to
 * its aim (`limit × (1 − headroom)`), by shrinking magnitudes only (caps per coin, then gross scaled,
 * then the dominant side of net); limits the book respects are left alone. The result is inside every
 * limit, has no larger position than the book in any coin and never flips a sign.
 */
export function reduceBreaches(current: Weights, limits: PortfolioLimits): Weights {
  const w = { ...current };
  const aim = 1 - limits.headroom;
  for (const s of Object.keys(w)) {
    const cap = capOf(limits, s);
    if (Math.abs(w[s]) > cap) w[s] = Math.sign(w[s]) * cap * aim;
  }
  if (gross(w) > limits.maxGross) scaleGross(w, limits.maxGross * aim);
  if (Math.abs(net(w)) > limits.maxNet) scaleNet(w, limits.maxNet * aim);
  return w;
}

/**
 * Largest f in [0, 1] with `ok(f)`, for a predicate true at 0 and monotone (true up to some point).
 * 60 bisection steps: f to ~1e-18.
 */
export function largestFraction(ok: (f: number) => boolean): number {
  if (ok(1)) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (ok(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** `a + f × (b − a)` per symbol of `a`. */
export function lerp(a: Weights, b: Weights, f: number): Weights {
  const out: Weights = {};
  for (const s of Object.keys(a)) out[s] = a[s] + f * ((b[s] ?? 0) - a[s]);
  return out;
}
