import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { openDb } from "../../src/store/db.js";
import { call, serveProcess, perTest } from "../helpers/app.js";

const { home, defer } = perTest();
// These tests start real processes (CLI, serve): minutes on a loaded machine, not seconds.
vi.setConfig({ testTimeout: 240_000 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY = 86_400_000;
// The embedded data's first bar shared by all five coins (data/README.md): SOL and DOGE start here.
const FIRST_COMMON = Date.parse("2025-05-25T10:35:00Z");

describe("serve over replay data behaves like a market", () => {
  it("with TW_REPLAY_SPEED=600 the replay clock moves with wall time without the cycle; at the default start every coin has features and backtest_run sees 7 days", async () => {
    const h = home();
    const client = await serveProcess({ TW_HOME: h, TW_MARKET_DATA: "replay", TW_REPLAY_SPEED: "600" });
    defer(() => client.close());

    const first = await call(client, "market_get_ticker", { symbol: "BTC" });
    expect(first.isError).toBe(false);
    // Default start: first common bar + 7 days (speed 600 moves ~10 minutes per wall second).
    expect(first.sc.as_of).toBeGreaterThanOrEqual(FIRST_COMMON + 7 * DAY);
    expect(first.sc.as_of).toBeLessThan(FIRST_COMMON + 7 * DAY + 3_600_000);
    const features = await call(client, "market_get_features", {});
    expect(features.isError, JSON.stringify(features.sc)).toBe(false);
    expect(features.sc.features.map((f: { symbol: string }) => f.symbol)).toEqual([
      "BTC",
      "ETH",
      "SOL",
      "ADA",
      "DOGE",
    ]);

    const bt = await call(client, "backtest_run", {
      strategy: "buy_and_hold",
      symbols: ["BTC"],
      interval: "1m",
    });
    expect(bt.isError, JSON.stringify(bt.sc)).toBe(false);
    expect(bt.sc.bars).toBeGreaterThanOrEqual(7 * 1440);
    expect(bt.sc.last_bar - bt.sc.first_bar).toBeGreaterThanOrEqual(7 * DAY - 60_000);

    await sleep(3000);
    const later = await call(client, "market_get_ticker", { symbol: "BTC" });
    // ≥ 3 s × 600 = 30 replay minutes, less the bar that may still be open.
    expect(later.sc.as_of - first.sc.as_of).toBeGreaterThanOrEqual(25 * 60_000);
    const status = await call(client, "system_get_status");
    expect(status.sc.components.cycle.enabled).toBe(false);
    // One clock: the server's now is the replay clock's.
    expect(Math.abs(status.sc.now - later.sc.as_of)).toBeLessThan(10 * 60_000);
  });

  it("with the cycle enabled, the minute cycle runs on the replay clock: one cycle per replay minute, ids in replay time", async () => {
    const h = home();
    const client = await serveProcess({
      TW_HOME: h,
      TW_MARKET_DATA: "replay",
      TW_REPLAY_SPEED: "600",
      TW_CYCLE_ENABLED: "true",
    });
    defer(() => client.close());
    await sleep(4000);
    const st = await call(client, "portfolio_get_status");
    expect(st.isError).toBe(false);
    expect(st.sc.last_cycle).not.toBeNull();
    expect(st.sc.now - st.sc.last_cycle.ts).toBeLessThan(5 * 60_000);
    await client.close();
    const db = openDb(join(h, "tradewarden.db"));
    defer(() => db.close());
    const ts = (db.prepare("SELECT ts FROM cycles ORDER BY ts").all() as Array<{ ts: number }>).map(
      (r) => r.ts,
    );
    // 4 s at 600× is 40 replay minutes; allow for start-up and skipped ticks on a busy machine.
    expect(ts.length).toBeGreaterThanOrEqual(10);
    expect(ts[0]).toBeGreaterThanOrEqual(FIRST_COMMON + 7 * DAY);
    for (let i = 1; i < ts.length; i++) expect((ts[i] - ts[i - 1]) % 60_000).toBe(0);
  });

  it("a restarted server resumes its replay market where it stopped instead of rewinding below its own fills", async () => {
    const h = home();
    const env = { TW_HOME: h, TW_MARKET_DATA: "replay", TW_REPLAY_SPEED: "600" };
    const first = await serveProcess(env);
    const a = await call(first, "market_get_ticker", { symbol: "ETH" });
    await sleep(2000);
    const b = await call(first, "market_get_ticker", { symbol: "ETH" });
    expect(b.sc.as_of).toBeGreaterThan(a.sc.as_of);
    await first.close();
    // Give the server a moment to record its clock as it shuts down.
    await sleep(500);
    const second = await serveProcess(env);
    defer(() => second.close());
    const c = await call(second, "market_get_ticker", { symbol: "ETH" });
    expect(c.sc.as_of).toBeGreaterThanOrEqual(b.sc.as_of);
    expect(c.sc.as_of).toBeGreaterThan(FIRST_COMMON + 7 * DAY + 10 * 60_000);
  });

  it("STALE_DATA on replay data says how to move TW_REPLAY_START; past the data's end it is not retryable", async () => {
    const after = await serveProcess({
      TW_HOME: home(),
      TW_MARKET_DATA: "replay",
      TW_REPLAY_START: "2025-06-24T12:00:00Z",
    });
    defer(() => after.close());
    const late = await call(after, "market_get_features", { symbol: "BTC" });
    expect(late.sc.code).toBe("STALE_DATA");
    expect(late.sc.retryable).toBe(false);
    expect(late.sc.hint).toContain("TW_REPLAY_START");
    expect(late.sc.details.data_end).toBe(Date.parse("2025-06-24T10:32:00Z"));

    const before = await serveProcess({
      TW_HOME: home(),
      TW_MARKET_DATA: "replay",
      TW_REPLAY_START: String(FIRST_COMMON + 60 * 60_000),
    });
    defer(() => before.close());
    // An hour after the first common bar SOL has 60 closed bars, one short of what features need.
    const early = await call(before, "market_get_features", { symbol: "SOL" });
    expect(early.sc.code).toBe("STALE_DATA");
    expect(early.sc.details.bars).toBe(60);
    expect(early.sc.hint).toContain("TW_REPLAY_START=2025-05-25T11:36:00.000Z");
    // The clock moves by itself, so this one clears with time.
    expect(early.sc.retryable).toBe(true);
  });
});
