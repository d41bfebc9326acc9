import { describe, expect, it } from "vitest";
import { loadFrameFromDirs } from "../../src/backtest/data.js";
import { EngineRun, runEngine } from "../../src/backtest/engine.js";
import { ema, emaCrossSignal } from "../../src/backtest/indicators.js";
import { ExperimentSpec, runExperiment, windowsFor } from "../../src/backtest/experiment.js";
import {
  computeMetrics,
  dailyReturns,
  metricsAndDaily,
  maxDrawdown,
  mean,
  sharpe,
  sortino,
} from "../../src/backtest/metrics.js";
import { resolveStrategy } from "../../src/backtest/strategies/index.js";
import type { EngineOptions } from "../../src/backtest/types.js";
import { FUNDING, REPLAY_30D } from "../helpers/app.js";

// Real BTC 1m bars (30 days) with the embedded Binance funding attached.
const btc = loadFrameFromDirs([REPLAY_30D, FUNDING], { symbols: ["BTC"], interval: "1m" });

const cases: Array<[string, Record<string, unknown>, Partial<EngineOptions>]> = [
  ["ema_cross", { fast: 12, slow: 26 }, {}],
  ["ema_cross", { fast: 5, slow: 200, allow_short: true }, { leverage: 3, feeRate: 0.001 }],
  ["ema_cross", { fast: 30, slow: 90 }, { feeRate: 0, slippage: 0 }],
  ["rsi_reversion", { period: 14, allow_short: true }, { leverage: 2 }],
  ["buy_and_hold", {}, { leverage: 5 }],
  ["ema_cross", { fast: 12, slow: 26, allow_short: true }, { start: 1_000, end: 30_000 }],
];

describe("the fused single-symbol engine path", () => {
  it("funding is really charged on this data (so the comparison covers it)", () => {
    expect(btc.funding?.[0].some((r) => r !== 0)).toBe(true);
  });

  for (const [name, params, extra] of cases) {
    it(`equals the general loop bit for bit: ${name} ${JSON.stringify(params)} ${JSON.stringify(extra)}`, () => {
      const { def, params: p } = resolveStrategy(name, params);
      const sig = def.signals(btc, p, new Map());
      const opts: EngineOptions = {
        feeRate: 4.5e-4,
        slippage: 1e-4,
        initialEquity: 100_000,
        leverage: 1,
        ...extra,
      };
      const fused = runEngine(btc, sig, opts);
      const general = runEngine(btc, sig, { ...opts, general: true });
      expect(fused.trades.length).toBeGreaterThan(0);
      // First bar whose equity differs (Object.is: bit-identical, −0 ≠ 0); −1 = none.
      expect(fused.equity.findIndex((e, k) => !Object.is(e, general.equity[k]))).toBe(-1);
      expect(fused.equity.length).toBe(general.equity.length);
      expect(fused.trades).toEqual(general.trades);
      // The metrics read closedPnl: the closed records' PnL in exit order, on both paths.
      const closedPnl = general.trades.filter((t) => !t.open).map((t) => t.pnl);
      expect(Array.from(fused.closedPnl)).toEqual(closedPnl);
      expect(Array.from(general.closedPnl)).toEqual(closedPnl);
      expect(fused.fundingPaid).toBe(general.fundingPaid);
      expect(fused.fundingPaid).not.toBe(0);
      expect(fused.feesPaid).toBe(general.feesPaid);
      expect(fused.tradedNotional).toBe(general.tradedNotional);
      expect(fused.exposureBars).toBe(general.exposureBars);
      expect(Array.from(fused.positions)).toEqual(Array.from(general.positions));
      expect(computeMetrics(fused, btc.time, btc.intervalMs, 100_000)).toEqual(
        computeMetrics(general, btc.time, btc.intervalMs, 100_000),
      );
    });
  }

  it("a run stepped in odd chunks equals one call, past the round-trip log's first growth", () => {
    const { def, params } = resolveStrategy("ema_cross", { fast: 3, slow: 7, allow_short: true });
    const sig = def.signals(btc, params, new Map());
    const opts = { feeRate: 4.5e-4, slippage: 1e-4, initialEquity: 100_000, leverage: 2, start: 5 };
    const whole = runEngine(btc, sig, opts);
    const run = new EngineRun(btc, sig, opts);
    for (let stop = 5 + 997; !run.finished; stop += 997) run.step(stop);
    const chunked = run.finish();
    // Far more round trips than the log's initial 64 slots, and more than one chunk's worth.
    expect(whole.closedPnl.length).toBeGreaterThan(2_000);
    expect(chunked.equity.findIndex((e, k) => !Object.is(e, whole.equity[k]))).toBe(-1);
    expect(chunked.trades).toEqual(whole.trades);
    expect(chunked.trades).toEqual(runEngine(btc, sig, { ...opts, general: true }).trades);
    expect(chunked.fundingPaid).toBe(whole.fundingPaid);
    expect(chunked.exposureBars).toBe(whole.exposureBars);
  });

  for (const split of [
    { kind: "train_test" as const, train_fraction: 0.7 },
    { kind: "walk_forward" as const, folds: 3 },
  ]) {
    it(`an experiment's reused curve buffers give every variant the metrics of fresh runs (${split.kind})`, async () => {
      const spec = ExperimentSpec.parse({
        strategy: "ema_cross",
        grid: { fast: [5, 12, 30], slow: [26, 90], allow_short: [false, true] },
        data: { source: `replay:${REPLAY_30D}`, symbols: ["BTC"], interval: "1m" },
        split,
        leverage: 2,
      });
      const exp = await runExperiment(btc, spec);
      const win = windowsFor(btc.time.length, spec.split);
      // Independently: a fresh engine run per window (new arrays, no buffer), chained by hand.
      const fresh = (p: Record<string, unknown>, windows: Array<[number, number]>) => {
        const { def, params } = resolveStrategy("ema_cross", p);
        const sig = def.signals(btc, params, new Map());
        let equity = 100_000;
        const curves: number[] = [];
        const pnl: number[] = [];
        const parts = windows.map(([start, end]) => {
          const r = runEngine(btc, sig, {
            feeRate: 4.5e-4,
            slippage: 1e-4,
            initialEquity: equity,
            leverage: 2,
            start,
            end,
          });
          equity = r.equity[r.equity.length - 1];
          curves.push(...r.equity);
          pnl.push(...r.trades.filter((t) => !t.open).map((t) => t.pnl));
          return r;
        });
        const sumOf = (f: (r: (typeof parts)[0]) => number) => parts.reduce((a, r) => a + f(r), 0);
        const chained = {
          ...parts[0],
          end: parts[parts.length - 1].end,
          equity: Float64Array.from(curves),
          trades: [],
          closedPnl: Float64Array.from(pnl),
          curve: undefined,
          feesPaid: sumOf((r) => r.feesPaid),
          fundingPaid: sumOf((r) => r.fundingPaid),
          tradedNotional: sumOf((r) => r.tradedNotional),
          exposureBars: sumOf((r) => r.exposureBars),
        };
        const result = parts.length === 1 ? parts[0] : chained;
        return {
          metrics: computeMetrics(result, btc.time, btc.intervalMs, 100_000),
          daily: dailyReturns(result.equity, btc.time, result.start, 100_000),
        };
      };
      expect(exp.ranking.length).toBeGreaterThan(5);
      for (const v of exp.ranking) {
        expect(v.in_sample).toEqual(fresh(v.params, win.train).metrics);
        expect(v.out_of_sample).toEqual(fresh(v.params, win.test).metrics);
      }
      const w = exp.winner;
      expect(w).not.toBeNull();
      expect(w?.daily_observations).toBe(fresh(w?.params ?? {}, win.test).daily.length);
    });
  }

  it("the metrics' daily returns are dailyReturns of the same curve, bit for bit", () => {
    const { def, params } = resolveStrategy("ema_cross", { fast: 8, slow: 55 });
    const r = runEngine(btc, def.signals(btc, params, new Map()), {
      feeRate: 4.5e-4,
      slippage: 1e-4,
      initialEquity: 90_000,
      leverage: 1,
      start: 1_234,
    });
    const { daily } = metricsAndDaily(r, btc.time, btc.intervalMs, 100_000);
    const ref = dailyReturns(r.equity, btc.time, r.start, 100_000);
    expect(daily.length).toBe(ref.length);
    expect(daily.findIndex((x, k) => !Object.is(x, ref[k]))).toBe(-1);
  });

  it("one-pass metrics equal the separate drawdown, mean and daily-return passes bit for bit", () => {
    const { def, params } = resolveStrategy("ema_cross", { fast: 8, slow: 55, allow_short: true });
    const opts = { feeRate: 4.5e-4, slippage: 1e-4, initialEquity: 100_000, leverage: 2, start: 777 };
    const r = runEngine(btc, def.signals(btc, params, new Map()), opts);
    const m = computeMetrics(r, btc.time, btc.intervalMs, 100_000);
    const daily = dailyReturns(r.equity, btc.time, r.start, 100_000);
    expect(daily.length).toBeGreaterThan(20);
    expect(m.max_drawdown).toBe(maxDrawdown(r.equity, 100_000));
    expect(m.max_drawdown).toBeGreaterThan(0);
    expect(m.turnover).toBe(r.tradedNotional / mean(r.equity));
    expect(m.sharpe).toBe(sharpe(daily));
    expect(m.sortino).toBe(sortino(daily));
  });

  it("the fused EMA crossover equals comparing two ema() arrays, warm-up and NaN-led data included", () => {
    const close = btc.assets[0].close;
    const led = Float64Array.from(close);
    for (let i = 0; i < 40; i++) led[i] = Number.NaN;
    const short = close.subarray(0, 30);
    for (const x of [close, led, short]) {
      for (const [fast, slow] of [
        [1, 2],
        [12, 26],
        [5, 200],
        [25, 31],
        [20, 60],
      ]) {
        const f = ema(x, fast);
        const s = ema(x, slow);
        const fused = emaCrossSignal(x, fast, slow, 1, -1);
        const bad = fused.findIndex((v, i) => !Object.is(v, f[i] > s[i] ? 1 : f[i] <= s[i] ? -1 : 0));
        expect(bad, `fast ${fast} slow ${slow} n ${x.length}`).toBe(-1);
      }
    }
    expect(emaCrossSignal(close, 12, 26, 1, -1).some((v) => v === -1)).toBe(true);
  });
});
