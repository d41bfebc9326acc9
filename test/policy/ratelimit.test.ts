import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { TwError } from "../../src/errors.js";
import {
  hlExchangeWeight,
  hlInfoExtraWeight,
  hlInfoWeight,
  WeightLimiter,
} from "../../src/policy/ratelimit.js";

const T0 = 1_750_000_000_000;

function limiter(budget = 100) {
  const clock = new SimClock(T0);
  const slept: number[] = [];
  const l = new WeightLimiter({
    budget,
    windowMs: 60_000,
    clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock.advance(ms);
    },
  });
  return { clock, l, slept };
}

describe("WeightLimiter", () => {
  it("refuses a burst beyond the budget with the time until the oldest weight leaves the window", () => {
    const { clock, l } = limiter(100);
    l.take(60);
    clock.advance(10_000);
    l.take(40);
    expect(l.check(1)).toEqual({ ok: false, retryAfterMs: 50_000 });
    clock.advance(50_000);
    expect(l.check(60)).toEqual({ ok: true });
    expect(l.check(61)).toEqual({ ok: false, retryAfterMs: 10_000 });
  });

  it("acquire delays a burst until it fits when the wait is within the bound", async () => {
    const { clock, l, slept } = limiter(100);
    await l.acquire(100, 0);
    await l.acquire(30, 60_000);
    expect(slept).toEqual([60_000]);
    expect(clock.now()).toBe(T0 + 60_000);
    expect(l.usedWeight()).toBe(30);
  });

  it("acquire refuses with RATE_LIMITED and retry_after_ms when the wait exceeds the bound, recording nothing", async () => {
    const { l, slept } = limiter(100);
    await l.acquire(90, 0);
    const err = await l.acquire(20, 2_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwError);
    expect((err as TwError).code).toBe("RATE_LIMITED");
    expect((err as TwError).retryable).toBe(true);
    expect((err as TwError).details?.retry_after_ms).toBe(60_000);
    expect(slept).toEqual([]);
    expect(l.usedWeight()).toBe(90);
  });

  it("a single request heavier than the whole budget is refused at once", async () => {
    const { l } = limiter(100);
    await expect(l.acquire(101, 1_000_000)).rejects.toMatchObject({ code: "RATE_LIMITED" });
  });

  it("total weight in any 60 s window never exceeds the budget (random bursts)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ gap: fc.integer({ min: 0, max: 20_000 }), w: fc.integer({ min: 1, max: 60 }) }),
          {
            minLength: 1,
            maxLength: 120,
          },
        ),
        fc.integer({ min: 0, max: 30_000 }),
        async (reqs, maxWait) => {
          const { clock, l } = limiter(120);
          const accepted: Array<[number, number]> = [];
          for (const r of reqs) {
            clock.advance(r.gap);
            try {
              await l.acquire(r.w, maxWait);
              accepted.push([clock.now(), r.w]);
            } catch (e) {
              if (!(e instanceof TwError) || e.code !== "RATE_LIMITED") throw e;
            }
          }
          // Every window that could hold the most weight starts at an accepted request.
          for (const [t] of accepted) {
            const sum = accepted.filter(([u]) => u >= t && u < t + 60_000).reduce((a, [, w]) => a + w, 0);
            expect(sum).toBeLessThanOrEqual(120);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("Hyperliquid weights (docs: Rate limits and user limits)", () => {
  it("charges 2 for l2Book/allMids/clearinghouseState/orderStatus/spotClearinghouseState/exchangeStatus, 60 for userRole, 20 otherwise", () => {
    for (const t of [
      "l2Book",
      "allMids",
      "clearinghouseState",
      "orderStatus",
      "spotClearinghouseState",
      "exchangeStatus",
    ]) {
      expect(hlInfoWeight(t)).toBe(2);
    }
    expect(hlInfoWeight("userRole")).toBe(60);
    expect(hlInfoWeight("meta")).toBe(20);
    expect(hlInfoWeight("candleSnapshot")).toBe(20);
  });

  it("adds 1 per 60 candles and 1 per 20 items of time-range endpoints", () => {
    expect(hlInfoExtraWeight("candleSnapshot", 59)).toBe(0);
    expect(hlInfoExtraWeight("candleSnapshot", 5000)).toBe(83);
    expect(hlInfoExtraWeight("fundingHistory", 500)).toBe(25);
    expect(hlInfoExtraWeight("userFills", 19)).toBe(0);
    expect(hlInfoExtraWeight("l2Book", 1000)).toBe(0);
  });

  it("exchange actions weigh 1 + floor(batch / 40)", () => {
    expect(hlExchangeWeight(1)).toBe(1);
    expect(hlExchangeWeight(39)).toBe(1);
    expect(hlExchangeWeight(40)).toBe(2);
    expect(hlExchangeWeight(79)).toBe(2);
  });
});
