/**
 * The drawdown breaker (DESIGN.md §5): drawdown = 1 − equity / peak, where peak is the highest equity
 * seen since the breaker was last reset (start-up or an operator resume). ≥ `reduceOnlyAt` (default
 * 0.02) → REDUCE_ONLY; ≥ `haltAt` (default 0.03) → HALT. The breaker only tightens: it never returns
 * a looser mode than the current one, so only an operator resumes.
 */
export type Mode = "NORMAL" | "REDUCE_ONLY" | "HALT";

const RANK: Record<Mode, number> = { NORMAL: 0, REDUCE_ONLY: 1, HALT: 2 };

/** Thresholds as fractions of peak equity. */
export interface DrawdownLimits {
  reduceOnlyAt: number;
  haltAt: number;
}

/** Result of {@link evaluateDrawdown}. `trip` is set when the breaker tightens the mode. */
export interface DrawdownResult {
  peak: number;
  drawdown: number;
  mode: Mode;
  trip: { from: Mode; to: Mode; reason: string } | null;
}

/**
 * Updates the peak and decides the mode.
 * @param peak previous peak equity (quote); pass the current equity at start-up.
 * @param equity current equity (quote).
 * @param mode current control mode.
 */
export function evaluateDrawdown(
  peak: number,
  equity: number,
  mode: Mode,
  limits: DrawdownLimits,
): DrawdownResult {
  const newPeak = Math.max(peak, equity);
  const dd = newPeak > 0 ? 1 - equity / newPeak : 0;
  let want: Mode = "NORMAL";
  if (dd >= limits.haltAt) want = "HALT";
  else if (dd >= limits.reduceOnlyAt) want = "REDUCE_ONLY";
  if (RANK[want] <= RANK[mode]) return { peak: newPeak, drawdown: dd, mode, trip: null };
  return {
    peak: newPeak,
    drawdown: dd,
    mode: want,
    trip: {
      from: mode,
      to: want,
      reason: `drawdown ${(dd * 100).toFixed(2)}% ≥ ${((want === "HALT" ? limits.haltAt : limits.reduceOnlyAt) * 100).toFixed(2)}% (peak ${newPeak.toFixed(2)}, equity ${equity.toFixed(2)})`,
    },
  };
}
