import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import type { App } from "../../src/app.js";
import { TwError } from "../../src/errors.js";
import { getControl } from "../../src/store/control.js";
import { recentEvents } from "../../src/store/cycles.js";
import { mirrorPositions } from "../../src/store/mirror.js";
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

describe("reconciler", () => {
  it("a position changed at the venue outside the server is detected, recorded and adopted", async () => {
    const app = await setup();
    const venue = app.venues.get("paper");
    // Give the account a real position through the normal path, then mirror it.
    const { submitThroughGate } = await import("../../src/orders/ops.js");
    const caller = {
      id: "system:test",
      profile: "operator" as const,
      scopes: new Set(["orders:propose", "orders:submit"] as const),
      transport: "system" as const,
    };
    const out = await submitThroughGate(app, caller, {
      venue: "paper",
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
      client_order_id: "rec-test-1",
    });
    expect(out.ok).toBe(true);
    const first = await app.engine.reconciler.reconcile();
    expect(first.ok).toBe(true);
    expect(mirrorPositions(app.db, "paper").get("BTC")?.size).toBe("0.01");

    // Someone changes the position at the venue directly (outside the server's order path).
    // Through another connection, as another process would write (the venue caches what it read).
    const other = new Database(app.db.name);
    other.prepare("UPDATE positions SET size = '0.025' WHERE venue = 'paper' AND symbol = 'BTC'").run();
    other.close();
    expect((await venue.accountState()).positions.find((p) => p.symbol === "BTC")?.size).toBe("0.025");

    const second = await app.engine.reconciler.reconcile();
    expect(second.ok).toBe(true);
    expect(second.diffs).toEqual([{ kind: "position", symbol: "BTC", local: "0.01", venue: "0.025" }]);
    const ev = recentEvents(app.db, 5, "reconcile_diff");
    expect(ev[0].detail).toMatchObject({ kind: "position", symbol: "BTC", local: "0.01", venue: "0.025" });
    // Adopted: the mirror now equals the venue, and the next pass finds nothing.
    expect(mirrorPositions(app.db, "paper").get("BTC")?.size).toBe("0.025");
    expect((await app.engine.reconciler.reconcile()).diffs).toEqual([]);
  });

  it("three consecutive venue failures switch the control mode to HALT with the reason", async () => {
    const app = await setup();
    const venue = app.venues.get("paper");
    const original = venue.accountState.bind(venue);
    venue.accountState = async () => {
      throw new TwError("EXCHANGE_UNAVAILABLE", "venue timed out");
    };
    const r1 = await app.engine.reconciler.reconcile();
    const r2 = await app.engine.reconciler.reconcile();
    expect([r1.ok, r2.ok, r2.halted]).toEqual([false, false, false]);
    expect(getControl(app.db).mode).toBe("NORMAL");
    const r3 = await app.engine.reconciler.reconcile();
    expect(r3.consecutive_failures).toBe(3);
    expect(r3.halted).toBe(true);
    const c = getControl(app.db);
    expect(c.mode).toBe("HALT");
    expect(c.reason).toContain("failed 3 times");
    expect(c.actor).toBe("system:reconciler");
    // A success resets the failure count but never resumes: only an operator does.
    venue.accountState = original;
    const ok = await app.engine.reconciler.reconcile();
    expect(ok.ok).toBe(true);
    expect(getControl(app.db).mode).toBe("HALT");
  });
});
