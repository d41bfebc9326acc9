import { describe, expect, it } from "vitest";
import { ExperimentSpec } from "../../src/backtest/experiment.js";
import { DEFAULT_GATE, evaluateGate } from "../../src/backtest/gate.js";
import { extend, nextExperiment } from "../../src/backtest/next.js";
import { gridEdgeWarnings } from "../../src/backtest/warnings.js";

const UNIVERSE = ["BTC", "ETH", "SOL", "ADA", "DOGE"];

const spec = ExperimentSpec.parse({
  strategy: "ema_cross",
  grid: { fast: [8, 12, 16], slow: [26, 40, 60], allow_short: [false, true] },
  data: { source: "replay", symbols: ["BTC"], interval: "15m", to: 1_750_589_100_000 },
  split: { kind: "walk_forward", folds: 3 },
});

function gate(pass: boolean) {
  return evaluateGate(
    {
      oos_return: pass ? 0.05 : -0.01,
      oos_sharpe: pass ? 2 : -1,
      deflated_sharpe: pass ? 0.99 : 0.1,
      oos_trades: 40,
      buy_and_hold_return: -0.02,
      variants: 18,
    },
    { name: "default", ...DEFAULT_GATE },
  );
}

const base = { spec, gate: gate(false), oos_bars: 2000, oos_trades: 40, min_bars: 1000, universe: UNIVERSE };

describe("next experiment", () => {
  it("a winner at a grid edge warns and extends that parameter two steps past the edge", () => {
    const winner = { fast: 12, slow: 60, allow_short: false };
    expect(gridEdgeWarnings(spec.grid, winner)).toEqual([
      expect.stringContaining("slow = 60 is at the upper edge of the searched values [26, 40, 60]"),
    ]);
    const n = nextExperiment({ ...base, winner });
    expect(n.kind).toBe("extend_grid");
    expect(n.arguments.grid).toEqual({
      fast: [8, 12, 16],
      slow: [40, 60, 80, 100],
      allow_short: [false, true],
    });
    // Everything else is the experiment's own.
    expect(n.arguments).toMatchObject({
      strategy: "ema_cross",
      symbols: ["BTC"],
      interval: "15m",
      to: 1_750_589_100_000,
      split: { kind: "walk_forward", folds: 3 },
    });
    expect(n.arguments.gate).toBeUndefined();
  });

  it("integer periods stay positive integers below a lower edge; an edge with no room left is skipped", () => {
    expect(extend([5, 10, 20], "lower")).toEqual([5, 10]);
    expect(extend([8, 12, 16], "lower")).toEqual([4, 8, 12]);
    expect(extend([0.5, 1, 1.5], "upper")).toEqual([1, 1.5, 2, 2.5]);
    expect(extend([-2, -1], "lower")).toEqual([-4, -3, -2, -1]);
    // fast = 5 at [5, 10, 20]'s lower edge has no positive value below it: the next rule applies.
    const s = ExperimentSpec.parse({ ...spec, grid: { fast: [5, 10, 20], slow: [40, 50, 60] } });
    const n = nextExperiment({ ...base, spec: s, winner: { fast: 5, slow: 50 } });
    expect(n.kind).toBe("coarser_interval");
  });

  it("a passed gate asks for the winner alone on a coin it was not selected on", () => {
    const n = nextExperiment({
      ...base,
      gate: gate(true),
      winner: { fast: 12, slow: 40, allow_short: true },
    });
    expect(n.kind).toBe("other_coin");
    expect(n.arguments.symbols).toEqual(["ETH"]);
    expect(n.arguments.grid).toEqual({ fast: [12], slow: [40], allow_short: [true] });
  });

  it("too few out-of-sample trades or bars ask for a finer interval; otherwise a coarser one", () => {
    const winner = { fast: 12, slow: 40, allow_short: true };
    expect(nextExperiment({ ...base, winner, oos_trades: 29 }).arguments.interval).toBe("5m");
    expect(nextExperiment({ ...base, winner, oos_bars: 999 }).kind).toBe("finer_interval");
    const n = nextExperiment({ ...base, winner });
    expect(n.kind).toBe("coarser_interval");
    expect(n.arguments.interval).toBe("1h");
  });

  it("a custom gate is carried into the suggestion", () => {
    const custom = { name: "custom" as const, ...DEFAULT_GATE, min_deflated_sharpe: null };
    const s = ExperimentSpec.parse({ ...spec, gate: custom });
    const n = nextExperiment({ ...base, spec: s, winner: { fast: 12, slow: 40, allow_short: true } });
    expect(n.arguments.gate).toEqual({ ...DEFAULT_GATE, min_deflated_sharpe: null });
  });
});
