import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import { planExecution } from "../../src/engine/planner.js";

const markets = {
  BTC: { mid: 100_000, lot: 0.001, tick: 0.1, minNotional: 5 },
  ETH: { mid: 2_500, lot: 0.01, tick: 0.01, minNotional: 5 },
  SOL: { mid: 150, lot: 0.1, tick: 0.01, minNotional: 5 },
};

describe("execution planner", () => {
  it("qty = Δw × equity / mid rounded down to the lot, split into TWAP slices 20 s apart", () => {
    const p = planExecution({
      cycleId: "c1",
      now: 1_000,
      equity: 100_000,
      approved: { BTC: 0.1 },
      positions: {},
      markets,
      twapSlices: 3,
      twapIntervalMs: 20_000,
      guardBps: 50,
    });
    // 0.1 × 100000 / 100000 = 0.1 BTC, split 0.033 + 0.033 + 0.034.
    expect(p.slices.map((s) => [s.client_order_id, s.qty, s.due_at, s.side])).toEqual([
      ["c1:BTC:1:buy", "0.033", 1_000, "buy"],
      ["c1:BTC:2:buy", "0.033", 21_000, "buy"],
      ["c1:BTC:3:buy", "0.034", 41_000, "buy"],
    ]);
    const total = p.slices.reduce((a, s) => a.plus(s.qty), new Decimal(0));
    expect(total.toFixed()).toBe("0.1");
    expect(p.slices[0].limit_px).toBe("100500");
  });

  it("close-first: every reducing slice precedes every increasing slice, and a flip is split", () => {
    const p = planExecution({
      cycleId: "c2",
      now: 0,
      equity: 100_000,
      approved: { BTC: -0.05, ETH: 0.1, SOL: 0 },
      positions: { BTC: 0.1, SOL: 20 },
      markets,
      twapSlices: 3,
      twapIntervalMs: 20_000,
      guardBps: 50,
    });
    const firstIncrease = p.slices.findIndex((s) => !s.reduce_only);
    const lastReduce = p.slices.map((s) => s.reduce_only).lastIndexOf(true);
    expect(lastReduce).toBeLessThan(firstIncrease);
    const btc = p.slices.filter((s) => s.symbol === "BTC");
    expect(btc[0]).toMatchObject({ reduce_only: true, side: "sell", qty: "0.1" });
    expect(
      btc
        .slice(1)
        .reduce((a, s) => a.plus(s.qty), new Decimal(0))
        .toFixed(),
    ).toBe("0.05");
    expect(p.slices.find((s) => s.symbol === "SOL")).toMatchObject({
      reduce_only: true,
      side: "sell",
      qty: "20",
    });
    // Sell guard rounds up to the tick: never worse than mid × (1 − 50 bps).
    expect(btc[0].limit_px).toBe("99500");
  });

  it("changes below the minimum notional are skipped, not sent", () => {
    const p = planExecution({
      cycleId: "c3",
      now: 0,
      equity: 1_000,
      approved: { SOL: 0.003 },
      positions: {},
      markets,
      twapSlices: 3,
      twapIntervalMs: 20_000,
      guardBps: 50,
    });
    expect(p.slices).toEqual([]);
    expect(p.skipped[0].symbol).toBe("SOL");
  });
});

describe("execution planner minimum notional", () => {
  it("uses fewer TWAP slices rather than send slices below the minimum notional", () => {
    const p = planExecution({
      cycleId: "c4",
      now: 0,
      equity: 100_000,
      approved: { ETH: 0.00025 },
      positions: {},
      markets: { ETH: { mid: 2_500, lot: 0.001, tick: 0.01, minNotional: 10 } },
      twapSlices: 3,
      twapIntervalMs: 20_000,
      guardBps: 50,
    });
    // 25 quote of ETH: 3 slices would be 8.33 each; 2 slices of 0.005 ETH = 12.5 each.
    expect(p.slices.map((s) => s.qty)).toEqual(["0.005", "0.005"]);
    for (const s of p.slices) expect(Number(s.qty) * 2_500).toBeGreaterThanOrEqual(10);
  });

  it("a symbol with zero weight and no position is neither traded nor listed as skipped; with a position it is closed", () => {
    const p = planExecution({
      cycleId: "c5",
      now: 0,
      equity: 100_000,
      approved: { BTC: 0, ETH: 0, SOL: 0 },
      positions: { ETH: 2, SOL: -0 },
      markets,
      twapSlices: 3,
      twapIntervalMs: 20_000,
      guardBps: 50,
    });
    expect(p.skipped).toEqual([]);
    expect(p.slices.map((s) => [s.client_order_id, s.qty, s.reduce_only])).toEqual([
      ["c5:ETH:0:sell", "2", true],
    ]);
  });
});

describe("execution planner rounding", () => {
  // Seeded LCG: the same 3,000 cases every run.
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const steps = [1, 0.1, 0.01, 0.001, 1e-5, 1e-7, 0.5, 0.25, 0.05, 2.5e-6];
  /** The rule as written in the module comment: divide by the step, round to an integer, multiply. */
  const byDivision = (x: Decimal, step: number, mode: Decimal.Rounding) =>
    x.dividedBy(step).toDecimalPlaces(0, mode).times(step);

  it("quantities and guard prices round to every lot and tick (powers of ten or not) exactly as dividing by the step does", () => {
    for (let i = 0; i < 3_000; i++) {
      const lot = steps[i % steps.length];
      const tick = steps[(i * 7 + 3) % steps.length];
      const mid = Number((10 ** (rnd() * 8 - 3)).toPrecision(1 + Math.floor(rnd() * 12)));
      const w = Number(((rnd() - 0.5) * 0.6).toPrecision(1 + Math.floor(rnd() * 16)));
      const equity = Number((1_000 + rnd() * 1e6).toFixed(Math.floor(rnd() * 9)));
      const p = planExecution({
        cycleId: "c",
        now: 0,
        equity,
        approved: { X: w },
        positions: {},
        markets: { X: { mid, lot, tick, minNotional: 0 } },
        twapSlices: 1,
        twapIntervalMs: 0,
        guardBps: 50,
      });
      const qty = byDivision(new Decimal(w).times(equity).dividedBy(mid), lot, Decimal.ROUND_DOWN);
      if (qty.isZero()) {
        expect(p.slices).toEqual([]);
        continue;
      }
      const side = qty.isPositive() ? "buy" : "sell";
      const px = byDivision(
        new Decimal(mid).times(side === "buy" ? 1.005 : 0.995),
        tick,
        side === "buy" ? Decimal.ROUND_DOWN : Decimal.ROUND_UP,
      );
      expect([p.slices.length, p.slices[0].qty, p.slices[0].limit_px, p.slices[0].side]).toEqual([
        1,
        qty.abs().toFixed(),
        px.toFixed(),
        side,
      ]);
    }
  });
});
