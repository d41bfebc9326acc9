import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { HyperliquidSource } from "../../src/exchange/hyperliquid/source.js";
import { fetchToStore, importReplayDir } from "../../src/exchange/ingest.js";
import { MarketService } from "../../src/exchange/service.js";
import { createLogger } from "../../src/log.js";
import { WeightLimiter } from "../../src/policy/ratelimit.js";
import { CandleStore } from "../../src/store/candles.js";
import { openDb } from "../../src/store/db.js";
import { REPLAY_30D } from "../helpers/app.js";
import { type HlFixtureServer, startHlFixtureServer } from "../exchange/hlFixtureServer.js";

let srv: HlFixtureServer;
beforeAll(async () => {
  srv = await startHlFixtureServer();
});
afterAll(async () => {
  await srv.close();
});

describe("candle store", () => {
  it("data import stores every CSV row once; a second import inserts nothing", () => {
    const store = new CandleStore(openDb(":memory:"));
    const r = importReplayDir(store, [REPLAY_30D], "binance");
    const btc = r.series.find((s) => s.symbol === "BTC" && s.interval === "1m");
    expect(btc?.rows).toBe(43199);
    expect(btc?.inserted).toBe(43199);
    const lines = gunzipSync(readFileSync(join(REPLAY_30D, "SOLUSDT_1m.csv.gz")))
      .toString()
      .trim()
      .split("\n");
    const [t, o, h, l, c, v] = lines[100].split(",").map(Number);
    expect(store.getCandles("binance", "SOL", "1m", { start: t, end: t })).toEqual([
      { time: t, open: o, high: h, low: l, close: c, volume: v },
    ]);
    expect(importReplayDir(store, [REPLAY_30D], "binance").series.every((s) => s.inserted === 0)).toBe(true);
    expect(store.series().filter((s) => s.source === "binance")).toHaveLength(5);
  });

  it("a live source's closed candles are cached and a fully cached range is served without a request", async () => {
    const clock = new SimClock(Date.UTC(2023, 6, 17, 21, 43, 24));
    const limiter = new WeightLimiter({ budget: 1200, windowMs: 60_000, clock });
    const log = createLogger("silent");
    const hl = new HyperliquidSource({ apiUrl: srv.url, clock, limiter, maxWaitMs: 0, log });
    const store = new CandleStore(openDb(":memory:"));
    const m = new MarketService(hl, { clock, staleAfterMs: 120_000, universe: ["BTC"], log, store });
    const q = { start: 1684699200000, end: 1684782000000 };
    const first = await m.candles("kPEPE", "1h", q);
    expect(first).toHaveLength(24);
    expect(store.countCandles("hyperliquid", "kPEPE", "1h", q.start, q.end)).toBe(24);
    const n = srv.requests.filter((r) => r.body.type === "candleSnapshot").length;
    expect(await m.candles("kPEPE", "1h", q)).toEqual(first);
    expect(srv.requests.filter((r) => r.body.type === "candleSnapshot").length).toBe(n);
  });

  it("data fetch against an unreachable API fails with EXCHANGE_UNAVAILABLE and stores nothing", async () => {
    const clock = new SimClock(Date.UTC(2023, 6, 17));
    const limiter = new WeightLimiter({ budget: 1200, windowMs: 60_000, clock });
    // Port 9 on 127.0.0.1 (discard) refuses connections: an offline venue without leaving the host.
    const hl = new HyperliquidSource({
      apiUrl: "http://127.0.0.1:9",
      clock,
      limiter,
      maxWaitMs: 0,
      timeoutMs: 500,
      log: createLogger("silent"),
    });
    const store = new CandleStore(openDb(":memory:"));
    await expect(
      fetchToStore(hl, store, { symbols: ["BTC"], interval: "1m", days: 1, now: clock.now() }),
    ).rejects.toMatchObject({ code: "EXCHANGE_UNAVAILABLE", retryable: true });
    expect(store.series()).toEqual([]);
  });
});
