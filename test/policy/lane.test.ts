import { afterEach, describe, expect, it } from "vitest";
import { Dec } from "../../src/exchange/fillModel.js";
import { ExecutionLanes } from "../../src/policy/lane.js";
import { createLogger } from "../../src/log.js";
import { openDb } from "../../src/store/db.js";
import { getLease, tryAcquireLease } from "../../src/store/leases.js";
import { call, connectClient } from "../helpers/app.js";
import { orderApp } from "./helpers.js";

/**
 * The execution lane (issue 12, finding 1): concurrent submits used to each see the same risk
 * headroom and together blow through it. Here 30 submits of ≈ 23.5 k arrive at once and the ACCOUNT
 * (positions at mark, fills booked) is measured afterwards, not the plan.
 */

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function thirtyAtOnce(limits: Record<string, unknown>) {
  // Fills are complete here (no participation cap): what is measured is the lane, not liquidity.
  const t = await orderApp((c) => {
    c.paper.maxParticipation = 1;
  });
  cleanups.push(t.cleanup);
  const agent = await connectClient(t.app, "agent");
  const operator = await connectClient(t.app, "operator");
  const set = await call(operator, "risk_set_limits", { ...limits, reason: "test" });
  expect(set.isError).toBe(false);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) {
    // ≈ 23.5 k at mid, 24.7 k at the worst price: under the 25 k paper auto-approve threshold.
    const p = await call(agent, "order_propose", {
      symbol: i % 2 === 0 ? "BTC" : "ETH",
      side: "buy",
      type: "market",
      notional: 23_500,
    });
    expect(p.isError).toBe(false);
    ids.push(p.sc.intent_id);
  }
  const results = await Promise.all(ids.map((id) => call(agent, "order_submit", { intent_id: id })));
  const venue = t.app.venues.get("paper");
  const acct = await venue.accountState();
  const fills = t.app.db.prepare("SELECT size, price FROM fills WHERE venue = 'paper'").all() as Array<{
    size: string;
    price: string;
  }>;
  const traded = fills.reduce((s, f) => s.plus(new Dec(f.size).times(f.price)), new Dec(0));
  return { results, acct, traded, fills };
}

describe("the execution lane", () => {
  it("30 concurrent 23.5 k submits never exceed leverage 3: gross at mark / equity ≤ 3 on the account", async () => {
    const { results, acct, fills } = await thirtyAtOnce({ max_leverage: 3, max_daily_notional: 10_000_000 });
    const filled = results.filter((r) => !r.isError && r.sc.status === "filled");
    const refused = results.filter((r) => r.isError);
    expect(filled.length + refused.length).toBe(30);
    expect(refused.every((r) => r.sc.code === "RISK_REJECTED")).toBe(true);
    expect(
      refused.every((r) => r.sc.details.failed.some((f: { check: string }) => f.check === "max_leverage")),
    ).toBe(true);
    // 3 × 100 k / (23.5 k × 1.05 worst price) = 12.2: at most 12 fit, and the lane lets exactly as many as fit.
    expect(filled.length).toBeGreaterThanOrEqual(11);
    expect(filled.length).toBeLessThanOrEqual(12);
    expect(fills).toHaveLength(filled.length);
    const lev = new Dec(acct.gross_notional).dividedBy(acct.equity);
    expect(lev.toNumber()).toBeLessThanOrEqual(3);
  });

  it("30 concurrent 23.5 k submits never exceed the rolling 24 h notional: Σ traded ≤ max_daily_notional", async () => {
    const { results, traded } = await thirtyAtOnce({ max_leverage: 100, max_daily_notional: 200_000 });
    const filled = results.filter((r) => !r.isError && r.sc.status === "filled");
    expect(results.filter((r) => r.isError).every((r) => r.sc.code === "RISK_REJECTED")).toBe(true);
    // 200 k / 24.675 k reserved per order = 8.1 → 8 orders.
    expect(filled).toHaveLength(8);
    expect(traded.toNumber()).toBeLessThanOrEqual(200_000);
  });
});

describe("lane leases across processes", () => {
  it("a second holder cannot take a held lane; a lease whose holder process is dead is taken over at once", () => {
    const db = openDb(":memory:");
    try {
      expect(tryAcquireLease(db, "lane:paper", "a", 30_000)).toBe(true);
      expect(tryAcquireLease(db, "lane:paper", "b", 30_000)).toBe(false);
      // Make the holder a process that does not exist on this host (as after kill -9).
      db.prepare("UPDATE leases SET pid = 2147483646 WHERE name = 'lane:paper'").run();
      expect(tryAcquireLease(db, "lane:paper", "b", 30_000)).toBe(true);
      expect(getLease(db, "lane:paper")?.holder).toBe("b");
    } finally {
      db.close();
    }
  });

  it("within a process the lane is FIFO and exclusive: overlapping holders never run at once", async () => {
    const db = openDb(":memory:");
    const lanes = new ExecutionLanes({ db, log: createLogger("silent") });
    let inside = 0;
    let maxInside = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        lanes.run("paper", async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          order.push(i);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    lanes.close();
    db.close();
    expect(maxInside).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
