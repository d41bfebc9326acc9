import { afterEach, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import type { AlertInput } from "../../src/alerts/types.js";
import { controlMonitor } from "../../src/alerts/monitors/control.js";
import { setControl } from "../../src/store/control.js";
import { alertApp } from "./helpers.js";

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const T = Date.UTC(2025, 4, 26, 0, 0, 0);

async function setup(cooldownMs = 600_000) {
  const clock = new SimClock(T);
  const t = await alertApp({ config: { alerts: { cooldownMs } }, env: { TW_MARKET_DATA: "replay" }, clock });
  cleanups.push(t.cleanup);
  return { ...t, clock };
}

const STALE: AlertInput = {
  kind: "stale_data",
  severity: "warning",
  key: "stale_data:BTC",
  message: "BTC stale",
  details: { symbol: "BTC" },
};

function events(db: import("../../src/store/db.js").Db) {
  return db.prepare("SELECT alert_id, phase, push FROM alert_events ORDER BY id").all() as Array<{
    alert_id: number;
    phase: string;
    push: number;
  }>;
}

describe("alert store", () => {
  it("raising an open key again counts an occurrence: one alert, one pushed event", async () => {
    const { app, clock } = await setup();
    const a = app.alerts.raise(STALE);
    clock.advance(15_000);
    const b = app.alerts.raise({ ...STALE, message: "BTC still stale" });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.alert).toMatchObject({
      alert_id: a.alert.alert_id,
      occurrences: 2,
      message: "BTC still stale",
      raised_at: T,
      last_seen_at: T + 15_000,
    });
    expect(events(app.db)).toEqual([{ alert_id: a.alert.alert_id, phase: "raised", push: 1 }]);
  });

  it("a condition that flaps within the cooldown is stored (muted) but pushed once; after the cooldown it is pushed again", async () => {
    const { app, clock } = await setup(600_000);
    const first = app.alerts.raise(STALE).alert;
    clock.advance(30_000);
    app.alerts.resolve(STALE.key, "condition cleared");
    clock.advance(30_000);
    const second = app.alerts.raise(STALE).alert;
    expect(second.alert_id).not.toBe(first.alert_id);
    expect(second.muted).toBe("cooldown");
    clock.advance(30_000);
    app.alerts.resolve(STALE.key, "condition cleared");
    clock.advance(600_000);
    const third = app.alerts.raise(STALE).alert;
    expect(third.muted).toBeNull();
    expect(events(app.db)).toEqual([
      { alert_id: first.alert_id, phase: "raised", push: 1 },
      { alert_id: first.alert_id, phase: "resolved", push: 1 },
      { alert_id: second.alert_id, phase: "raised", push: 0 },
      { alert_id: second.alert_id, phase: "resolved", push: 0 },
      { alert_id: third.alert_id, phase: "raised", push: 1 },
    ]);
  });

  it("an escalation to a higher severity opens a new pushed alert even within the cooldown; a lower one only counts", async () => {
    const { app } = await setup();
    const w = app.alerts.raise(STALE).alert;
    const c = app.alerts.raise({ ...STALE, severity: "critical", message: "BTC very stale" }).alert;
    const again = app.alerts.raise(STALE);
    expect(c.alert_id).not.toBe(w.alert_id);
    expect(c).toMatchObject({ severity: "critical", muted: null });
    expect(again).toMatchObject({
      created: false,
      alert: { alert_id: c.alert_id, severity: "critical", occurrences: 2 },
    });
    const old = app.alerts.list({ status: "resolved", limit: 10 }).alerts;
    expect(old).toMatchObject([{ alert_id: w.alert_id, resolution: "escalated to critical" }]);
    expect(events(app.db).map((e) => `${e.alert_id}:${e.phase}:${e.push}`)).toEqual([
      `${w.alert_id}:raised:1`,
      `${w.alert_id}:resolved:0`,
      `${c.alert_id}:raised:1`,
    ]);
  });

  it("a cause (source) is recorded once, also by a second process on the same home", async () => {
    const { app, reopen } = await setup();
    const other = await reopen(new SimClock(T));
    const input = { ...STALE, kind: "mode_change" as const, key: "mode_change", source: "control_state:7" };
    expect(app.alerts.raise(input).created).toBe(true);
    app.alerts.resolve("mode_change", "test");
    expect(other.alerts.raise(input).created).toBe(false);
    expect(other.alerts.notice({ ...input, key: "x" })).toBeUndefined();
    expect(app.alerts.list({ status: "all", limit: 10 }).alerts).toHaveLength(1);
  });

  it("two processes following the control history raise one alert per change", async () => {
    const { app, reopen } = await setup();
    const other = await reopen(new SimClock(T));
    const a = controlMonitor(app.db, app.alerts);
    const b = controlMonitor(other.db, other.alerts);
    a.poll();
    b.poll();
    setControl(app.db, "HALT", "kill switch", "token:ops", T);
    setControl(other.db, "REDUCE_ONLY", "only closes", "token:ops", T + 1);
    b.poll();
    a.poll();
    b.poll();
    const all = app.alerts.list({ status: "all", limit: 10 }).alerts;
    expect(all.map((x) => x.details.mode).reverse()).toEqual(["HALT", "REDUCE_ONLY"]);
  });

  it("acknowledging keeps the first acknowledgement; an unknown id is NOT_FOUND", async () => {
    const { app, clock } = await setup();
    const a = app.alerts.raise(STALE).alert;
    const first = app.alerts.ack(a.alert_id, "token:ops", "looking");
    clock.advance(1_000);
    const second = app.alerts.ack(a.alert_id, "token:other", "me too");
    expect(first.already).toBe(false);
    expect(second.already).toBe(true);
    expect(second.alert).toMatchObject({
      acknowledged_at: T,
      acknowledged_by: "token:ops",
      ack_note: "looking",
    });
    expect(() => app.alerts.ack(999, "token:ops", null)).toThrow(/No alert 999/);
  });

  it("sync raises what fires and resolves only its own kinds' alerts that stopped firing", async () => {
    const { app } = await setup();
    app.alerts.raise({ ...STALE, kind: "order_unknown", key: "order_unknown:o1" });
    app.alerts.sync(["stale_data"], [STALE, { ...STALE, key: "stale_data:ETH" }]);
    expect(app.alerts.openCounts()).toEqual(
      expect.arrayContaining([
        { kind: "stale_data", severity: "warning", n: 2 },
        { kind: "order_unknown", severity: "warning", n: 1 },
      ]),
    );
    const r = app.alerts.sync(["stale_data"], [{ ...STALE, key: "stale_data:ETH" }]);
    expect(r).toEqual({ raised: 0, resolved: 1 });
    const open = app.alerts.list({ status: "open", limit: 10 }).alerts.map((a) => a.dedupe_key);
    expect(open.sort()).toEqual(["order_unknown:o1", "stale_data:ETH"]);
  });
});
