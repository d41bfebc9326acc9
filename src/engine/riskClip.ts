import {
  capOf,
  DEFAULT_LIMITS,
  enforceAll,
  gross,
  increase,
  increaseTerm,
  largestFraction,
  lerp,
  net,
  type PortfolioLimits,
  reduceBreaches,
  scaleGross,
  scaleNet,
  turnover,
} from "./limits.js";
import type { ApprovedTarget, Rejection, TargetPortfolio, Weights } from "./types.js";

export { DEFAULT_LIMITS, gross, net, type PortfolioLimits, turnover };

/**
 * Stage 3 of the minute cycle: clip a TargetPortfolio to the portfolio limits, starting from the
 * ACTUAL book (issue 13; DESIGN.md §5). Let `cur` be the actual weights (position × mid / equity) and
 * `aim(x) = x × (1 − headroom)`:
 *
 *   0. breach reduction: every limit the actual book is outside of is brought back to its aim by
 *      shrinking magnitudes (`limit_breach`); the result `base` is inside every limit. It is
 *      mandatory: neither the turnover cap nor pacing holds it back.
 *   1. symbol allow-list (unknown symbols → 0)
 *   2. per-coin caps at aim (BTC/ETH 0.15, others 0.10, × 0.95)
 *   3. low confidence (confidence < threshold → × scale, default 0.5 × 0.5)
 *   4. max gross at aim (Σ|w| ≤ 0.40 × 0.95: scale all)
 *   5. max net at aim (|Σw| ≤ 0.20 × 0.95: scale the dominant side)
 *   6. EWMA smoothing towards `base`: w = α·w + (1 − α)·base (α = 0.5; not a rejection)
 *   7. turnover cap: Σ|w − cur| ≤ 0.10, by moving only part of the way from `base` (`turnover_cap`;
 *      when the breach reduction alone needs more, only it is done)
 *   8. pacing: the exposure the move adds (see {@link increase}) ≤ `maxIncrease`, again by moving
 *      part of the way from `base` (`budget_pacing`)
 *   9. control mode: REDUCE_ONLY → no weight may grow in magnitude or change sign relative to `cur`;
 *      HALT → the approved weights are `base` (only a breach is reduced).
 *
 * Why the limits hold on the approved vector: `base` and the clipped target are inside every limit,
 * steps 6–8 are convex combinations of the two, step 9 only shrinks magnitudes, and a final pass
 * (caps, gross, net; magnitudes only) absorbs float rounding and the net effect of step 9. The planner
 * keeps the book on this vector to within one lot, and the cycle checks the book after execution.
 */

/** Input of {@link clipTarget}. */
export interface ClipInput {
  target: TargetPortfolio;
  /** Actual current weights (position × mid / equity); zeros for a flat book. */
  current: Weights;
  universe: readonly string[];
  mode: "NORMAL" | "REDUCE_ONLY" | "HALT";
  limits?: PortfolioLimits;
  /**
   * Pacing: the most exposure (Σ of increases of |w|, fraction of equity) the cycle may add. Default
   * unlimited.
   */
  maxIncrease?: number;
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

/**
 * The bisection predicate `turnover(lerp(base, to, x), cur) <= max` (or `increase(cur, lerp(base, to,
 * x)) <= max`) over arrays: the same terms summed in the same order (the key order of `base`, which
 * is `cur`'s), so the same answer, without building two objects and a key set per step (the clip ran
 * 60 of them per bisection; issue 15). Falls back to the object functions when the key sets differ.
 */
function path(
  base: Weights,
  to: Weights,
  cur: Weights,
  kind: "turnover" | "increase",
  max: number,
): (x: number) => boolean {
  const keys = Object.keys(base);
  const curKeys = Object.keys(cur);
  const same = curKeys.length === keys.length && curKeys.every((k, i) => keys[i] === k);
  if (!same || Object.keys(to).some((k) => !(k in base))) {
    return kind === "turnover"
      ? (x) => turnover(lerp(base, to, x), cur) <= max
      : (x) => increase(cur, lerp(base, to, x)) <= max;
  }
  const n = keys.length;
  const a = keys.map((k) => base[k]);
  const b = keys.map((k) => to[k] ?? 0);
  const c = keys.map((k) => cur[k]);
  if (kind === "turnover") {
    return (x) => {
      let t = 0;
      for (let i = 0; i < n; i++) t += Math.abs(a[i] + x * (b[i] - a[i]) - c[i]);
      return t <= max;
    };
  }
  return (x) => {
    let t = 0;
    for (let i = 0; i < n; i++) t += increaseTerm(c[i], a[i] + x * (b[i] - a[i]));
    return t <= max;
  };
}

/**
 * Clips a target to the limits, the budget pace and the control mode.
 * @returns approved weights (every universe symbol present), rejections, gross, net, turnover
 *   (Σ|approved − current|), and the intermediate `smoothed` vector and breach reduction `base`.
 */
export function clipTarget(input: ClipInput): ApprovedTarget & { smoothed: Weights; base: Weights } {
  const limits = input.limits ?? DEFAULT_LIMITS;
  const aim = 1 - limits.headroom;
  const rej: Rejection[] = [];
  const cur: Weights = {};
  for (const s of input.universe) cur[s] = input.current[s] ?? 0;

  const base = reduceBreaches(cur, limits);
  for (const s of Object.keys(cur)) record(rej, s, "limit_breach", cur[s], base[s]);

  const w: Weights = {};
  for (const s of input.universe) w[s] = 0;
  for (const { symbol, weight } of input.target.targets) {
    if (!input.universe.includes(symbol)) {
      record(rej, symbol, "symbol_not_allowed", weight, 0);
      continue;
    }
    const cap = capOf(limits, symbol) * aim;
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
  const beforeGross = { ...w };
  for (const s of scaleGross(w, limits.maxGross * aim)) record(rej, s, "max_gross", beforeGross[s], w[s]);
  const beforeNet = { ...w };
  for (const s of scaleNet(w, limits.maxNet * aim)) record(rej, s, "max_net", beforeNet[s], w[s]);

  const smoothed: Weights = {};
  for (const s of Object.keys(w)) smoothed[s] = limits.ewmaAlpha * w[s] + (1 - limits.ewmaAlpha) * base[s];

  let out = smoothed;
  const mandatory = turnover(base, cur);
  if (turnover(smoothed, cur) > limits.turnoverCap) {
    const cap = Math.max(limits.turnoverCap, mandatory);
    const f = largestFraction(path(base, smoothed, cur, "turnover", cap));
    out = lerp(base, smoothed, f * (1 - 1e-12));
    for (const s of Object.keys(out)) record(rej, s, "turnover_cap", smoothed[s], out[s]);
  }
  const maxInc = input.maxIncrease ?? Number.POSITIVE_INFINITY;
  if (increase(cur, out) > maxInc) {
    const before = out;
    const g = largestFraction(path(base, before, cur, "increase", maxInc));
    out = lerp(base, before, g * (1 - 1e-12));
    for (const s of Object.keys(out)) record(rej, s, "budget_pacing", before[s], out[s]);
  }

  if (input.mode !== "NORMAL") {
    const moded: Weights = {};
    for (const s of Object.keys(out)) {
      const c = cur[s];
      const before = out[s];
      let after: number;
      if (input.mode === "HALT") after = base[s];
      else if (Math.sign(before) !== Math.sign(c) || c === 0) after = 0;
      else after = Math.sign(c) * Math.min(Math.abs(before), Math.abs(c));
      moded[s] = after;
      record(rej, s, input.mode === "HALT" ? "halted" : "reduce_only", before, after);
    }
    out = moded;
  }

  // Exact-limit pass: never increases a magnitude, so it cannot break REDUCE_ONLY or HALT.
  out = { ...out };
  enforceAll(out, limits);
  return {
    weights: out,
    smoothed,
    base,
    rejections: rej,
    gross: gross(out),
    net: net(out),
    turnover: turnover(out, cur),
    mode: input.mode,
  };
}
