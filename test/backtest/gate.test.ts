import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExperimentSpec, runExperiment } from "../../src/backtest/experiment.js";
import { DEFAULT_GATE, evaluateGate, type GateSpec } from "../../src/backtest/gate.js";
import type { Frame } from "../../src/backtest/types.js";

const HOUR = 3_600_000;

/** Any gate a caller could choose, down to the loosest (every optional criterion off, 0 trades). */
const anyGate: fc.Arbitrary<GateSpec> = fc.record({
  name: fc.constantFrom("default" as const, "custom" as const),
  min_sharpe: fc.option(fc.double({ min: -100, max: 100, noNaN: true }), { nil: null }),
  min_deflated_sharpe: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
  min_trades: fc.integer({ min: 0, max: 1000 }),
  beat_buy_and_hold: fc.boolean(),
});

const LOOSEST: GateSpec = {
  name: "custom",
  min_sharpe: null,
  min_deflated_sharpe: null,
  min_trades: 0,
  beat_buy_and_hold: false,
};

/**
 * A one-symbol hourly frame whose closes follow `returns` (close_t = close_{t−1} × (1 + r_t), open_t =
 * close_{t−1}, high/low the larger/smaller of the two): random series as property input, not market data.
 */
function frameFromReturns(returns: number[]): Frame {
  const n = returns.length;
  const time = new Float64Array(n);
  const open = new Float64Array(n);
  const close = new Float64Array(n);
  let px = 100;
  for (let t = 0; t < n; t++) {
    time[t] = Date.UTC(2025, 0, 1) + t * HOUR;
    open[t] = px;
    px *= 1 + returns[t];
    close[t] = px;
  }
  const high = open.map((o, t) => Math.max(o, close[t]));
  const low = open.map((o, t) => Math.min(o, close[t]));
  return {
    symbols: ["X"],
    intervalMs: HOUR,
    time,
    assets: [{ open, high, low, close, volume: new Float64Array(n).fill(1) }],
    funding: null,
  };
}

describe("out-of-sample gate", () => {
  it("no gate, however loose, passes a non-positive (or undefined) out-of-sample return", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ max: 0, noNaN: true }), fc.constant(Number.NaN)),
        fc.option(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { nil: null }),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 5000 }),
        anyGate,
        (ret, sharpe, dsr, trades, bh, variants, gate) => {
          const g = evaluateGate(
            {
              oos_return: ret,
              oos_sharpe: sharpe,
              deflated_sharpe: dsr,
              oos_trades: trades,
              buy_and_hold_return: bh,
              variants,
            },
            gate,
          );
          expect(g.passed).toBe(false);
          expect(g.failed).toContain("positive_return");
          expect(g.decision).toBe("positive_return");
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("over random return series, the experiment's gate passes exactly when the winner's out-of-sample return is positive (loosest gate)", async () => {
    let passed = 0;
    let failed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: -0.03, max: 0.03, noNaN: true }), { minLength: 240, maxLength: 720 }),
        fc.constantFrom(LOOSEST, { name: "default" as const, ...DEFAULT_GATE }),
        async (returns, gate) => {
          const spec = ExperimentSpec.parse({
            strategy: "ema_cross",
            grid: { fast: [3, 6], slow: [12, 24] },
            data: { source: "random", symbols: ["X"], interval: "1h" },
            split: { kind: "train_test", train_fraction: 0.5 },
            gate,
          });
          const out = await runExperiment(frameFromReturns(returns), spec);
          const ret = out.winner!.out_of_sample.total_return;
          if (!(ret > 0)) expect(out.gate.passed).toBe(false);
          if (gate === LOOSEST) expect(out.gate.passed).toBe(ret > 0);
          expect(out.gate.criteria[0]).toMatchObject({ criterion: "positive_return", value: ret });
          if (out.gate.passed) passed++;
          else failed++;
        },
      ),
      { numRuns: 150 },
    );
    // Both verdicts occurred, so the property was not checked on one side only.
    expect(passed).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
  });

  it("lists every criterion with value, threshold and verdict, and measures criteria a looser gate drops against the default", () => {
    const input = {
      oos_return: 0.02,
      oos_sharpe: 1.5,
      deflated_sharpe: 0.4,
      oos_trades: 12,
      buy_and_hold_return: 0.05,
      variants: 9,
    };
    const def = evaluateGate(input, { name: "default", ...DEFAULT_GATE });
    expect(def.passed).toBe(false);
    expect(def.failed).toEqual(["deflated_sharpe", "min_trades", "beats_buy_and_hold"]);
    expect(def.criteria.map((c) => [c.criterion, c.value, c.op, c.threshold, c.passed, c.required])).toEqual([
      ["positive_return", 0.02, ">", 0, true, true],
      ["min_sharpe", 1.5, ">", 0, true, true],
      ["deflated_sharpe", 0.4, ">", 0.95, false, true],
      ["min_trades", 12, ">=", 30, false, true],
      ["beats_buy_and_hold", 0.02, ">", 0.05, false, true],
    ]);
    const loose = evaluateGate(input, {
      name: "custom",
      min_sharpe: 1,
      min_deflated_sharpe: null,
      min_trades: 10,
      beat_buy_and_hold: false,
    });
    expect(loose.passed).toBe(true);
    expect(loose.name).toBe("custom");
    expect(loose.config).toEqual({
      min_sharpe: 1,
      min_deflated_sharpe: null,
      min_trades: 10,
      beat_buy_and_hold: false,
    });
    const dsr = loose.criteria.find((c) => c.criterion === "deflated_sharpe")!;
    expect(dsr).toMatchObject({ threshold: 0.95, passed: false, required: false });
    expect(loose.criteria.find((c) => c.criterion === "beats_buy_and_hold")).toMatchObject({
      passed: false,
      required: false,
    });
  });

  it("an undefined Sharpe or deflated Sharpe fails its criterion; thresholds are strict", () => {
    const g = evaluateGate(
      {
        oos_return: 0.01,
        oos_sharpe: null,
        deflated_sharpe: 0.95,
        oos_trades: 30,
        buy_and_hold_return: 0.01,
        variants: 1,
      },
      { name: "default", ...DEFAULT_GATE },
    );
    expect(g.failed).toEqual(["min_sharpe", "deflated_sharpe", "beats_buy_and_hold"]);
    expect(g.criteria.find((c) => c.criterion === "min_trades")!.passed).toBe(true);
  });
});
