import { describe, expect, it } from "vitest";
import { runEngine } from "../../src/backtest/engine.js";
import type { Frame } from "../../src/backtest/types.js";
import { realCandles } from "../exchange/paperMarket.js";
import { relClose } from "./helpers.js";

/** The backtester's optional participation cap (issue 13); the default keeps the all-in convention. */

const bars = realCandles("ADA").slice(0, 600);
const frame: Frame = {
  symbols: ["ADA"],
  intervalMs: 60_000,
  time: Float64Array.from(bars.map((b) => b.time)),
  assets: [
    {
      open: Float64Array.from(bars.map((b) => b.open)),
      high: Float64Array.from(bars.map((b) => b.high)),
      low: Float64Array.from(bars.map((b) => b.low)),
      close: Float64Array.from(bars.map((b) => b.close)),
      volume: Float64Array.from(bars.map((b) => b.volume)),
    },
  ],
  funding: null,
};
const signals = { targets: [new Float64Array(bars.length).fill(1)], initial: [1] };
const base = { feeRate: 0.00045, slippage: 0.0001, initialEquity: 2_000_000, leverage: 1 };

describe("backtest participation cap", () => {
  it("default: all-in at the first open; with maxParticipation 0.1 the position grows by 10 % of each bar's volume until the target is reached", () => {
    const allIn = base.initialEquity / (bars[0].open * 1.0001 * 1.00045);
    expect(relClose(runEngine(frame, signals, { ...base, end: 1 }).positions[0], allIn)).toBe(true);
    let cum = 0;
    let reached = -1;
    for (let k = 1; k <= 200; k++) {
      cum += 0.1 * bars[k - 1].volume;
      const q = runEngine(frame, signals, { ...base, end: k, maxParticipation: 0.1 }).positions[0];
      if (cum < 0.95 * allIn) expect(relClose(q, cum, 1e-12), `bar ${k}`).toBe(true);
      else if (reached < 0) reached = k;
      expect(q).toBeLessThanOrEqual(cum * (1 + 1e-12));
    }
    expect(reached).toBeGreaterThan(3);
  });
});
