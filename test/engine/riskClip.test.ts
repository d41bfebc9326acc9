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

describe("risk clip", () => {
  it("100% BTC is clipped to the 0.15 cap, then smoothed, with the reason recorded", () => {
    const r = clipTarget({
      target: target({ BTC: 1 }),
      previous: zeros,
      current: zeros,
      universe: U,
      mode: "NORMAL",
    });
    expect(r.rejections[0]).toEqual({
      symbol: "BTC",
      reason: "per_coin_cap",
      original_weight: 1,
      approved_weight: 0.15,
    });
    // EWMA α = 0.5 from zero: 0.075, within the 0.10 turnover cap.
    expect(r.weights.BTC).toBeCloseTo(0.075, 12);
    expect(r.turnover).toBeCloseTo(0.075, 12);
  });

  it("an oversized book is cut by per-coin, gross and net caps, each with its reason", () => {
    const r = clipTarget({
      target: target({ BTC: 0.5, ETH: 0.5, SOL: 0.5, ADA: 0.5, DOGE: 0.5 }),
      previous: zeros,
      current: zeros,
      universe: U,
      mode: "NORMAL",
    });
    const reasons = new Set(r.rejections.map((x) => x.reason));
    expect(reasons).toEqual(new Set(["per_coin_cap", "max_gross", "max_net"]));
    // Net cut to 0.20 (all long), then halved by EWMA from an empty book.
    expect(r.net).toBeCloseTo(0.1, 9);
  });

  it("a reversal faster than the turnover cap moves only 0.10 of equity per cycle", () => {
    const prev = { ...zeros, BTC: 0.15 };
    const r = clipTarget({
      target: target({ BTC: -0.15 }),
      previous: prev,
      current: prev,
      universe: U,
      mode: "NORMAL",
    });
    // EWMA gives 0; turnover 0.15 > 0.10 → BTC moves from 0.15 to 0.05.
    expect(r.weights.BTC).toBeCloseTo(0.05, 9);
    expect(r.rejections.at(-1)).toMatchObject({ symbol: "BTC", reason: "turnover_cap" });
    expect(r.turnover).toBeLessThanOrEqual(0.1);
  });

  it("unknown symbols are refused and low confidence halves the weights", () => {
    const r = clipTarget({
      target: target({ XRP: 0.1, SOL: 0.08 }, 0.3),
      previous: zeros,
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

  it("REDUCE_ONLY never grows or flips a position; HALT keeps the current book", () => {
    const current = { ...zeros, BTC: 0.1, ETH: -0.05 };
    const ro = clipTarget({
      target: target({ BTC: 0.15, ETH: 0.1, SOL: 0.1 }),
      previous: current,
      current,
      universe: U,
      mode: "REDUCE_ONLY",
    });
    expect(ro.weights.BTC).toBeLessThanOrEqual(0.1);
    expect(ro.weights.BTC).toBeGreaterThanOrEqual(0);
    expect(ro.weights.ETH).toBe(0);
    expect(ro.weights.SOL).toBe(0);
    const halt = clipTarget({
      target: target({ BTC: 0 }),
      previous: current,
      current,
      universe: U,
      mode: "HALT",
    });
    expect(halt.weights).toEqual(current);
  });

  it("property: for any target and any in-limit previous book, approved weights respect caps, gross, net and turnover", () => {
    const w = fc.double({ min: -2, max: 2, noNaN: true });
    const prevArb = fc
      .record(Object.fromEntries(U.map((s) => [s, fc.double({ min: -CAP[s], max: CAP[s], noNaN: true })])))
      .map((p) => {
        // Bring the previous book inside the gross/net limits by running it through the clip once.
        return clipTarget({
          target: target(p as Weights),
          previous: p as Weights,
          current: zeros,
          universe: U,
          mode: "NORMAL",
          limits: {
            maxGross: 0.4,
            maxNet: 0.2,
            caps: CAP,
            defaultCap: 0.1,
            lowConfidenceThreshold: 0,
            lowConfidenceScale: 1,
            ewmaAlpha: 1,
            turnoverCap: 100,
          },
        }).weights;
      });
    fc.assert(
      fc.property(
        fc.record(Object.fromEntries(U.map((s) => [s, w]))),
        prevArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        (t, prev, conf) => {
          const r = clipTarget({
            target: target(t as Weights, conf),
            previous: prev,
            current: prev,
            universe: U,
            mode: "NORMAL",
          });
          for (const s of U) expect(Math.abs(r.weights[s])).toBeLessThanOrEqual(CAP[s] + EPS);
          expect(gross(r.weights)).toBeLessThanOrEqual(0.4 + EPS);
          expect(Math.abs(net(r.weights))).toBeLessThanOrEqual(0.2 + EPS);
          expect(turnover(r.weights, prev)).toBeLessThanOrEqual(0.1 + EPS);
        },
      ),
      { numRuns: 2000, seed: 42 },
    );
  });
});
