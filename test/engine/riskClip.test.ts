import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clipTarget, gross, net, turnover } from "../../src/engine/riskClip.js";
import type { TargetPortfolio, Weights } from "../../src/engine/types.js";

const U = ["BTC", "ETH", "SOL", "ADA", "DOGE"];
const CAP: Record<string, number> = { BTC: 0.15, ETH: 0.15, SOL: 0.1, ADA: 0.1, DOGE: 0.1 };
const EPS = 1e-12;

function target(weights: Record<string, number>, confidence = 0.9): TargetPortfolio {
  return {
    targets: Object.entries(weights).map(([symbol, weight]) => ({ symbol, weight })),
    cash_weight: 0,
    confidence,
    rationale: "test",
    model: { name: "t", version: "1" },
  };
}
const zeros: Weights = Object.fromEntries(U.map((s) => [s, 0]));

/** Σ over symbols of the exposure a move adds (recomputed here, not taken from the code under test). */
function added(from: Weights, to: Weights): number {
  let t = 0;
  for (const s of U) {
    const a = from[s] ?? 0;
    const b = to[s] ?? 0;
    if (b === 0) continue;
    if (a === 0 || Math.sign(a) !== Math.sign(b)) t += Math.abs(b);
    else t += Math.max(0, Math.abs(b) - Math.abs(a));
  }
  return t;
}

describe("risk clip (from the actual book)", () => {
  it("100% BTC is clipped to the cap at 95 % (headroom), then smoothed from the flat book, with the reason recorded", () => {
    const r = clipTarget({ target: target({ BTC: 1 }), current: zeros, universe: U, mode: "NORMAL" });
    expect(r.rejections[0]).toEqual({
      symbol: "BTC",
      reason: "per_coin_cap",
      original_weight: 1,
      approved_weight: 0.15 * 0.95,
    });
    // EWMA α = 0.5 from zero: 0.07125, within the 0.10 turnover cap.
    expect(r.weights.BTC).toBeCloseTo(0.07125, 12);
    expect(r.turnover).toBeCloseTo(0.07125, 12);
  });

  it("an oversized target is cut by per-coin, gross and net caps, each with its reason", () => {
    const r = clipTarget({
      target: target({ BTC: 0.5, ETH: 0.5, SOL: 0.5, ADA: 0.5, DOGE: 0.5 }),
      current: zeros,
      universe: U,
      mode: "NORMAL",
    });
    const reasons = new Set(r.rejections.map((x) => x.reason));
    expect(reasons).toEqual(new Set(["per_coin_cap", "max_gross", "max_net"]));
    // Net cut to 0.19 (all long, 95 % of 0.20), then halved by EWMA from an empty book.
    expect(r.net).toBeCloseTo(0.095, 9);
  });

  it("a reversal faster than the turnover cap moves only 0.10 of equity per cycle, measured from the actual book", () => {
    const cur = { ...zeros, BTC: 0.14 };
    const r = clipTarget({ target: target({ BTC: -0.15 }), current: cur, universe: U, mode: "NORMAL" });
    expect(r.weights.BTC).toBeCloseTo(0.04, 9);
    expect(r.rejections.at(-1)).toMatchObject({ symbol: "BTC", reason: "turnover_cap" });
    expect(turnover(r.weights, cur)).toBeLessThanOrEqual(0.1 + EPS);
  });

  it("a book outside a limit is reduced first, even when that needs more than the turnover cap", () => {
    // Net 0.30 (cap 0.20): the breach reduction brings it to 0.19 and no increase is approved.
    const cur = { ...zeros, BTC: 0.15, ETH: 0.15 };
    const r = clipTarget({
      target: target({ BTC: 0.15, ETH: 0.15 }),
      current: cur,
      universe: U,
      mode: "NORMAL",
      limits: {
        maxGross: 0.4,
        maxNet: 0.2,
        caps: { BTC: 0.15, ETH: 0.15 },
        defaultCap: 0.1,
        lowConfidenceThreshold: 0.5,
        lowConfidenceScale: 0.5,
        ewmaAlpha: 0.5,
        turnoverCap: 0.05,
        headroom: 0.05,
      },
    });
    expect(r.net).toBeLessThanOrEqual(0.2);
    expect(r.rejections.some((x) => x.reason === "limit_breach")).toBe(true);
    expect(Math.abs(r.weights.BTC)).toBeLessThanOrEqual(0.15);
    expect(r.weights.BTC).toBeCloseTo(0.095, 9);
    expect(r.weights.ETH).toBeCloseTo(0.095, 9);
  });

  it("pacing: what the move adds to exposure never exceeds maxIncrease, and reductions are not held back", () => {
    const cur = { ...zeros, BTC: 0.1, SOL: -0.05 };
    const r = clipTarget({
      target: target({ BTC: 0.15, SOL: 0, ETH: 0.1 }),
      current: cur,
      universe: U,
      mode: "NORMAL",
      maxIncrease: 0.01,
    });
    expect(added(cur, r.weights)).toBeLessThanOrEqual(0.01 + EPS);
    expect(r.rejections.some((x) => x.reason === "budget_pacing")).toBe(true);
    const none = clipTarget({
      target: target({ SOL: 0 }),
      current: cur,
      universe: U,
      mode: "NORMAL",
      maxIncrease: 0,
    });
    expect(added(cur, none.weights)).toBe(0);
    expect(Math.abs(none.weights.SOL)).toBeLessThan(0.05);
  });

  it("unknown symbols are refused and low confidence halves the weights", () => {
    const r = clipTarget({
      target: target({ XRP: 0.1, SOL: 0.08 }, 0.3),
      current: zeros,
      universe: U,
      mode: "NORMAL",
    });
    expect(r.rejections).toContainEqual({
      symbol: "XRP",
      reason: "symbol_not_allowed",
      original_weight: 0.1,
      approved_weight: 0,
    });
    expect(r.rejections).toContainEqual({
      symbol: "SOL",
      reason: "low_confidence",
      original_weight: 0.08,
      approved_weight: 0.04,
    });
    expect(r.weights.XRP).toBeUndefined();
  });

  it("REDUCE_ONLY never grows or flips a position; HALT keeps the current book when it is inside the limits", () => {
    const current = { ...zeros, BTC: 0.1, ETH: -0.05 };
    const ro = clipTarget({
      target: target({ BTC: 0.15, ETH: 0.1, SOL: 0.1 }),
      current,
      universe: U,
      mode: "REDUCE_ONLY",
    });
    expect(ro.weights.BTC).toBeLessThanOrEqual(0.1);
    expect(ro.weights.BTC).toBeGreaterThanOrEqual(0);
    expect(ro.weights.ETH).toBe(0);
    expect(ro.weights.SOL).toBe(0);
    const halt = clipTarget({ target: target({ BTC: 0 }), current, universe: U, mode: "HALT" });
    expect(halt.weights).toEqual(current);
  });

  it("property: for any target, any actual book (in or out of limits) and any pace, the approved book respects caps, gross and net; turnover ≤ max(cap, the breach reduction); the added exposure ≤ the pace", () => {
    const w = fc.double({ min: -2, max: 2, noNaN: true });
    const cw = fc.double({ min: -0.3, max: 0.3, noNaN: true });
    fc.assert(
      fc.property(
        fc.record(Object.fromEntries(U.map((s) => [s, w]))),
        fc.record(Object.fromEntries(U.map((s) => [s, cw]))),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.constantFrom("NORMAL", "REDUCE_ONLY", "HALT"),
        (t, cur, conf, pace, mode) => {
          const r = clipTarget({
            target: target(t as Weights, conf),
            current: cur as Weights,
            universe: U,
            mode: mode as "NORMAL",
            maxIncrease: pace,
          });
          for (const s of U) expect(Math.abs(r.weights[s])).toBeLessThanOrEqual(CAP[s] + EPS);
          expect(gross(r.weights)).toBeLessThanOrEqual(0.4 + EPS);
          expect(Math.abs(net(r.weights))).toBeLessThanOrEqual(0.2 + EPS);
          // The mandatory part: each coin at most down to its reduced size, recomputed independently.
          const c = cur as Weights;
          const overCap = U.reduce((a, s) => a + Math.max(0, Math.abs(c[s]) - CAP[s] * 0.95), 0);
          const g = U.reduce((a, s) => a + Math.min(Math.abs(c[s]), CAP[s]), 0);
          const n = Math.abs(U.reduce((a, s) => a + c[s], 0));
          const mandatory = overCap + Math.max(0, g - 0.4 * 0.95) + Math.max(0, n - 0.2 * 0.95);
          expect(turnover(r.weights, c)).toBeLessThanOrEqual(Math.max(0.1, mandatory) + 1e-9);
          expect(added(c, r.weights)).toBeLessThanOrEqual(pace + 1e-9);
          if (mode !== "NORMAL") {
            for (const s of U) {
              expect(Math.abs(r.weights[s])).toBeLessThanOrEqual(Math.abs(c[s]) + EPS);
              if (r.weights[s] !== 0) expect(Math.sign(r.weights[s])).toBe(Math.sign(c[s]));
            }
          }
        },
      ),
      { numRuns: 2000, seed: 42 },
    );
  });
});
