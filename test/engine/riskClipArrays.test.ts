import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  enforceAll,
  increase,
  largestFraction,
  lerp,
  reduceBreaches,
  scaleGross,
  scaleNet,
  turnover,
} from "../../src/engine/limits.js";
import { clipTarget } from "../../src/engine/riskClip.js";

describe("clip bisections over arrays (issue 15)", () => {
  it("give bit-for-bit the weights of the object path on random books, targets and budgets", () => {
    // Deterministic pseudo-random (mulberry32), so a failure reproduces.
    let seed = 12345;
    const rnd = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const universe = ["BTC", "ETH", "SOL", "ADA", "DOGE"];
    // Reference: the same clip with the bisection predicates written on objects, as before issue 15.
    for (let i = 0; i < 300; i++) {
      const current: Record<string, number> = {};
      for (const s of universe) current[s] = rnd() < 0.3 ? 0 : (rnd() - 0.5) * 0.4;
      const targets = universe.map((symbol) => ({ symbol, weight: (rnd() - 0.5) * 0.5 }));
      const maxIncrease = rnd() < 0.5 ? rnd() * 0.05 : undefined;
      const input = {
        target: { targets, confidence: rnd() },
        current,
        universe,
        mode: "NORMAL" as const,
        maxIncrease,
      };
      const got = clipTarget(input);
      const want = referenceClip(input);
      expect(got.weights).toEqual(want);
    }
  });
});

/** clipTarget's NORMAL-mode arithmetic with the object predicates (the pre-issue-15 code path). */
function referenceClip(input: {
  target: { targets: Array<{ symbol: string; weight: number }>; confidence: number };
  current: Record<string, number>;
  universe: string[];
  maxIncrease?: number;
}): Record<string, number> {
  const limits = DEFAULT_LIMITS;
  const aim = 1 - limits.headroom;
  const cur: Record<string, number> = {};
  for (const s of input.universe) cur[s] = input.current[s] ?? 0;
  const base = reduceBreaches(cur, limits);
  const w: Record<string, number> = {};
  for (const s of input.universe) w[s] = 0;
  for (const { symbol, weight } of input.target.targets) {
    const cap = (limits.caps[symbol] ?? limits.defaultCap) * aim;
    w[symbol] = Math.max(-cap, Math.min(cap, weight));
  }
  if (input.target.confidence < limits.lowConfidenceThreshold)
    for (const s of Object.keys(w)) w[s] = w[s] * limits.lowConfidenceScale;
  scaleGross(w, limits.maxGross * aim);
  scaleNet(w, limits.maxNet * aim);
  const smoothed: Record<string, number> = {};
  for (const s of Object.keys(w)) smoothed[s] = limits.ewmaAlpha * w[s] + (1 - limits.ewmaAlpha) * base[s];
  let out = smoothed;
  const mandatory = turnover(base, cur);
  if (turnover(smoothed, cur) > limits.turnoverCap) {
    const cap = Math.max(limits.turnoverCap, mandatory);
    const f = largestFraction((x) => turnover(lerp(base, smoothed, x), cur) <= cap);
    out = lerp(base, smoothed, f * (1 - 1e-12));
  }
  const maxInc = input.maxIncrease ?? Number.POSITIVE_INFINITY;
  if (increase(cur, out) > maxInc) {
    const before = out;
    const g = largestFraction((x) => increase(cur, lerp(base, before, x)) <= maxInc);
    out = lerp(base, before, g * (1 - 1e-12));
  }
  out = { ...out };
  enforceAll(out, limits);
  return out;
}
