import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { realCandles } from "../exchange/paperMarket.js";
import { call, connectClient } from "../helpers/app.js";
import { orderApp, T0 } from "./helpers.js";

/**
 * RISK_REJECTED, one test per check. Each test sets only the limit it exercises (operator via
 * risk_set_limits) and asserts the refusal names that check with its limit and value.
 */

let app: App;
let agent: Client;
let operator: Client;
let cleanup: () => Promise<void>;
const mid = realCandles("BTC").find((c) => c.time === T0 - 60_000)!.close; // 107314.9

beforeAll(async () => {
  ({ app, cleanup } = await orderApp());
  agent = await connectClient(app, "agent");
  operator = await connectClient(app, "operator");
});
afterAll(async () => cleanup());

async function setLimits(limits: Record<string, unknown>) {
  const r = await call(operator, "risk_set_limits", { ...limits, reason: "test setup" });
  expect(r.isError).toBe(false);
}

async function reset() {
  await setLimits({
    min_notional: 10,
    max_order_notional: 50_000,
    max_daily_notional: 500_000,
    max_leverage: 3,
    price_band_fraction: 0.05,
    max_open_orders: 50,
    allowed_symbols: [],
  });
}

async function refused(args: Record<string, unknown>) {
  const r = await call(agent, "order_propose", {
    venue: "paper",
    symbol: "BTC",
    side: "buy",
    type: "market",
    ...args,
  });
  expect(r.isError).toBe(true);
  expect(r.sc.code).toBe("RISK_REJECTED");
  return r.sc as {
    message: string;
    details: { failed: Array<{ check: string; limit: unknown; value: unknown; message: string }> };
  };
}

const failedIds = (sc: Awaited<ReturnType<typeof refused>>) => sc.details.failed.map((f) => f.check);

describe("RISK_REJECTED", () => {
  it("symbol_allowed: a symbol outside the allow-list", async () => {
    await setLimits({ allowed_symbols: ["ETH"] });
    const sc = await refused({ size: 0.01 });
    expect(failedIds(sc)).toEqual(["symbol_allowed"]);
    expect(sc.details.failed[0]).toMatchObject({ limit: ["ETH"], value: "BTC" });
    await reset();
  });

  it("lot_size: a size that rounds to zero lots (and so below min notional)", async () => {
    const btc = (await app.market.instruments()).find((i) => i.symbol === "BTC")!;
    const sc = await refused({ size: btc.lot_size / 10 });
    expect(failedIds(sc)).toEqual(["lot_size", "min_notional"]);
    expect(sc.details.failed[0].value).toBe("0");
  });

  it("tick_size: a limit price that rounds to zero", async () => {
    const btc = (await app.market.instruments()).find((i) => i.symbol === "BTC")!;
    const sc = await refused({ type: "limit", size: 0.01, price: btc.tick_size! / 10 });
    expect(failedIds(sc)).toContain("tick_size");
    expect(sc.details.failed.find((f) => f.check === "tick_size")!.value).toBe("0");
  });

  it("min_notional: an order below the minimum notional", async () => {
    await setLimits({ min_notional: 1000 });
    const sc = await refused({ size: 0.005 });
    expect(failedIds(sc)).toEqual(["min_notional"]);
    expect(sc.details.failed[0]).toMatchObject({ limit: 1000 });
    expect(sc.details.failed[0].value).toBeCloseTo(0.005 * mid, 6);
    await reset();
  });

  it("max_order_notional: an order above the per-order maximum, at its worst execution price", async () => {
    const sc = await refused({ size: 0.5 });
    expect(failedIds(sc)).toEqual(["max_order_notional"]);
    expect(sc.details.failed[0].limit).toBe(50_000);
    // A market buy can execute up to the protection price mid × (1 + price band 0.05).
    expect(sc.details.failed[0].value).toBeCloseTo(0.5 * mid * 1.05, 6);
  });

  it("max_order_notional is checked at the worst price: 49,987 at mid is 52,486 at the band and refused", async () => {
    const lot = (await app.market.instruments()).find((i) => i.symbol === "BTC")!.lot_size;
    const size = Number((Math.floor(49_987 / mid / lot) * lot).toFixed(8)); // whole lots
    expect(size * mid).toBeLessThan(50_000);
    expect(size * mid * 1.05).toBeGreaterThan(50_000);
    const sc = await refused({ size });
    expect(failedIds(sc)).toEqual(["max_order_notional"]);
    expect(sc.details.failed[0].value).toBeCloseTo(size * mid * 1.05, 6);
    expect(sc.details.failed[0].value as number).toBeGreaterThan(50_000);
    // The same size as a limit at mid (its worst price) fits.
    const ok = await call(agent, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "limit",
      size,
      price: Math.round(mid),
    });
    expect(ok.isError).toBe(false);
  });

  it("daily_notional: sent notional in the last 24 h plus this order above the rolling maximum", async () => {
    await setLimits({ max_daily_notional: 2000 });
    const p = await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.01 });
    expect((await call(agent, "order_submit", { intent_id: p.sc.intent_id })).sc.status).toBe("filled");
    const sc = await refused({ size: 0.01 });
    expect(failedIds(sc)).toEqual(["daily_notional"]);
    expect(sc.details.failed[0].limit).toBe(2000);
    // Both orders count at their worst execution price (market: mid × 1.05).
    expect(sc.details.failed[0].value).toBeCloseTo(2 * 0.01 * mid * 1.05, 6);
    await reset();
  });

  it("max_leverage: gross notional after fill over equity above the maximum", async () => {
    await setLimits({ max_leverage: 0.1 });
    const sc = await refused({ size: 0.2 });
    expect(failedIds(sc)).toEqual(["max_leverage"]);
    expect(sc.details.failed[0].limit).toBe(0.1);
    expect(sc.details.failed[0].value as number).toBeGreaterThan(0.2);
    await reset();
  });

  it("price_band: a limit more than the band away from mid", async () => {
    const sc = await refused({ type: "limit", size: 0.01, price: Math.round(mid * 0.94) });
    expect(failedIds(sc)).toEqual(["price_band"]);
    expect(sc.details.failed[0].limit).toBe(0.05);
    expect(sc.details.failed[0].value as number).toBeGreaterThan(0.05);
  });

  it("max_open_orders: a resting order beyond the open-order maximum", async () => {
    await setLimits({ max_open_orders: 1 });
    const p = await call(agent, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "limit",
      size: 0.01,
      price: 106000,
    });
    expect((await call(agent, "order_submit", { intent_id: p.sc.intent_id })).sc.status).toBe("open");
    const sc = await refused({ type: "limit", size: 0.01, price: 106500 });
    expect(failedIds(sc)).toEqual(["max_open_orders"]);
    expect(sc.details.failed[0]).toMatchObject({ limit: 1, value: 2 });
    await call(agent, "order_cancel_all", { venue: "paper" });
    await reset();
  });

  it("bracket_prices: a take-profit below the entry of a buy", async () => {
    const sc = await refused({ size: 0.01, take_profit: 100_000, stop_loss: 104_000 });
    expect(failedIds(sc)).toEqual(["bracket_prices"]);
  });

  it("stale_data: market data older than staleAfterMs", async () => {
    const t = await orderApp((c) => {
      c.staleAfterMs = 1_000;
    });
    try {
      t.clock.set(T0 + 30_000); // last closed bar ended at T0: the ticker is 30 s old
      const a = await connectClient(t.app, "agent");
      const r = await call(a, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.01 });
      expect(r.sc.code).toBe("RISK_REJECTED");
      expect(r.sc.details.failed).toEqual([
        expect.objectContaining({ check: "stale_data", limit: 1000, value: 30_000 }),
      ]);
    } finally {
      await t.cleanup();
    }
  });

  it("a refusal lists every failed check at once", async () => {
    await setLimits({ allowed_symbols: ["ETH"], max_leverage: 0.1 });
    const sc = await refused({ size: 0.6 });
    expect(failedIds(sc)).toEqual(["symbol_allowed", "max_order_notional", "max_leverage"]);
    expect(sc.message).toContain("symbol_allowed");
    expect(sc.message).toContain("max_leverage");
    await reset();
  });
});
