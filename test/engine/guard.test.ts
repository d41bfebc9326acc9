import Decimal from "decimal.js";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import type { Venue } from "../../src/exchange/venue.js";
import { callerFor } from "../../src/policy/scopes.js";
import { callTool } from "../../src/tools/registry.js";
import { realCandles } from "../exchange/paperMarket.js";
import { orderApp, T0 } from "../policy/helpers.js";

/**
 * The position-guard loop for venues that do not evaluate guards themselves (issue 13). The "live"
 * venue here is the paper book behind a venue id `okx:demo` that declares no native guards, so the
 * loop — not the venue — must watch the position and send the exit through the gate.
 */

const MIN = 60_000;
const agent = callerFor("test:agent", "agent", "memory");
const operator = callerFor("test:operator", "operator", "memory");

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** A non-native-guard venue `okx:demo` over the paper book (same account, paper matching). */
function liveLike(paper: Venue): Venue {
  const v = Object.create(paper) as Venue & { id: string; network: string; nativeGuards: boolean };
  Object.defineProperty(v, "id", { value: "okx:demo" });
  Object.defineProperty(v, "network", { value: "demo" });
  Object.defineProperty(v, "nativeGuards", { value: false });
  return v;
}

async function setup(): Promise<{ app: App; clock: { set(t: number): void; now(): number } }> {
  const t = await orderApp();
  cleanup = t.cleanup;
  t.app.venues.register(liveLike(t.app.venues.get("paper")));
  return { app: t.app, clock: t.clock };
}

async function enter(app: App, args: Record<string, unknown>): Promise<string> {
  const p = await callTool(app, agent, "order_propose", {
    venue: "okx:demo",
    symbol: "BTC",
    side: "buy",
    type: "market",
    size: 0.05,
    ...args,
  });
  expect(p.isError ?? false).toBe(false);
  const intent = (p.structuredContent as { intent_id: string; max_hold_minutes: number | null }).intent_id;
  expect((await callTool(app, operator, "order_approve", { intent_id: intent })).isError ?? false).toBe(
    false,
  );
  const s = await callTool(app, agent, "order_submit", { intent_id: intent });
  expect((s.structuredContent as { status: string }).status).toBe("filled");
  return intent;
}

describe("position guard loop (live venues)", () => {
  it("max_hold_minutes: the loop closes the position through the gate after the hold time, audited with its reason, once", async () => {
    const { app, clock } = await setup();
    const intent = await enter(app, { max_hold_minutes: 5 });
    clock.set(T0 + 4 * MIN);
    expect((await app.guard.evaluate()).map((x) => x.action)).toEqual(["armed", "held"]);
    clock.set(T0 + 5 * MIN + 1);
    const r = await app.guard.evaluate();
    expect(r).toEqual([{ intent_id: intent, action: "exit", reason: "held 5 min (max_hold_minutes)" }]);
    expect((await app.venues.get("okx:demo").accountState()).positions).toEqual([]);
    const exit = app.db
      .prepare(
        "SELECT client_order_id, side, reduce_only, status, caller, size FROM orders WHERE client_order_id = ?",
      )
      .get(`guard:${intent}:time`);
    expect(exit).toEqual({
      client_order_id: `guard:${intent}:time`,
      side: "sell",
      reduce_only: 1,
      status: "filled",
      caller: "system:guard",
      size: "0.05",
    });
    const audit = app.db
      .prepare("SELECT decision, result FROM audit_log WHERE tool = 'guard.exit'")
      .all() as Array<{ decision: string; result: string }>;
    expect(audit.length).toBe(1);
    expect(JSON.parse(audit[0].result).reason).toBe("held 5 min (max_hold_minutes)");
    const approval = app.db.prepare("SELECT actor, via FROM approvals WHERE actor = 'system:guard'").get();
    expect(approval).toEqual({ actor: "system:guard", via: "config" });
    // Done: later passes send nothing more.
    clock.set(T0 + 10 * MIN);
    expect(await app.guard.evaluate()).toEqual([]);
  });

  it("trailing_stop_bps: the loop keeps the best mark and exits when the mark retraces past the stop", async () => {
    const { app, clock } = await setup();
    const bps = 20;
    const intent = await enter(app, { trailing_stop_bps: bps });
    // Independent walk over the marks the loop sees (the last closed bar's close, one pass a minute).
    const entry = new Decimal(
      realCandles("BTC")
        .filter((c) => c.time + MIN <= T0)
        .at(-1)!.close,
    ).times("1.0001");
    let peak = entry;
    let fireAt = 0;
    for (let t = T0 + MIN; t < T0 + 24 * 60 * MIN; t += MIN) {
      const mark = realCandles("BTC")
        .filter((c) => c.time + MIN <= t)
        .at(-1)!.close;
      peak = Decimal.max(peak, mark);
      if (new Decimal(mark).lte(peak.times(1 - bps / 10_000))) {
        fireAt = t;
        break;
      }
    }
    expect(fireAt).toBeGreaterThan(0);
    for (let t = T0 + MIN; t <= fireAt; t += MIN) {
      clock.set(t);
      const r = await app.guard.evaluate();
      if (t < fireAt) expect(r.every((x) => x.action !== "exit")).toBe(true);
      else expect(r.map((x) => [x.intent_id, x.action])).toEqual([[intent, "exit"]]);
    }
    expect((await app.venues.get("okx:demo").accountState()).positions).toEqual([]);
    const exit = app.db
      .prepare("SELECT status FROM orders WHERE client_order_id = ?")
      .get(`guard:${intent}:trail`);
    expect(exit).toEqual({ status: "filled" });
  });
});
