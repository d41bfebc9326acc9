import { join } from "node:path";
import {
  ADX,
  ATR,
  AverageGain,
  AverageLoss,
  BollingerBands,
  EMA,
  Highest,
  Lowest,
  MACD,
  SD,
  SMA,
} from "technicalindicators";
import { describe, expect, it } from "vitest";
import * as ind from "../../src/backtest/indicators.js";
import { loadCandleColumns } from "../../src/exchange/replay/index.js";
import { REPLAY_30D } from "../helpers/app.js";

/**
 * Our indicators against the `technicalindicators` reference library on real 1m candles.
 * Tolerance: |ours − ref| ≤ 1e-9 × max(|ref|, 1) — 1e-9 relative, and 1e-9 absolute for values
 * below 1 (MACD and z-scores cross zero, where a relative bound means nothing). Every reference
 * value is compared (the reference's own warm-up defines where its output starts).
 */

const TOL = 1e-9;

/** The reference output aligned to input indices (reference arrays end at the last input). */
function align(ref: number[], n: number): Float64Array {
  const out = new Float64Array(n).fill(Number.NaN);
  for (let k = 0; k < ref.length; k++) out[n - ref.length + k] = ref[k];
  return out;
}

/** Compares over every index where the reference is defined; returns how many were compared. */
function expectClose(ours: Float64Array, ref: Float64Array, label: string): number {
  let compared = 0;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i])) continue;
    compared++;
    const err = Math.abs(ours[i] - ref[i]) / Math.max(Math.abs(ref[i]), 1);
    if (!(err <= worst)) {
      worst = err;
      worstAt = i;
    }
  }
  expect(
    worst,
    `${label}: worst error ${worst} at ${worstAt} (ours ${ours[worstAt]}, ref ${ref[worstAt]})`,
  ).toBeLessThanOrEqual(TOL);
  return compared;
}

for (const coin of ["BTC", "ETH"]) {
  describe(`indicators on real ${coin} 1m candles equal technicalindicators within 1e-9`, () => {
    const c = loadCandleColumns(join(REPLAY_30D, `${coin}USDT_1m.csv.gz`));
    const close = [...c.close];
    const high = [...c.high];
    const low = [...c.low];
    const n = c.length;

    it("has the real data (43 199–43 200 bars)", () => {
      expect(n).toBeGreaterThanOrEqual(43_199);
    });

    it("SMA(20) and EMA(12/26) start at index n−1 and match", () => {
      expect(
        expectClose(ind.sma(c.close, 20), align(SMA.calculate({ period: 20, values: close }), n), "sma"),
      ).toBe(n - 19);
      const e12 = ind.ema(c.close, 12);
      expect(Number.isNaN(e12[10])).toBe(true);
      expect(expectClose(e12, align(EMA.calculate({ period: 12, values: close }), n), "ema12")).toBe(n - 11);
      expectClose(ind.ema(c.close, 26), align(EMA.calculate({ period: 26, values: close }), n), "ema26");
    });

    it("RSI(14) equals 100 − 100/(1 + avg gain/avg loss) of the reference's Wilder averages, from index 14", () => {
      const g = align(AverageGain.calculate({ period: 14, values: close }), n);
      const l = align(AverageLoss.calculate({ period: 14, values: close }), n);
      const ref = new Float64Array(n).fill(Number.NaN);
      for (let i = 0; i < n; i++)
        if (!Number.isNaN(g[i])) ref[i] = l[i] === 0 ? 100 : 100 - 100 / (1 + g[i] / l[i]);
      expect(expectClose(ind.rsi(c.close, 14), ref, "rsi")).toBe(n - 14);
    });

    it("MACD(12,26,9) line, signal and histogram match the EMA-based reference", () => {
      const ref = MACD.calculate({
        values: close,
        fastPeriod: 12,
        slowPeriod: 26,
        signalPeriod: 9,
        SimpleMAOscillator: false,
        SimpleMASignal: false,
      });
      const m = ind.macd(c.close, 12, 26, 9);
      expectClose(
        m.macd,
        align(
          ref.map((r) => r.MACD ?? Number.NaN),
          n,
        ),
        "macd",
      );
      expectClose(
        m.signal,
        align(
          ref.map((r) => r.signal ?? Number.NaN),
          n,
        ),
        "signal",
      );
      expect(
        expectClose(
          m.hist,
          align(
            ref.map((r) => r.histogram ?? Number.NaN),
            n,
          ),
          "hist",
        ),
      ).toBe(n - 33);
    });

    it("ATR(14) (Wilder) and ADX(14) match, ATR from index 14 and ADX from index 27", () => {
      expect(
        expectClose(
          ind.atr(c.high, c.low, c.close, 14),
          align(ATR.calculate({ period: 14, high, low, close }), n),
          "atr",
        ),
      ).toBe(n - 14);
      const ref = ADX.calculate({ period: 14, high, low, close });
      const a = ind.adx(c.high, c.low, c.close, 14);
      expect(
        expectClose(
          a.adx,
          align(
            ref.map((r) => r.adx),
            n,
          ),
          "adx",
        ),
      ).toBe(n - 27);
      expectClose(
        a.plusDi,
        align(
          ref.map((r) => r.pdi),
          n,
        ),
        "+di",
      );
      expectClose(
        a.minusDi,
        align(
          ref.map((r) => r.mdi),
          n,
        ),
        "-di",
      );
    });

    it("Bollinger(20, 2) uses the population std and matches", () => {
      const ref = BollingerBands.calculate({ period: 20, stdDev: 2, values: close });
      const b = ind.bollinger(c.close, 20, 2);
      expectClose(
        b.middle,
        align(
          ref.map((r) => r.middle),
          n,
        ),
        "bb mid",
      );
      expectClose(
        b.upper,
        align(
          ref.map((r) => r.upper),
          n,
        ),
        "bb upper",
      );
      expectClose(
        b.lower,
        align(
          ref.map((r) => r.lower),
          n,
        ),
        "bb lower",
      );
    });

    it("Donchian(20) equals the reference Highest(high)/Lowest(low)", () => {
      const d = ind.donchian(c.high, c.low, 20);
      expectClose(d.upper, align(Highest.calculate({ period: 20, values: high }), n), "donchian upper");
      expectClose(d.lower, align(Lowest.calculate({ period: 20, values: low }), n), "donchian lower");
    });

    it("realised vol(60) equals a direct two-pass population std of log returns; z-score(20) is (x − SMA)/SD", () => {
      // technicalindicators' SD returns wrong values on some log-return windows (e.g. 0 where the
      // direct computation gives 1.28e-3 on BTC bar 22283), so vol is checked against the definition.
      const refVol = new Float64Array(n).fill(Number.NaN);
      for (let i = 60; i < n; i++) {
        let m = 0;
        for (let k = i - 59; k <= i; k++) m += Math.log(close[k] / close[k - 1]);
        m /= 60;
        let ss = 0;
        for (let k = i - 59; k <= i; k++) ss += (Math.log(close[k] / close[k - 1]) - m) ** 2;
        refVol[i] = Math.sqrt(ss / 60) * 1e4;
      }
      // Scaled by 1e4 so the comparison is relative to the volatility itself (≈1e-3 per bar).
      const ours = ind.realizedVol(c.close, 60).map((v) => v * 1e4);
      expect(expectClose(ours, refVol, "vol")).toBe(n - 60);
      const m = align(SMA.calculate({ period: 20, values: close }), n);
      const sd = align(SD.calculate({ period: 20, values: close }), n);
      const refZ = new Float64Array(n).fill(Number.NaN);
      for (let i = 0; i < n; i++) if (sd[i] > 0) refZ[i] = (close[i] - m[i]) / sd[i];
      expectClose(ind.zscore(c.close, 20), refZ, "zscore");
    });
  });
}
