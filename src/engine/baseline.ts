import type { FeatureSnapshot, TargetPortfolio } from "./types.js";

/**
 * The baseline target used when no agent target is live (DESIGN.md §5): momentum × inverse
 * volatility, i.e. each coin's 1-hour return divided by its 1-hour volatility (a signal-to-noise
 * score), normalised so that Σ|w| = `grossBudget`:
 *
 *   score_s = ret_1h_s / vol_1h_s            (0 when either is missing or vol is 0)
 *   w_s     = grossBudget × score_s / Σ_k |score_k|
 *
 * Sign follows momentum (long what went up, short what went down). The risk clip then applies caps,
 * net/gross limits, smoothing and the turnover cap, so the budget (default 0.30) is a request, not a
 * guarantee. Confidence is fixed at 0.5 (not scaled by the low-confidence rule, which applies below 0.5).
 */
export function baselineTarget(features: readonly FeatureSnapshot[], grossBudget = 0.3): TargetPortfolio {
  const scores = features.map((f) => {
    if (f.ret_1h === null || f.vol_1h === null || !(f.vol_1h > 0)) return 0;
    return f.ret_1h / f.vol_1h;
  });
  const total = scores.reduce((a, s) => a + Math.abs(s), 0);
  return {
    targets: features.map((f, i) => ({
      symbol: f.symbol,
      weight: total > 0 ? (grossBudget * scores[i]) / total : 0,
    })),
    cash_weight: 1 - (total > 0 ? grossBudget : 0),
    confidence: 0.5,
    rationale: "baseline: 1h momentum × inverse 1h volatility, normalised to the gross budget",
    model: { name: "baseline_momentum_invvol", version: "1" },
  };
}
