import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadFrameFromDirs } from "../../src/backtest/data.js";
import { ExperimentSpec, expandGrid, runExperiment } from "../../src/backtest/experiment.js";
import { deflatedSharpe, expectedMaxSharpe, normCdf, normInv } from "../../src/backtest/stats.js";
import { REPLAY_30D } from "../helpers/app.js";
import { readCsv, relClose } from "./helpers.js";

describe("deflated Sharpe ratio", () => {
  it("reproduces the numerical example of Bailey & López de Prado (2014): SR₀ ≈ 0.1132, DSR ≈ 0.9004", () => {
    // Paper: annualised SR 2.5 over T = 1250 daily observations, N = 100 trials with variance of
    // annualised Sharpe 0.5, skewness −3, kurtosis 10; de-annualised with 250 days.
    const r = deflatedSharpe({
      sharpe: 2.5 / Math.sqrt(250),
      observations: 1250,
      skew: -3,
      kurtosis: 10,
      trials: 100,
      varianceOfSharpes: 0.5 / 250,
    });
    expect(Math.abs(r.sr0 - 0.1132)).toBeLessThan(5e-4);
    expect(Math.abs(r.dsr! - 0.9004)).toBeLessThan(2e-3);
  });

  it("normal CDF and its inverse match tabulated values", () => {
    expect(Math.abs(normCdf(1.959963985) - 0.975)).toBeLessThan(2e-7);
    expect(Math.abs(normCdf(-1) - 0.158655254)).toBeLessThan(2e-7);
    expect(Math.abs(normInv(0.99) - 2.326347874)).toBeLessThan(1e-8);
    expect(Math.abs(normInv(0.001) + 3.090232306)).toBeLessThan(1e-8);
    expect(expectedMaxSharpe(1, 1)).toBe(0);
  });
});

describe("experiments", () => {
  it("expands the grid over base params, last key fastest, and refuses grids above the cap", () => {
    expect(expandGrid({ allow_short: false }, { fast: [5, 10], slow: [30, 60] }, 10)).toEqual([
      { allow_short: false, fast: 5, slow: 30 },
      { allow_short: false, fast: 5, slow: 60 },
      { allow_short: false, fast: 10, slow: 30 },
      { allow_short: false, fast: 10, slow: 60 },
    ]);
    expect(() => expandGrid({}, { a: [1, 2, 3], b: [1, 2, 3] }, 8)).toThrow(/9 variants; the limit is 8/);
  });

  const frame = loadFrameFromDirs(REPLAY_30D, { symbols: ["BTC"], interval: "1m" });
  const btc = readCsv(join(REPLAY_30D, "BTCUSDT_1m.csv.gz"));
  const base = {
    strategy: "ema_cross",
    grid: { fast: [5, 20, 60], slow: [30, 120, 480] },
    data: { source: `replay:${REPLAY_30D}`, symbols: ["BTC"], interval: "1m" },
  };

  it("a grid on real BTC data reports in-sample and out-of-sample metrics, buy-and-hold and the gate decision", async () => {
    const spec = ExperimentSpec.parse({
      ...base,
      split: { kind: "train_test", train_fraction: 0.7 },
    });
    const out = await runExperiment(frame, spec);
    // 9 combinations; fast=60 with slow=30 is refused (fast must be below slow).
    expect(out.variants_total).toBe(9);
    expect(out.variants_tried).toBe(8);
    expect(out.variants_invalid).toHaveLength(1);
    expect(out.variants_invalid[0].reason).toContain("fast (60) must be below slow (30)");
    const n = btc.time.length;
    const cut = Math.floor(n * 0.7);
    expect(out.windows.in_sample).toEqual([[btc.time[0], btc.time[cut - 1]]]);
    expect(out.windows.out_of_sample).toEqual([[btc.time[cut], btc.time[n - 1]]]);
    for (const v of out.ranking) {
      expect(v.in_sample.bars).toBe(cut);
      expect(v.out_of_sample.bars).toBe(n - cut);
    }
    // Ranked by out-of-sample Sharpe, best first.
    const sharpes = out.ranking.map((v) => v.out_of_sample.sharpe ?? Number.NEGATIVE_INFINITY);
    expect([...sharpes].sort((a, b) => b - a)).toEqual(sharpes);
    expect(out.winner!.params).toEqual(out.ranking[0].params);
    // Buy-and-hold out of sample, recomputed from the CSV: bought at the first test bar's open.
    const bh = btc.close[n - 1] / (btc.open[cut] * (1 + 1e-4) * (1 + 4.5e-4)) - 1;
    expect(relClose(out.buy_and_hold.out_of_sample.total_return, bh, 1e-9)).toBe(true);
    const bhIs = btc.close[cut - 1] / (btc.open[0] * (1 + 1e-4) * (1 + 4.5e-4)) - 1;
    expect(relClose(out.buy_and_hold.in_sample.total_return, bhIs, 1e-9)).toBe(true);
    // The default gate follows its five rules, in order.
    const w = out.winner!;
    const rules: Array<[string, boolean]> = [
      ["positive_return", w.out_of_sample.total_return > 0],
      ["min_sharpe", w.out_of_sample.sharpe !== null && w.out_of_sample.sharpe > 0],
      ["deflated_sharpe", w.deflated_sharpe !== null && w.deflated_sharpe > 0.95],
      ["min_trades", w.out_of_sample.trades >= 30],
      ["beats_buy_and_hold", w.out_of_sample.total_return > bh],
    ];
    expect(out.gate.name).toBe("default");
    expect(out.gate.criteria.map((c) => [c.criterion, c.passed])).toEqual(rules);
    expect(out.gate.failed).toEqual(rules.filter(([, ok]) => !ok).map(([n]) => n));
    expect(out.gate.passed).toBe(rules.every(([, ok]) => ok));
    expect(out.gate.decision).toBe(rules.find(([, ok]) => !ok)?.[0] ?? "passed");
    expect(w.deflated_sharpe === null || (w.deflated_sharpe >= 0 && w.deflated_sharpe <= 1)).toBe(true);
    expect(w.daily_observations).toBeGreaterThanOrEqual(9);
  });

  it("walk-forward tests on consecutive segments and fails the min_trades gate when it is out of reach", async () => {
    const spec = ExperimentSpec.parse({
      ...base,
      grid: { fast: [5, 20], slow: [120] },
      split: { kind: "walk_forward", folds: 3 },
      gate: {
        name: "custom",
        min_sharpe: null,
        min_deflated_sharpe: null,
        min_trades: 1_000_000,
        beat_buy_and_hold: false,
      },
    });
    const out = await runExperiment(frame, spec);
    const n = btc.time.length;
    const seg = Math.floor(n / 4);
    expect(out.windows.out_of_sample).toEqual([
      [btc.time[seg], btc.time[2 * seg - 1]],
      [btc.time[2 * seg], btc.time[3 * seg - 1]],
      [btc.time[3 * seg], btc.time[n - 1]],
    ]);
    expect(out.winner!.out_of_sample.bars).toBe(n - seg);
    expect(out.gate.passed).toBe(false);
    const minTrades = out.gate.criteria.find((c) => c.criterion === "min_trades")!;
    expect(minTrades).toMatchObject({ passed: false, required: true, threshold: 1_000_000 });
    expect(minTrades.value).toBe(out.winner!.out_of_sample.trades);
    expect(out.gate.failed).toContain("min_trades");
  });
});
