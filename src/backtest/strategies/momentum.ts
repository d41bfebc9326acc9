import { z } from "zod";
import { realizedVol } from "../indicators.js";
import type { Frame, StrategyDef } from "../types.js";

/**
 * `momentum_vol_target`: the baseline target of the minute cycle (DESIGN.md §5) as a backtestable
 * portfolio strategy. Every `rebalance` bars, per symbol:
 *   raw_j   = sign(close_i / close_{i−lookback} − 1) × vol_target / (vol_j × √(bars per year))
 *   w_j     = clip(raw_j, ±cap_j)                    cap: BTC/ETH 0.15, others 0.10 (cycle caps)
 * then the book is scaled to gross ≤ max_gross (0.40), the dominant side scaled so |net| ≤ max_net
 * (0.20), and the change from the previous target limited to Σ|Δw| ≤ turnover_cap (0.10) by moving
 * proportionally towards it. vol_j = realised volatility (population std of log returns, vol_window
 * bars). Weights are rounded to 1e-4 so tiny drifts do not trade.
 */

const capsDefault = { BTC: 0.15, ETH: 0.15 };

const params = z
  .object({
    lookback: z.number().int().min(1).max(100_000).default(240).describe("momentum lookback (bars)"),
    vol_window: z.number().int().min(2).max(100_000).default(60).describe("realised-vol window (bars)"),
    vol_target: z
      .number()
      .positive()
      .max(5)
      .default(0.5)
      .describe("per-coin annualised volatility target (fraction)"),
    rebalance: z.number().int().min(1).max(100_000).default(60).describe("bars between rebalances"),
    max_gross: z.number().positive().max(10).default(0.4),
    max_net: z.number().min(0).max(10).default(0.2),
    coin_caps: z
      .record(z.string(), z.number().min(0).max(10))
      .default(capsDefault)
      .describe("per-coin |weight| caps"),
    default_cap: z.number().min(0).max(10).default(0.1),
    turnover_cap: z.number().positive().max(20).default(0.1).describe("max Σ|Δw| per rebalance"),
    allow_short: z.boolean().default(true),
  })
  .strict();

export type MomentumParams = z.infer<typeof params>;

const YEAR_MS = 365.25 * 86_400_000;

/** Portfolio momentum with volatility targeting under the minute cycle's caps. */
export const momentumVolTarget: StrategyDef<MomentumParams> = {
  name: "momentum_vol_target",
  description:
    "Portfolio across the symbols: each rebalance, sign of the lookback return × vol_target / annualised " +
    "realised vol, clipped to per-coin caps (BTC/ETH 0.15, others 0.10), gross ≤ max_gross, |net| ≤ max_net, " +
    "Σ|Δw| ≤ turnover_cap per rebalance. Weights are fractions of equity.",
  kind: "portfolio",
  params,
  signals: (frame: Frame, p, cache) => {
    const k = frame.assets.length;
    const n = frame.time.length;
    const annual = Math.sqrt(YEAR_MS / frame.intervalMs);
    const vols = frame.assets.map((b, j) => {
      const key = `${frame.symbols[j]}|vol(${p.vol_window})`;
      let v = cache.get(key);
      if (!v) {
        v = realizedVol(b.close, p.vol_window);
        cache.set(key, v);
      }
      return v;
    });
    const caps = frame.symbols.map((s) => p.coin_caps[s] ?? p.default_cap);
    const targets = frame.assets.map(() => new Float64Array(n));
    const w = new Float64Array(k);
    const raw = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      if (i >= p.lookback && i % p.rebalance === 0) {
        let gross = 0;
        for (let j = 0; j < k; j++) {
          const c = frame.assets[j].close;
          const mom = c[i] / c[i - p.lookback] - 1;
          const vol = vols[j][i] * annual;
          let x = vol > 0 && mom !== 0 && Number.isFinite(vol) ? (Math.sign(mom) * p.vol_target) / vol : 0;
          if (!p.allow_short && x < 0) x = 0;
          x = Math.max(-caps[j], Math.min(caps[j], x));
          raw[j] = x;
          gross += Math.abs(x);
        }
        if (gross > p.max_gross) for (let j = 0; j < k; j++) raw[j] *= p.max_gross / gross;
        clipNet(raw, p.max_net);
        let turn = 0;
        for (let j = 0; j < k; j++) turn += Math.abs(raw[j] - w[j]);
        const f = turn > p.turnover_cap ? p.turnover_cap / turn : 1;
        for (let j = 0; j < k; j++) w[j] = Math.round((w[j] + (raw[j] - w[j]) * f) * 1e4) / 1e4;
      }
      for (let j = 0; j < k; j++) targets[j][i] = w[j];
    }
    return { targets };
  },
};

/** Scales the dominant side so that |Σ w| ≤ maxNet. */
function clipNet(w: Float64Array, maxNet: number): void {
  let long = 0;
  let short = 0;
  for (const x of w) {
    if (x > 0) long += x;
    else short -= x;
  }
  const net = long - short;
  if (net > maxNet && long > 0) {
    const f = (maxNet + short) / long;
    for (let j = 0; j < w.length; j++) if (w[j] > 0) w[j] *= f;
  } else if (-net > maxNet && short > 0) {
    const f = (maxNet + long) / short;
    for (let j = 0; j < w.length; j++) if (w[j] < 0) w[j] *= f;
  }
}
