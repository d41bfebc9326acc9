import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { SimClock } from "../../src/clock.js";
import { submitThroughGate } from "../../src/orders/ops.js";
import type { Caller } from "../../src/policy/scopes.js";
import { verifyAudit } from "../../src/store/audit.js";
import { REPLAY_30D, testApp } from "../helpers/app.js";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(): Promise<App> {
  const clock = new SimClock(Date.parse("2025-05-26T00:00:00Z"));
  const t = await testApp({ TW_MARKET_DATA: `replay:${REPLAY_30D}` }, clock);
  cleanup = t.cleanup;
  return t.app;
}

const caller: Caller = {
  id: "system:test",
  profile: "operator",
  scopes: new Set(["orders:propose", "orders:submit"]),
  transport: "system",
};

function proposeRows(app: App): Array<{ decision: string; code: string | null; result: unknown }> {
  return app.db
    .prepare("SELECT decision, code, result FROM audit_log WHERE tool = 'order_propose' ORDER BY id")
    .all()
    .map((r) => {
      const row = r as { decision: string; code: string | null; result: string };
      return { decision: row.decision, code: row.code, result: JSON.parse(row.result) };
    });
}

describe("system orders through the gate", () => {
  it("an allowed proposal's audit row records the intent, the figures and every check with limit and value", async () => {
    const app = await setup();
    const out = await submitThroughGate(app, caller, {
      venue: "paper",
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
      client_order_id: "ops-audit-1",
    });
    expect(out.ok).toBe(true);
    const [row] = proposeRows(app);
    expect(row.decision).toBe("allowed");
    const r = row.result as Record<string, unknown>;
    const intent = app.orders.intent(String(r.intent_id));
    expect(r).toMatchObject({
      symbol: "BTC",
      side: "buy",
      size: "0.01",
      price: null,
      approval: "not_needed",
    });
    expect(r.notional).toBe(intent.notional);
    expect(r).not.toHaveProperty("preview");
    const checks = r.checks as Record<string, [unknown, unknown]>;
    expect(Object.keys(checks)).toEqual(intent.checks.map((c) => c.check));
    expect(checks.max_order_notional).toEqual([
      50_000,
      intent.checks.find((c) => c.check === "max_order_notional")?.value,
    ]);
    expect(verifyAudit(app.db).ok).toBe(true);
  });

  it("a refused proposal's audit row keeps the failed check with its limit, value and message", async () => {
    const app = await setup();
    const out = await submitThroughGate(app, caller, {
      venue: "paper",
      symbol: "BTC",
      side: "buy",
      type: "market",
      notional: 60_000,
      client_order_id: "ops-audit-2",
    });
    expect(out.ok).toBe(false);
    const [row] = proposeRows(app);
    expect(row).toMatchObject({ decision: "refused", code: "RISK_REJECTED" });
    const failed = JSON.stringify(row.result);
    expect(failed).toContain("max_order_notional");
    expect(failed).toContain("50000");
    expect(failed).toContain("must be ≤ 50000");
  });
});
