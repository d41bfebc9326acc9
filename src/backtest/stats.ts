/**
 * Statistics for experiments: the normal distribution, moments, and the deflated Sharpe ratio of
 * D. H. Bailey & M. López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias,
 * Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014.
 */

/** Euler–Mascheroni constant γ. */
const EULER_GAMMA = 0.5772156649015329;

/**
 * Standard normal CDF Φ(x) via erfc with the rational Chebyshev approximation of Numerical Recipes
 * (erfcc, fractional error < 1.2e-7 everywhere).
 */
export function normCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/**
 * Inverse standard normal CDF Φ⁻¹(p), P. J. Acklam's rational approximation (relative error
 * < 1.15e-9). @throws RangeError outside (0, 1).
 */
export function normInv(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normInv: p must be in (0, 1), got ${p}`);
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
    2.506628277459239,
  ];
  const b = [
    -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1,
    -1.328068155288572e1,
  ];
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - lo) return -normInv(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/** Sample moments: mean, population std, skewness γ3 and (non-excess) kurtosis γ4 (normal = 3). */
export function moments(x: ArrayLike<number>): { mean: number; std: number; skew: number; kurt: number } {
  const n = x.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i];
  m /= n;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - m;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  const std = Math.sqrt(m2);
  return { mean: m, std, skew: m2 > 0 ? m3 / m2 ** 1.5 : 0, kurt: m2 > 0 ? m4 / (m2 * m2) : 3 };
}

/**
 * Expected maximum Sharpe ratio among `trials` unskilled strategies (the DSR benchmark SR₀):
 * SR₀ = √V × ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))), V = variance of the trials' Sharpe
 * ratios (same periodicity as the Sharpe being tested). SR₀ = 0 for a single trial.
 */
export function expectedMaxSharpe(trials: number, varianceOfSharpes: number): number {
  if (trials <= 1 || !(varianceOfSharpes > 0)) return 0;
  return (
    Math.sqrt(varianceOfSharpes) *
    ((1 - EULER_GAMMA) * normInv(1 - 1 / trials) + EULER_GAMMA * normInv(1 - 1 / (trials * Math.E)))
  );
}

/** Inputs of {@link deflatedSharpe}; every Sharpe is per period (not annualised). */
export interface DsrInput {
  /** Observed (selected) Sharpe ratio, per period. */
  sharpe: number;
  /** Number of return observations T. */
  observations: number;
  /** Skewness γ3 of the returns. */
  skew: number;
  /** Kurtosis γ4 of the returns (normal = 3). */
  kurtosis: number;
  /** Number of independent trials N. */
  trials: number;
  /** Variance of the trials' Sharpe ratios, per period. */
  varianceOfSharpes: number;
}

/**
 * Deflated Sharpe ratio: the probability that the true Sharpe exceeds SR₀ given selection among N
 * trials and non-normal returns:
 *   DSR = Φ( (SR − SR₀) √(T − 1) / √(1 − γ3 SR + (γ4 − 1)/4 SR²) ).
 * Returns null when T < 2 or the denominator is not positive.
 */
export function deflatedSharpe(i: DsrInput): { dsr: number | null; sr0: number } {
  const sr0 = expectedMaxSharpe(i.trials, i.varianceOfSharpes);
  const den = 1 - i.skew * i.sharpe + ((i.kurtosis - 1) / 4) * i.sharpe ** 2;
  if (i.observations < 2 || !(den > 0)) return { dsr: null, sr0 };
  return { dsr: normCdf(((i.sharpe - sr0) * Math.sqrt(i.observations - 1)) / Math.sqrt(den)), sr0 };
}
