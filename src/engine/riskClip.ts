import type { ApprovedTarget, Rejection, TargetPortfolio, Weights } from "./types.js";

/**
 * Stage 3 of the minute cycle: clip a TargetPortfolio to the portfolio risk limits (DESIGN.md §5).
 *
 * Order of operations, each recorded as a rejection {symbol, reason, original_weight, approved_weight}
 * when it changes a weight:
 *   1. symbol allow-list (unknown symbols → 0)
 *   2. per-coin caps (|w| ≤ cap; BTC/ETH 0.15, others 0.10)
 *   3. low confidence (confidence < threshold → × scale, default 0.5 × 0.5)
 *   4. max gross (Σ|w| ≤ 0.40: scale all)
 *   5. max net (|Σw| ≤ 0.20: scale the dominant side)
 *   6. EWMA smoothing against the previous approved weights: w = α·w + (1 − α)·prev (α = 0.5; not a
 *      rejection: it is the documented dynamics, reported in `smoothed`)
 *   7. turnover cap (Σ|w − prev| ≤ 0.10: move only part of the way)
 *   8. control mode: REDUCE_ONLY → no weight may grow in magnitude or change sign relative to the
 *      *current* (actual) weights; HALT → the approved weights are the current ones (no trading).
 *
 * Why the guarantees hold: steps 1–5 produce a vector inside the box/gross/net set; steps 6–7 are
 * convex combinations of that vector and the previous approved vector (inside the same convex set by
 * induction, starting from zeros), so they stay inside; step 8 only shrinks magnitudes towards
 * current weights that are themselves clipped the same way. Float rounding is absorbed by a final
 * exact-limit pass that never increases any magnitude.
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
}

/** The defaults of DESIGN.md §5. */
export const DEFAULT_LIMITS: PortfolioLimits = {
  maxGross: 0.4,
  maxNet: 0.2,
  caps: { BTC: 0.15, ETH: 0.15 },
  defaultCap: 0.1,
  lowConfidenceThreshold: 0.5,
  lowConfidenceScale: 0.5,
  ewmaAlpha: 0.5,
  turnoverCap: 0.1,
};

/** Input of {@link clipTarget}. */
export interface ClipInput {
  target: TargetPortfolio;
  /** Previous cycle's approved weights (zeros at the first cycle). */
  previous: Weights;
  /** Actual current weights (position notional / equity), for REDUCE_ONLY and HALT. */
  current: Weights;
  universe: readonly string[];
  mode: "NORMAL" | "REDUCE_ONLY" | "HALT";
  limits?: PortfolioLimits;
}

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

function record(
  rej: Rejection[],
  symbol: string,
  reason: Rejection["reason"],
  before: number,
  after: number,
): void {
  if (before !== after) rej.push({ symbol, reason, original_weight: before, approved_weight: after });
}

function capOf(limits: PortfolioLimits, symbol: string): number {
  return limits.caps[symbol] ?? limits.defaultCap;
}

/** Scales every weight so Σ|w| ≤ max (exactly, after rounding: never above). */
function enforceGross(w: Weights, max: number, rej: Rejection[] | null): void {
  const g = gross(w);
  if (g <= max) return;
  const f = max / g;
  for (const s of Object.keys(w)) {
    const before = w[s];
    w[s] = before * f;
    if (rej) record(rej, s, "max_gross", before, w[s]);
  }
  // Floating point can leave Σ|w| a hair above max; shave the largest magnitude.
  shave(w, () => gross(w) - max);
}

/** Scales the dominant side so |Σw| ≤ max. */
function enforceNet(w: Weights, max: number, rej: Rejection[] | null): void {
  const n = net(w);
  if (Math.abs(n) <= max) return;
  const sign = Math.sign(n);
  const dominant = Object.keys(w).filter((s) => Math.sign(w[s]) === sign);
  const side = dominant.reduce((a, s) => a + w[s], 0);
  const other = n - side;
  // Want other + side·f = sign·max.
  const f = (sign * max - other) / side;
  for (const s of dominant) {
    const before = w[s];
    w[s] = before * Math.max(0, f);
    if (rej) record(rej, s, "max_net", before, w[s]);
  }
  shave(w, () => Math.abs(net(w)) - max, sign);
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

/**
 * Clips a target to the limits and the control mode.
 * @returns approved weights (every universe symbol present), rejections, gross, net, turnover vs previous.
 */
export function clipTarget(input: ClipInput): ApprovedTarget & { smoothed: Weights } {
  const limits = input.limits ?? DEFAULT_LIMITS;
  const rej: Rejection[] = [];
  const w: Weights = {};
  for (const s of input.universe) w[s] = 0;

  for (const { symbol, weight } of input.target.targets) {
    if (!input.universe.includes(symbol)) {
      record(rej, symbol, "symbol_not_allowed", weight, 0);
      continue;
    }
    const cap = capOf(limits, symbol);
    const capped = Math.max(-cap, Math.min(cap, weight));
    record(rej, symbol, "per_coin_cap", weight, capped);
    w[symbol] = capped;
  }
  if (input.target.confidence < limits.lowConfidenceThreshold) {
    for (const s of Object.keys(w)) {
      const before = w[s];
      w[s] = before * limits.lowConfidenceScale;
      record(rej, s, "low_confidence", before, w[s]);
    }
  }
  enforceGross(w, limits.maxGross, rej);
  enforceNet(w, limits.maxNet, rej);

  // EWMA smoothing against the previous approved weights.
  const smoothed: Weights = {};
  for (const s of Object.keys(w)) {
    smoothed[s] = limits.ewmaAlpha * w[s] + (1 - limits.ewmaAlpha) * (input.previous[s] ?? 0);
  }
  const out: Weights = { ...smoothed };
  const t = turnover(out, input.previous);
  if (t > limits.turnoverCap) {
    const f = limits.turnoverCap / t;
    for (const s of Object.keys(out)) {
      const prev = input.previous[s] ?? 0;
      const before = out[s];
      out[s] = prev + (before - prev) * f * (1 - 1e-12);
      record(rej, s, "turnover_cap", before, out[s]);
    }
  }

  if (input.mode !== "NORMAL") {
    for (const s of Object.keys(out)) {
      const cur = input.current[s] ?? 0;
      const before = out[s];
      let after: number;
      if (input.mode === "HALT") after = cur;
      else if (Math.sign(before) !== Math.sign(cur) || cur === 0) after = 0;
      else after = Math.sign(cur) * Math.min(Math.abs(before), Math.abs(cur));
      out[s] = after;
      record(rej, s, input.mode === "HALT" ? "halted" : "reduce_only", before, after);
    }
  }

  // Exact-limit pass: never increases a magnitude, so it cannot break REDUCE_ONLY or HALT.
  for (const s of Object.keys(out)) {
    const cap = capOf(limits, s);
    if (Math.abs(out[s]) > cap) out[s] = Math.sign(out[s]) * cap;
  }
  enforceGross(out, limits.maxGross, null);
  enforceNet(out, limits.maxNet, null);
  return {
    weights: out,
    smoothed,
    rejections: rej,
    gross: gross(out),
    net: net(out),
    turnover: turnover(out, input.previous),
    mode: input.mode,
  };
}
