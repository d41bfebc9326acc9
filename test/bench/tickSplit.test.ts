import { describe, expect, it } from "vitest";
import { ordersPerCycle, tickSplit } from "../../src/bench/tickSplit.js";

describe("tickSplit", () => {
  it("charges each order what its tick took over the median tick without orders", () => {
    // Quiet ticks 1, 1, 3, 1, 2 ms (median 1); a 5 ms tick with 2 orders and a 9 ms tick with 4:
    // (5 − 1) + (9 − 1) = 12 ms over 6 orders.
    const ms = [1, 5, 1, 3, 9, 1, 2];
    const orders = [0, 2, 0, 0, 4, 0, 0];
    const s = tickSplit(ms, (i) => orders[i]);
    expect(s).toEqual({ no_order_median_ms: 1, order_ticks: 2, orders: 6, ms_per_order: 2 });
  });

  it("counts only the ticks from `first` on", () => {
    const ms = [100, 50, 2, 2, 4];
    const orders = [0, 3, 0, 0, 1];
    // Ticks 2…4: quiet 2, 2 (median 2); one order in a 4 ms tick.
    expect(tickSplit(ms, (i) => orders[i], 2)).toEqual({
      no_order_median_ms: 2,
      order_ticks: 1,
      orders: 1,
      ms_per_order: 2,
    });
  });

  it("says NaN, not zero, when a kind of tick is missing", () => {
    const none = tickSplit([1, 2], () => 0);
    expect(none.orders).toBe(0);
    expect(none.ms_per_order).toBeNaN();
    expect(tickSplit([3, 4], () => 1).no_order_median_ms).toBeNaN();
  });

  it("refuses a first tick outside the run", () => {
    expect(() => tickSplit([1], () => 0, 2)).toThrow(RangeError);
    expect(() => tickSplit([1], () => 0, -1)).toThrow(RangeError);
  });
});

describe("ordersPerCycle", () => {
  it("groups the cycle's client order ids by the cycle id before the first colon", () => {
    const m = ordersPerCycle([
      "cyc-20250525T113700:ADA:1:buy",
      "cyc-20250525T113700:ADA:2:buy",
      "cyc-20250525T113800:BTC:1:sell",
      "agent-order-1",
      ":odd",
    ]);
    expect([...m]).toEqual([
      ["cyc-20250525T113700", 2],
      ["cyc-20250525T113800", 1],
    ]);
  });
});
