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

describe("execution planner doubles path (issue 15)", () => {
  // Seeded LCG: the same cases every run.
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const one = (
    w: number,
    pos: number,
    m: { mid: number; lot: number; minNotional: number },
    equity: number,
    band: number,
  ) =>
    planExecution({
      cycleId: "c",
      now: 0,
      equity,
      approved: { X: w },
      positions: { X: pos },
      markets: { X: { ...m, tick: 0.01 } },
      twapSlices: 3,
      twapIntervalMs: 20_000,
      guardBps: 50,
      minTradeWeight: band,
    });

  /**
   * The rule in exact decimals (the module comment), independent of the planner's code: the target
   * rounded toward zero by dividing by the lot; the change skipped below the lot, below the minimum
   * notional, or inside the band; Δw = (the exact change as a double) × mid / equity.
   */
  function reference(
    w: number,
    pos: number,
    m: { mid: number; lot: number; minNotional: number },
    equity: number,
    band: number,
  ) {
    const cur = new Decimal(pos);
    const raw = new Decimal(w).times(equity).dividedBy(m.mid);
    const target = raw.dividedBy(m.lot).toDecimalPlaces(0, Decimal.ROUND_DOWN).times(m.lot);
    const delta = target.minus(cur);
    const dw = (delta.toNumber() * m.mid) / equity;
    if (delta.isZero()) {
      if (raw.minus(cur).isZero()) return { skipped: [], traded: "0" };
      const below = (raw.minus(cur).toNumber() * m.mid) / equity;
      return {
        skipped: [{ symbol: "X", reason: `change below lot size ${m.lot}`, delta_weight: below }],
        traded: "0",
      };
    }
    if (delta.abs().times(m.mid).lessThan(m.minNotional))
      return {
        skipped: [{ symbol: "X", reason: `below min notional ${m.minNotional}`, delta_weight: dw }],
        traded: "0",
      };
    if (Math.abs(dw) < band && !(target.isZero() && !cur.isZero()))
      return {
        skipped: [{ symbol: "X", reason: `inside rebalance band ${band}`, delta_weight: dw }],
        traded: "0",
      };
    return { skipped: null, traded: delta.toFixed() };
  }

  it("5,000 seeded changes get the targets, skips and Δw of exact decimal arithmetic, near lot boundaries and thresholds too", () => {
    const lots = [1, 0.1, 0.01, 0.001, 1e-4, 1e-6, 0.5, 0.25];
    let traded = 0;
    for (let i = 0; i < 5_000; i++) {
      const lot = pick(lots);
      const mid = Number((10 ** (rnd() * 6 - 2)).toPrecision(1 + Math.floor(rnd() * 8)));
      const equity = pick([100, 10_000, 100_000, 98_894.02921280783, 1e6 + rnd()]);
      const band = pick([0, 0.01, 0.02]);
      const minNotional = pick([0, 5, 10]);
      const kind = i % 5;
      // On the lot grid, off it, a large book with a small change (cancellation), or a target exactly
      // on a lot boundary / at the minimum notional (where doubles alone would round wrongly).
      const lotsHeld = Math.round((rnd() - 0.5) * 2_000);
      const pos =
        kind === 1
          ? Number(((rnd() - 0.5) * 50).toPrecision(7))
          : Number(new Decimal(lotsHeld).times(lot).toFixed());
      let w = Number(((rnd() - 0.5) * 0.8).toPrecision(1 + Math.floor(rnd() * 15)));
      if (kind === 2)
        w = Number(
          new Decimal(lotsHeld + pick([-1, 1, 3])).times(lot).times(mid).dividedBy(equity).toPrecision(17),
        );
      if (kind === 3)
        w = Number(new Decimal(Math.round(rnd() * 500)).times(lot).times(mid).dividedBy(equity).toFixed());
      if (kind === 4 && minNotional > 0)
        w = Number(
          new Decimal(pos)
            .plus(new Decimal(minNotional).dividedBy(mid))
            .times(mid)
            .dividedBy(equity)
            .toPrecision(17),
        );
      const m = { mid, lot, minNotional };
      const p = one(w, pos, m, equity, band);
      const ref = reference(w, pos, m, equity, band);
      if (ref.skipped) {
        expect(p.slices, `case ${i}`).toEqual([]);
        expect(p.skipped, `case ${i}`).toEqual(ref.skipped);
        continue;
      }
      // Traded: reduce and increase slices add up to the exact change (on the lot grid when the
      // position is), unless a slice fell below the minimum notional and was listed as skipped.
      const signed = p.slices.reduce(
        (a, s) => a.plus(s.side === "buy" ? s.qty : new Decimal(s.qty).negated()),
        new Decimal(0),
      );
      if (p.skipped.length === 0) expect(signed.toFixed(), `case ${i}`).toBe(ref.traded);
      if (kind !== 1)
        for (const s of p.slices)
          expect(new Decimal(s.qty).dividedBy(lot).isInteger(), `case ${i}`).toBe(true);
      traded++;
    }
    expect(traded).toBeGreaterThan(500); // the traded branch was exercised, not only skips
  });

  it("a change of exactly the minimum notional is traded though its double product falls short (0.3 × 3.3 = 0.98999…)", () => {
    expect(0.3 * 3.3).toBeLessThan(0.99); // the trap as doubles
    const exact = one(0.01155, 0, { mid: 3.3, lot: 0.1, minNotional: 0.99 }, 100, 0);
    expect(exact.skipped).toEqual([]);
    expect(exact.slices.map((s) => [s.side, s.qty])).toEqual([["buy", "0.3"]]);
    expect((0.7 - 0.6) * 100).toBeLessThan(10); // and as a difference of positions
    const p = one(0.75, 0.6, { mid: 100, lot: 0.1, minNotional: 10 }, 100, 0);
    expect(p.skipped).toEqual([]);
    expect(p.slices.map((s) => [s.side, s.qty])).toEqual([["buy", "0.1"]]);
    // The same on a large book, where the difference of two close doubles is off by ≈ 6 × 10⁻⁹.
    expect((123_456_789.3 - 123_456_789.2) * 100).toBeLessThan(10);
    const big = one(12.345678935, 123_456_789.2, { mid: 100, lot: 0.1, minNotional: 10 }, 1e9, 0);
    expect(big.skipped).toEqual([]);
    expect(big.slices.map((s) => [s.side, s.qty])).toEqual([["buy", "0.1"]]);
  });

  it("0.29 × 100 / 1 is 29 lots, not 28: a double product just below an integer goes the exact way", () => {
    expect((0.29 * 100) / 1).toBeLessThan(29); // the trap: 28.999999999999996 as doubles
    const p = one(0.29, 0, { mid: 1, lot: 1, minNotional: 0 }, 100, 0);
    expect(p.slices.map((s) => s.qty)).toEqual(["9", "9", "11"]);
  });
});
