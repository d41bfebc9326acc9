import Decimal from "decimal.js";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import type { Config } from "../../src/config.js";
import { callerFor } from "../../src/policy/scopes.js";
import { getControl } from "../../src/store/control.js";
import { getCycle } from "../../src/store/cycles.js";
import { callTool } from "../../src/tools/registry.js";
import { realCandles } from "../exchange/paperMarket.js";
import { orderApp, T0 } from "../policy/helpers.js";

/**
 * Execution of the minute cycle on the paper venue over the real 30-day data (issue 13): GTC slices
 * with timeout → cancel → one replace, the per-minute order budget, operator limit changes that the
 * next cycle holds on the ACTUAL book, and the agent's limit scope.
 */

const MIN = 60_000;
const D = Decimal.clone({ precision: 60 });
const agent = callerFor("test:agent", "agent", "memory");
const operator = callerFor("test:operator", "operator", "memory");

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(patch: (c: Config) => void): Promise<App> {
  const t = await orderApp((c) => {
    c.cycle.targetTtlCycles = 1_000;
    patch(c);
  });
  cleanup = t.cleanup;
  return t.app;
}

async function target(app: App, weights: Record<string, number>): Promise<void> {
  const r = await callTool(app, agent, "portfolio_set_target", {
    targets: Object.entries(weights).map(([symbol, weight]) => ({ symbol, weight })),
    cash_weight: 0,
    confidence: 1,
    rationale: "test",
    model: { name: "test", version: "1" },
  });
  expect(r.isError ?? false).toBe(false);
}

const closeBefore = (symbol: string, t: number) =>
  realCandles(symbol)
    .filter((c) => c.time + MIN <= t)
    .at(-1)!.close;

/** Orders of a cycle: client id → row (status, price, created/updated). */
function cycleOrders(app: App, cycleTs: number) {
  const id = `cyc-${new Date(cycleTs).toISOString().replace(/[-:]/g, "").slice(0, 15)}`;
  return app.db
    .prepare(
      "SELECT client_order_id, status, price, size, filled_size, created_at, updated_at FROM orders WHERE client_order_id LIKE ? ORDER BY created_at, client_order_id",
    )
    .all(`${id}:%`) as Array<{
    client_order_id: string;
    status: string;
    price: string;
    size: string;
    filled_size: string;
    created_at: number;
    updated_at: number;
  }>;
}

describe("GTC slices", () => {
  it("a slice that cannot fill rests at the guard price until its timeout, is canceled, and is replaced once closer to mid; the replace is canceled at its own timeout and never replaced again", async () => {
    const app = await setup((c) => {
      c.paper.maxParticipation = 1e-12; // no liquidity: nothing can fill, every slice rests
      c.cycle.sliceOrderType = "gtc";
    });
    await target(app, { BTC: 0.1 });
    const cyc = await app.engine.tick(T0);
    const orders = cycleOrders(app, T0);
    const mid = closeBefore("BTC", T0);
    const s1 = orders.find((o) => o.client_order_id.endsWith(":BTC:1:buy"))!;
    const r1 = orders.find((o) => o.client_order_id.endsWith(":BTC:1r:buy"))!;
    // Guard 50 bps rounded down to the 0.1 tick; the replace at 25 bps from the mid then.
    expect(s1.price).toBe(new D(mid).times("1.005").dividedBy("0.1").floor().times("0.1").toString());
    expect(r1.price).toBe(new D(mid).times("1.0025").dividedBy("0.1").floor().times("0.1").toString());
    expect(new D(r1.price).lt(s1.price)).toBe(true);
    expect([s1.status, r1.status]).toEqual(["canceled", "canceled"]);
    expect([s1.created_at, s1.updated_at, r1.created_at, r1.updated_at]).toEqual([
      T0,
      T0 + 20_000,
      T0 + 20_000,
      T0 + 40_000,
    ]);
    expect(r1.size).toBe(s1.size);
    expect(orders.filter((o) => o.client_order_id.includes(":BTC:1r")).length).toBe(1);
    expect(orders.some((o) => /r.*r/.test(o.client_order_id.split(":")[2]))).toBe(false);
    // The last slice's timeout is the window's end: canceled there, no replace after the window.
    const last = orders.find((o) => o.client_order_id.endsWith(":BTC:3:buy"))!;
    expect(last.updated_at).toBe(T0 + MIN - 1);
    expect(orders.some((o) => o.client_order_id.endsWith(":BTC:3r:buy"))).toBe(false);
    expect(cyc.report?.replaced).toBe(2);
    expect(cyc.report?.canceled).toBe(5);
    expect((await app.venues.get("paper").openOrders()).length).toBe(0);
  });

  it("the per-minute order budget skips a slice: no order is recorded for it and the skip is audited as rate_limited", async () => {
    const app = await setup((c) => {
      c.cycle.sliceOrderType = "ioc";
      c.cycle.maxOrdersPerMinute = 1;
    });
    await target(app, { BTC: 0.1 });
    const cyc = await app.engine.tick(T0);
    const slices = cyc.plan.slices.filter((s) => !s.reduce_only).map((s) => s.client_order_id);
    expect(slices.length).toBe(3);
    // One token, refilled at 1 per minute: t → sent; t+20 s → 0.33 token; t+40 s → 0.67 token.
    const sent = cycleOrders(app, T0).map((o) => o.client_order_id);
    expect(sent).toEqual([slices[0]]);
    const audit = app.db
      .prepare("SELECT args, code, decision FROM audit_log WHERE tool = 'cycle.slice' ORDER BY id")
      .all() as Array<{ args: string; code: string; decision: string }>;
    expect(audit.map((a) => [JSON.parse(a.args).client_order_id, a.decision, a.code])).toEqual([
      [slices[1], "refused", "RATE_LIMITED"],
      [slices[2], "refused", "RATE_LIMITED"],
    ]);
    expect(cyc.report?.rate_limited).toBe(2);
    // Live, the cycle writes its own cycle.run row: the cycle id and what it did, not its figures.
    const run = app.db
      .prepare("SELECT args, result FROM audit_log WHERE tool = 'cycle.run' ORDER BY id")
      .all() as Array<{ args: string; result: string }>;
    expect(run.map((r) => [JSON.parse(r.args), JSON.parse(r.result)])).toEqual([
      [
        { cycle_id: cyc.id, venue: "paper" },
        {
          used: "agent",
          reason: null,
          clips: cyc.approved.rejections.length,
          slices: 3,
          sent: 1,
          refused: 0,
          rate_limited: 2,
        },
      ],
    ]);
  });
});

describe("portfolio limits on the actual book", () => {
  it("an operator lowers max_net to 0.10 and the next cycle holds it on the account; the agent may tighten but raising is FORBIDDEN_SCOPE", async () => {
    const app = await setup((c) => {
      c.cycle.limits.dailyTurnoverCap = 100;
      c.risk.maxDailyNotional = 10_000_000;
      c.cycle.sliceOrderType = "ioc";
    });
    await target(app, { BTC: 0.15, ETH: 0.15, SOL: 0.1 });
    let t = T0;
    for (; t < T0 + 12 * MIN; t += MIN) await app.engine.tick(t);
    const netOf = async (at: number) => {
      const st = await app.venues.get("paper").accountState();
      let n = new D(0);
      for (const p of st.positions) n = n.plus(new D(p.size).times(closeBefore(p.symbol, at)));
      return n.dividedBy(st.equity).toNumber();
    };
    const before = await netOf(t);
    expect(before).toBeGreaterThan(0.12);

    const raise = await callTool(app, agent, "risk_set_limits", {
      max_net: 0.25,
      reason: "agent wants more",
    });
    expect(raise.isError).toBe(true);
    expect((raise.structuredContent as { code: string }).code).toBe("FORBIDDEN_SCOPE");
    const set = await callTool(app, operator, "risk_set_limits", {
      max_net: 0.1,
      reason: "operator cuts net",
    });
    expect(set.isError ?? false).toBe(false);
    expect(
      (set.structuredContent as { portfolio_limits: { max_net: number } }).portfolio_limits.max_net,
    ).toBe(0.1);

    const next = await app.engine.tick(t);
    const lots = { BTC: 0.001, ETH: 0.001, SOL: 0.01 } as Record<string, number>;
    const tol = Object.entries(lots).reduce(
      (a, [s, l]) => a + (l * closeBefore(s, t)) / Number(next.equity),
      0,
    );
    expect(await netOf(t + MIN - 1)).toBeLessThanOrEqual(0.1 + tol);
    expect(Math.abs(next.approved.net)).toBeLessThanOrEqual(0.1);

    // Tightening further is the agent's right; the cycle after it holds 0.08.
    const tighten = await callTool(app, agent, "risk_set_limits", {
      max_net: 0.08,
      reason: "agent tightens",
    });
    expect(tighten.isError ?? false).toBe(false);
    await app.engine.tick(t + MIN);
    expect(await netOf(t + 2 * MIN - 1)).toBeLessThanOrEqual(0.08 + tol);
    const rows = app.db
      .prepare("SELECT caller, decision, code FROM audit_log WHERE tool = 'risk_set_limits' ORDER BY id")
      .all();
    expect(rows).toEqual([
      { caller: "test:agent", decision: "refused", code: "FORBIDDEN_SCOPE" },
      { caller: "test:operator", decision: "allowed", code: null },
      { caller: "test:agent", decision: "allowed", code: null },
    ]);
  });
});

describe("flatten", () => {
  it("control_flatten halts, cancels resting orders and closes every position with reduce-only orders, audited as the operator", async () => {
    const app = await setup((c) => {
      c.cycle.limits.dailyTurnoverCap = 100;
      c.risk.maxDailyNotional = 10_000_000;
    });
    await target(app, { BTC: 0.1, ETH: -0.1, DOGE: 0.05 });
    for (let t = T0; t < T0 + 4 * MIN; t += MIN) await app.engine.tick(t);
    const before = await app.venues.get("paper").accountState();
    expect(before.positions.length).toBe(3);
    expect((await callTool(app, agent, "control_flatten", { reason: "agent panics" })).isError).toBe(true);
    const r = await callTool(app, operator, "control_flatten", { reason: "end of test" });
    expect(r.isError ?? false).toBe(false);
    const sc = r.structuredContent as {
      remaining: unknown[];
      mode: string;
      closes: Array<{ status: string }>;
    };
    expect(sc.remaining).toEqual([]);
    expect(sc.mode).toBe("HALT");
    expect(getControl(app.db).mode).toBe("HALT");
    expect((await app.venues.get("paper").accountState()).positions).toEqual([]);
    const closes = app.db
      .prepare(
        "SELECT symbol, side, reduce_only, status, caller FROM orders WHERE client_order_id LIKE 'flat-%' ORDER BY symbol",
      )
      .all();
    expect(closes).toEqual(
      before.positions
        .map((p) => ({
          symbol: p.symbol,
          side: Number(p.size) > 0 ? "sell" : "buy",
          reduce_only: 1,
          status: "filled",
          caller: "test:operator",
        }))
        .sort((a, b) => a.symbol.localeCompare(b.symbol)),
    );
    const audited = app.db
      .prepare(
        "SELECT tool, caller, decision FROM audit_log WHERE tool IN ('control_flatten', 'order_submit') AND caller = 'test:operator'",
      )
      .all() as Array<{ tool: string }>;
    expect(audited.filter((a) => a.tool === "order_submit").length).toBe(3);
    expect(audited.filter((a) => a.tool === "control_flatten").length).toBe(1);
    // The next cycle sends nothing: HALT holds the (flat) book.
    const c = await app.engine.tick(T0 + 5 * MIN);
    expect(c.plan.slices).toEqual([]);
    expect(getCycle(app.db, c.id)?.mode).toBe("HALT");
  });
});
