import Database from "better-sqlite3";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { SimClock } from "../../src/clock.js";
import type { Config } from "../../src/config.js";
import { TwError } from "../../src/errors.js";
import { staleDataMonitor, venueMonitor } from "../../src/alerts/monitors/market.js";
import { submitThroughGate } from "../../src/orders/ops.js";
import { setMeta } from "../../src/store/meta.js";
import { call, connectClient, REPLAY_30D, tempHome } from "../helpers/app.js";
import { countingVenue, orderApp } from "../policy/helpers.js";
import { alertApp } from "./helpers.js";

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(patch: (c: Config) => void = () => {}, env: Record<string, string> = {}) {
  const t = await orderApp(patch, env);
  cleanups.push(t.cleanup);
  return t;
}

function open(app: App, kind?: string) {
  return app.alerts.list({ status: "open", kind, limit: 100 }).alerts;
}
function all(app: App, kind?: string) {
  return app.alerts.list({ status: "all", kind, limit: 100 }).alerts;
}
function pushedEvents(app: App): Array<{ kind: string; phase: string; severity: string }> {
  return app.db
    .prepare(
      "SELECT a.kind, e.phase, a.severity FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE e.push = 1 ORDER BY e.id",
    )
    .all() as Array<{ kind: string; phase: string; severity: string }>;
}

const SYSTEM = {
  id: "system:test",
  profile: "operator" as const,
  scopes: new Set(["orders:propose", "orders:submit"] as const),
  transport: "system" as const,
};

describe("stale_data", () => {
  /** Real 1m bars of BTC and ETH; ETH's bars 120–139 are removed: twenty minutes without data. */
  function gappedReplay(dir: string): number {
    const rows = (coin: string) =>
      gunzipSync(readFileSync(join(REPLAY_30D, `${coin}USDT_1m.csv.gz`)))
        .toString("utf8")
        .split("\n")
        .slice(0, 301);
    const btc = rows("BTC");
    const eth = rows("ETH");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "BTCUSDT_1m.csv"), `${btc.join("\n")}\n`);
    writeFileSync(
      join(dir, "ETHUSDT_1m.csv"),
      `${[eth[0], ...eth.slice(1, 121), ...eth.slice(141)].join("\n")}\n`,
    );
    return Number(btc[1].split(",")[0]);
  }

  it("a replay coin whose data stops raises stale_data and resolves it when its data returns", async () => {
    const h = tempHome();
    cleanups.push(h.cleanup);
    const dir = join(h.home, "gapped");
    const first = gappedReplay(dir);
    const bar = (i: number) => first + i * 60_000; // open time of bar i; it closes at bar(i + 1)
    const clock = new SimClock(bar(111));
    const t = await alertApp({ env: { TW_MARKET_DATA: `replay:${dir}`, TW_UNIVERSE: "BTC,ETH" }, clock });
    cleanups.push(t.cleanup);
    const app = t.app;

    await app.alerting.runner.runConditions();
    expect(open(app, "stale_data")).toEqual([]);

    // Bar 131 open: ETH's last bar is 119 (closed at bar 120), 11 minutes ago; limit 2 minutes.
    clock.set(bar(131));
    await app.alerting.runner.runConditions();
    const [stale] = open(app, "stale_data");
    expect(stale).toMatchObject({
      kind: "stale_data",
      severity: "warning",
      dedupe_key: "stale_data:ETH",
      details: { symbol: "ETH", as_of: bar(120), age_ms: 11 * 60_000, stale_after_ms: 120_000 },
    });
    expect(stale.message).toContain("ETH data from replay:");
    expect(stale.message).toContain("11m 0s old");

    // Still gapped a few minutes later: the same alert, one more occurrence, nothing new to push.
    clock.set(bar(135));
    await app.alerting.runner.runConditions();
    expect(open(app, "stale_data")).toMatchObject([{ alert_id: stale.alert_id, occurrences: 2 }]);

    // Bar 141 closes at 142: ETH is back.
    clock.set(bar(142));
    await app.alerting.runner.runConditions();
    expect(open(app, "stale_data")).toEqual([]);
    const [done] = all(app, "stale_data");
    expect(done).toMatchObject({
      alert_id: stale.alert_id,
      resolution: "condition cleared",
      resolved_at: bar(142),
    });
    expect(pushedEvents(app)).toEqual([
      { kind: "stale_data", phase: "raised", severity: "warning" },
      { kind: "stale_data", phase: "resolved", severity: "warning" },
    ]);
  });
});

describe("mode_change and drawdown", () => {
  it("every mode change becomes an alert with who and why: halt (critical), reduce-only (warning), resume (info notice)", async () => {
    const { app } = await setup();
    const agent = await connectClient(app, "agent");
    const operator = await connectClient(app, "operator");
    app.alerting.runner.pollEvents(); // first run: NORMAL, nothing to report
    expect(all(app)).toEqual([]);

    await call(agent, "control_halt", { reason: "spread blew out" });
    app.alerting.runner.pollEvents();
    const [halt] = open(app, "mode_change");
    expect(halt).toMatchObject({
      severity: "critical",
      details: { mode: "HALT", previous_mode: "NORMAL", actor: "memory:agent", reason: "spread blew out" },
    });
    expect(halt.message).toBe("Trading HALTED (was NORMAL) by memory:agent: spread blew out");

    // Polling again (or from a second process) adds nothing: the cursor moved with the alert.
    app.alerting.runner.pollEvents();
    expect(all(app)).toHaveLength(1);

    await call(operator, "control_reduce_only", { reason: "let it close" });
    await call(operator, "control_resume", { reason: "all clear" });
    app.alerting.runner.pollEvents();
    expect(open(app, "mode_change")).toEqual([]);
    const history = all(app, "mode_change").reverse();
    expect(history.map((a) => [a.severity, a.details.mode, a.notice])).toEqual([
      ["critical", "HALT", false],
      ["warning", "REDUCE_ONLY", false],
      ["info", "NORMAL", true],
    ]);
    expect(history[2].message).toBe("Trading resumed (REDUCE_ONLY → NORMAL) by memory:operator: all clear");
    // Superseded alerts close silently: channels hear three things, not five.
    expect(pushedEvents(app).map((e) => `${e.kind}:${e.phase}:${e.severity}`)).toEqual([
      "mode_change:raised:critical",
      "mode_change:raised:warning",
      "mode_change:raised:info",
    ]);
    // The agent's own halt is not a risk breaker.
    expect(all(app, "drawdown")).toEqual([]);
  });

  it("the drawdown breaker tripping in a cycle raises drawdown and mode_change; resume closes both", async () => {
    const { app, clock } = await setup();
    const operator = await connectClient(app, "operator");
    app.alerting.runner.pollEvents();
    // Peak equity 110k against 100k now: a 9.09% drawdown, over the 3% HALT threshold.
    setMeta(app.db, "engine.peak_equity", 110_000);
    await app.engine.cycle.run(Math.floor(clock.now() / 60_000) * 60_000);
    app.alerting.runner.pollEvents();
    const [dd] = open(app, "drawdown");
    expect(dd).toMatchObject({ severity: "critical", details: { mode: "HALT", breaker: "system:drawdown" } });
    expect(dd.message).toContain("drawdown 9.09% ≥ 3.00%");
    expect(dd.details.event).toMatchObject({ to: "HALT" });
    expect(open(app, "mode_change")).toMatchObject([
      { severity: "critical", details: { actor: "system:drawdown" } },
    ]);

    await call(operator, "control_resume", { reason: "reviewed the loss" });
    app.alerting.runner.pollEvents();
    expect(open(app)).toEqual([]);
    expect(all(app, "drawdown")[0].resolution).toBe("trading resumed by memory:operator: reviewed the loss");
  });

  it("a server started while halted reports the halt once", async () => {
    const { app } = await setup();
    const agent = await connectClient(app, "agent");
    await call(agent, "control_halt", { reason: "before alerts ran" });
    await call(agent, "control_halt", { reason: "and again" });
    app.alerting.runner.pollEvents();
    expect(all(app, "mode_change")).toMatchObject([
      { severity: "critical", details: { reason: "before alerts ran" } },
    ]);
  });

  it("a reconciler halt raises mode_change and a critical reconcile_failed, but no drawdown", async () => {
    const { app } = await setup();
    app.alerting.runner.pollEvents();
    const venue = app.venues.get("paper");
    venue.accountState = async () => {
      throw new TwError("EXCHANGE_UNAVAILABLE", "venue timed out");
    };
    await app.engine.reconciler.reconcile();
    await app.alerting.runner.runOnce();
    expect(open(app, "reconcile_failed")).toMatchObject([{ severity: "warning" }]);
    await app.engine.reconciler.reconcile();
    await app.engine.reconciler.reconcile();
    await app.alerting.runner.runOnce();
    // Escalated: the warning closed silently, a critical one opened and was pushed.
    expect(open(app, "reconcile_failed")).toMatchObject([
      { severity: "critical", details: { consecutive_failures: 3, last_error: "venue timed out" } },
    ]);
    expect(open(app, "mode_change")).toMatchObject([
      { severity: "critical", details: { actor: "system:reconciler" } },
    ]);
    expect(all(app, "drawdown")).toEqual([]);
    expect(
      pushedEvents(app)
        .filter((e) => e.kind === "reconcile_failed")
        .map((e) => e.severity),
    ).toEqual(["warning", "critical"]);
  });
});

describe("condition monitors", () => {
  it("approval_pending after N minutes names the operator command; a decision resolves it (approval notices on by default)", async () => {
    const { app, clock } = await setup((c) => {
      c.alerts.approvalPendingMinutes = 5;
    });
    const agent = await connectClient(app, "agent");
    const operator = await connectClient(app, "operator");
    app.alerting.runner.pollEvents();
    const p = await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.3 });
    expect(p.sc.approval_needed).toBe(true);
    await app.alerting.runner.runOnce();
    expect(open(app, "approval_pending")).toEqual([]);
    expect(all(app, "approval_requested")).toMatchObject([
      { severity: "info", notice: true, details: { intent_id: p.sc.intent_id } },
    ]);

    clock.advance(5 * 60_000 + 1_000);
    await app.alerting.runner.runOnce();
    const [pending] = open(app, "approval_pending");
    expect(pending.message).toContain(`tradewarden approve ${p.sc.intent_id}`);
    expect(pending.details).toMatchObject({
      intent_id: p.sc.intent_id,
      caller: "memory:agent",
      waiting_ms: 301_000,
    });

    await call(operator, "order_approve", { intent_id: p.sc.intent_id, reason: "fine" });
    await app.alerting.runner.runOnce();
    expect(open(app, "approval_pending")).toEqual([]);
    expect(all(app, "approval_decided")[0].message).toContain("approved by memory:operator via tool: fine");
  });

  it("rejection_rate when risk refusals in the last hour reach the threshold; it clears an hour later", async () => {
    const { app, clock } = await setup((c) => {
      c.alerts.rejectionsPerHour = 3;
    });
    const agent = await connectClient(app, "agent");
    for (let i = 0; i < 3; i++) {
      // 1 BTC ≈ 107k quote: over the 50k max order notional.
      const r = await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 1 });
      expect(r.sc.code).toBe("RISK_REJECTED");
      if (i < 2) {
        await app.alerting.runner.runConditions();
        expect(open(app, "rejection_rate")).toEqual([]);
      }
    }
    await app.alerting.runner.runConditions();
    expect(open(app, "rejection_rate")).toMatchObject([
      { details: { refusals_last_hour: 3, by_caller: [{ caller: "memory:agent", n: 3 }] } },
    ]);
    clock.advance(3_600_001);
    await app.alerting.runner.runConditions();
    expect(open(app, "rejection_rate")).toEqual([]);
  });

  it("order_unknown while an order's outcome is ambiguous, resolved once it is settled by order status", async () => {
    const { app } = await setup();
    const agent = await connectClient(app, "agent");
    const v = countingVenue(app.venues.get("paper"));
    v.hold = { deliver: true };
    app.venues.register(v);
    app.orders.timeoutMs = 50;
    const p = await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.02 });
    const s = await call(agent, "order_submit", { intent_id: p.sc.intent_id });
    expect(s.sc.status).toBe("unknown");
    await app.alerting.runner.runConditions();
    expect(open(app, "order_unknown")).toMatchObject([
      { details: { order_id: s.sc.order_id, symbol: "BTC" } },
    ]);
    await call(agent, "order_get", { order_id: s.sc.order_id });
    await app.alerting.runner.runConditions();
    expect(open(app, "order_unknown")).toEqual([]);
  });

  it("venue_unavailable after consecutive EXCHANGE_UNAVAILABLE calls to a venue; one success resolves it", async () => {
    const { app } = await setup((c) => {
      c.alerts.venueFailures = 3;
    });
    const agent = await connectClient(app, "agent");
    const venue = app.venues.get("paper");
    const original = venue.accountState.bind(venue);
    venue.accountState = async () => {
      throw new TwError("EXCHANGE_UNAVAILABLE", "connection reset");
    };
    for (let i = 0; i < 2; i++) await call(agent, "account_get_state", { venue: "paper" });
    // A refusal that never reached the venue says nothing about it.
    const bad = await call(agent, "order_propose", {
      venue: "paper",
      symbol: "NOPE",
      side: "buy",
      type: "market",
      size: 1,
    });
    expect(bad.sc.code).toBe("NOT_FOUND");
    await app.alerting.runner.runConditions();
    expect(open(app, "venue_unavailable")).toEqual([]);
    await call(agent, "account_get_state", { venue: "paper" });
    await app.alerting.runner.runConditions();
    expect(open(app, "venue_unavailable")).toMatchObject([
      { severity: "critical", dedupe_key: "venue_unavailable:paper", details: { consecutive_failures: 3 } },
    ]);
    venue.accountState = original;
    expect((await call(agent, "account_get_state", { venue: "paper" })).isError).toBe(false);
    await app.alerting.runner.runConditions();
    expect(open(app, "venue_unavailable")).toEqual([]);
  });

  it("cycle_lag when the enabled cycle misses a whole tick; the next cycle resolves it", async () => {
    const { app, clock } = await setup((c) => {
      c.cycle.enabled = true;
    });
    await app.alerting.runner.runConditions();
    expect(open(app, "cycle_lag")).toEqual([]);
    clock.advance(2 * 60_000 + 1_000);
    await app.alerting.runner.runConditions();
    expect(open(app, "cycle_lag")).toMatchObject([
      { severity: "warning", details: { last_tick: null, tick_ms: 60_000 } },
    ]);
    // reconcile_lag needs 3 intervals of 10 s without a successful pass: also open.
    expect(open(app, "reconcile_lag")).toHaveLength(1);
    await app.engine.tick(Math.floor(clock.now() / 60_000) * 60_000);
    // The cycle's TWAP slices moved the simulated clock 40 s on; the next reconcile pass is due.
    await app.engine.reconciler.reconcile();
    await app.alerting.runner.runConditions();
    expect(open(app, "cycle_lag")).toEqual([]);
    expect(open(app, "reconcile_lag")).toEqual([]);
  });
});

describe("event monitors", () => {
  it("position_divergence when a reconcile finds a position change our own fills do not explain", async () => {
    const { app } = await setup();
    app.alerting.runner.pollEvents();
    const out = await submitThroughGate(app, SYSTEM, {
      venue: "paper",
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
      client_order_id: "div-1",
    });
    expect(out.ok).toBe(true);
    await app.engine.reconciler.reconcile();
    app.alerting.runner.pollEvents();
    expect(all(app, "position_divergence")).toEqual([]);
    // Through another connection, as another process would write (the venue caches what it read).
    const other = new Database(app.db.name);
    other.prepare("UPDATE positions SET size = '0.025' WHERE venue = 'paper' AND symbol = 'BTC'").run();
    other.close();
    await app.engine.reconciler.reconcile();
    app.alerting.runner.pollEvents();
    expect(all(app, "position_divergence")).toMatchObject([
      {
        severity: "warning",
        notice: true,
        details: {
          venue: "paper",
          symbol: "BTC",
          local_size: "0.01",
          venue_size: "0.025",
          unexplained: "0.015",
        },
      },
    ]);
  });

  it("fill notices when enabled, none when not", async () => {
    for (const fills of [true, false]) {
      const { app } = await setup((c) => {
        c.alerts.lifecycle.fills = fills;
      });
      app.alerting.runner.pollEvents();
      await submitThroughGate(app, SYSTEM, {
        venue: "paper",
        symbol: "ETH",
        side: "sell",
        type: "market",
        size: 0.5,
        client_order_id: `fill-${fills}`,
      });
      app.alerting.runner.pollEvents();
      const notices = all(app, "fill");
      if (!fills) {
        expect(notices).toEqual([]);
        continue;
      }
      expect(notices).toHaveLength(1);
      expect(notices[0].message).toMatch(/^Filled: SELL 0\.5 ETH on paper @ [0-9.]+ \(order /);
      expect(notices[0].details).toMatchObject({ client_order_id: `fill-${fills}`, filled_size: "0.5" });
    }
  });
});

describe("market-data source health", () => {
  it("a pass in which every coin's probe found the source unreachable is one failure; three make venue_unavailable, a pass that reaches it resolves it", async () => {
    const { app, clock } = await setup((c) => {
      c.alerts.venueFailures = 3;
    });
    let down = true;
    let probes = 0;
    const market = {
      id: "hyperliquid",
      clock,
      orderbook: async () => {
        probes++;
        if (down) throw new TwError("EXCHANGE_UNAVAILABLE", "Hyperliquid did not answer (ECONNREFUSED)");
        return { time: clock.now() - 1_000 };
      },
      ticker: async () => ({ time: clock.now() }),
    };
    const monitor = staleDataMonitor({
      market,
      universe: ["BTC", "ETH", "SOL"],
      staleAfterMs: 120_000,
      health: app.alerting.health,
    });
    const venue = venueMonitor({ health: app.alerting.health, threshold: 3, clock });
    const pass = async () => {
      app.alerts.sync(monitor.kinds, await monitor.check());
      app.alerts.sync(venue.kinds, await venue.check());
    };
    await pass();
    await pass();
    expect(probes).toBe(6);
    expect(open(app, "venue_unavailable")).toEqual([]);
    // Never reached: no data at all is stale data.
    expect(
      open(app, "stale_data")
        .map((a) => a.dedupe_key)
        .sort(),
    ).toEqual(["stale_data:BTC", "stale_data:ETH", "stale_data:SOL"]);
    await pass();
    expect(open(app, "venue_unavailable")).toMatchObject([
      {
        dedupe_key: "venue_unavailable:hyperliquid",
        details: { consecutive_failures: 3, last_error: "Hyperliquid did not answer (ECONNREFUSED)" },
      },
    ]);
    down = false;
    await pass();
    expect(open(app, "venue_unavailable")).toEqual([]);
    expect(open(app, "stale_data")).toEqual([]);
  });
});
