import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { TwError } from "../../src/errors.js";
import { HyperliquidSource } from "../../src/exchange/hyperliquid/source.js";
import { createLogger } from "../../src/log.js";
import { WeightLimiter } from "../../src/policy/ratelimit.js";
import { call, connectClient, DATA, testApp } from "../helpers/app.js";
import { type HlFixtureServer, startHlFixtureServer } from "./hlFixtureServer.js";

const CAS = join(DATA, "fixtures", "hyperliquid", "python_sdk_cassettes_json");
const cassette = (name: string, i: number) =>
  (
    JSON.parse(readFileSync(join(CAS, `${name}.json`), "utf8")) as {
      interactions: Array<{ response: { body: any } }>;
    }
  ).interactions[i].response.body;
/** Recording time of the 2023 cassettes (HTTP Date 2023-07-17 21:43:24 GMT). */
const RECORDED = Date.UTC(2023, 6, 17, 21, 43, 24);

let srv: HlFixtureServer;
let clock: SimClock;
let limiter: WeightLimiter;
let hl: HyperliquidSource;

beforeAll(async () => {
  srv = await startHlFixtureServer();
});
afterAll(async () => {
  await srv.close();
});

function fresh(now = RECORDED): void {
  clock = new SimClock(now);
  limiter = new WeightLimiter({ budget: 1200, windowMs: 60_000, clock });
  hl = new HyperliquidSource({
    apiUrl: srv.url,
    clock,
    limiter,
    maxWaitMs: 0,
    // Long enough for a loaded machine; the timeout test holds its answer past it on purpose.
    timeoutMs: 2_000,
    log: createLogger("silent"),
  });
}

async function codeOf(p: Promise<unknown>): Promise<TwError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TwError);
  return e as TwError;
}

describe("hyperliquid source on recorded responses", () => {
  it("instruments carry szDecimals, maxLeverage and asset index exactly as in meta", async () => {
    fresh();
    const meta = cassette("test_get_info", 0).universe as Array<{
      name: string;
      szDecimals: number;
      maxLeverage: number;
    }>;
    const inst = await hl.instruments();
    expect(inst.map((i) => i.symbol)).toEqual(meta.map((m) => m.name));
    inst.forEach((i, k) => {
      expect(i.sz_decimals).toBe(meta[k].szDecimals);
      expect(i.max_leverage).toBe(meta[k].maxLeverage);
      expect(i.asset_index).toBe(k);
      expect(i.lot_size).toBe(Number(`1e-${meta[k].szDecimals}`));
    });
    // 5 significant figures at the recorded mids: BTC 30135.0 → 1, ETH 1903.95 → 0.1, DOGE 0.069277 → 0.000001.
    const by = new Map(inst.map((i) => [i.symbol, i]));
    expect(by.get("BTC")?.tick_size).toBe(1);
    expect(by.get("ETH")?.tick_size).toBe(0.1);
    expect(by.get("DOGE")?.tick_size).toBe(0.000001);
    // meta (20) + allMids (2), charged to the venue limiter.
    expect(limiter.usedWeight()).toBe(22);
  });

  it("ticker mid is the recorded allMids value; unknown asset-context fields stay null", async () => {
    fresh();
    const t = await hl.ticker("ETH");
    expect(t.mid).toBe(Number(cassette("test_get_all_mids", 0).ETH));
    expect(t.mid).toBe(1903.95);
    expect([t.bid, t.ask, t.mark, t.funding_rate, t.open_interest]).toEqual([null, null, null, null, null]);
  });

  it("l2Book levels parse to the recorded px/sz strings, with time, spread and imbalance", async () => {
    fresh();
    const rec = cassette("test_get_l2_snapshot", 1);
    const b = await hl.orderbook("DYDX", 20);
    expect(b).not.toBeNull();
    const lv = (x: { px: string; sz: string }) => ({ px: Number(x.px), sz: Number(x.sz) });
    expect(b?.bids).toEqual(rec.levels[0].map(lv));
    expect(b?.asks).toEqual(rec.levels[1].map(lv));
    expect(b?.time).toBe(rec.time);
    const bid = Number(rec.levels[0][0].px);
    const ask = Number(rec.levels[1][0].px);
    expect(b?.spread_bps).toBeCloseTo(((ask - bid) / ((ask + bid) / 2)) * 1e4, 10);
    expect(await hl.orderbook("BTC", 20)).toBeNull();
  });

  it("candles parse to the recorded values, also when paged in small answers", async () => {
    fresh();
    const rec = cassette("test_get_candles_snapshot", 1) as Array<Record<string, string | number>>;
    const want = rec.map((c) => ({
      time: Number(c.t),
      open: Number(c.o),
      high: Number(c.h),
      low: Number(c.l),
      close: Number(c.c),
      volume: Number(c.v),
    }));
    const q = { start: want[0].time, end: want[want.length - 1].time };
    expect(await hl.candles("kPEPE", "1h", q)).toEqual(want);
    srv.maxCandles = 5;
    const before = srv.requests.length;
    try {
      expect(await hl.candles("kPEPE", "1h", q)).toEqual(want);
    } finally {
      srv.maxCandles = 5000;
    }
    expect(srv.requests.length - before).toBeGreaterThanOrEqual(5);
  });

  it("BTC 1m candles from the ccxt static recording (string numbers) parse exactly", async () => {
    fresh(Date.UTC(2024, 2, 16, 2));
    const c = await hl.candles("BTC", "1m", { start: 1710552360000, limit: 1 });
    expect(c).toEqual([
      { time: 1710552360000, open: 69584, high: 69610, low: 69474, close: 69483, volume: 6.83271 },
    ]);
  });

  it("funding history parses to the recorded rates and pages past 500 events", async () => {
    fresh();
    const rec = cassette("test_get_funding_history_1684811870000", 1) as Array<{
      time: number;
      fundingRate: string;
    }>;
    const f = await hl.funding("BTC", { start: 1681923833000, end: 1684811870000 });
    expect(f).toEqual(rec.map((p) => ({ time: p.time, rate: Number(p.fundingRate) })));
    const all = await hl.funding("BTC", { start: 1681923833000 });
    expect(all).toHaveLength(1038);
    expect(all[1037].rate).toBe(0.0000125);
  });
});

describe("hyperliquid failures are retryable errors, never crashes or empty successes", () => {
  it("HTTP 429 becomes RATE_LIMITED with retry_after_ms from Retry-After", async () => {
    fresh();
    srv.failNext(1, 429);
    const e = await codeOf(hl.orderbook("DYDX", 5));
    expect(e.code).toBe("RATE_LIMITED");
    expect(e.retryable).toBe(true);
    expect(e.details?.retry_after_ms).toBe(2000);
  });

  it("HTTP 500 becomes EXCHANGE_UNAVAILABLE", async () => {
    fresh();
    srv.failNext(1, 500);
    const e = await codeOf(hl.candles("kPEPE", "1h", { start: 1684699200000, end: 1684782000000 }));
    expect(e.code).toBe("EXCHANGE_UNAVAILABLE");
    expect(e.retryable).toBe(true);
  });

  it("a timeout becomes EXCHANGE_UNAVAILABLE", async () => {
    fresh();
    srv.failNext(1, "timeout");
    const e = await codeOf(hl.funding("BTC", { start: 1681923833000, end: 1684811870000 }));
    expect(e.code).toBe("EXCHANGE_UNAVAILABLE");
  });

  it("a non-JSON answer becomes EXCHANGE_UNAVAILABLE", async () => {
    fresh();
    srv.failNext(1, "garbage");
    expect((await codeOf(hl.instruments())).code).toBe("EXCHANGE_UNAVAILABLE");
  });

  it("an exhausted venue budget refuses with RATE_LIMITED before sending anything", async () => {
    fresh();
    limiter.take(1199);
    const before = srv.requests.length;
    const e = await codeOf(hl.orderbook("DYDX", 5));
    expect(e.code).toBe("RATE_LIMITED");
    expect(srv.requests.length).toBe(before);
  });
});

describe("market tools against the Hyperliquid fixture server", () => {
  it("list instruments, order book, funding and candles through MCP", async () => {
    const { app, cleanup } = await testApp(
      { TW_MARKET_DATA: "hyperliquid", TW_HL_API_URL: srv.url },
      new SimClock(RECORDED),
    );
    try {
      const client = await connectClient(app, "readonly");
      const inst = await call(client, "market_list_instruments", { limit: 500 });
      expect(inst.sc.source).toBe("hyperliquid");
      expect(inst.sc.instruments.find((i: { symbol: string }) => i.symbol === "BTC").sz_decimals).toBe(5);
      const ob = await call(client, "market_get_orderbook", { symbol: "DYDX", depth: 3 });
      expect(ob.sc.bids).toHaveLength(3);
      expect(ob.sc.as_of).toBe(1689630203930);
      const f = await call(client, "market_get_funding", {
        symbol: "BTC",
        start: 1681923833000,
        end: 1684811870000,
      });
      expect(f.sc.funding).toHaveLength(34);
      const c = await call(client, "market_get_candles", {
        symbol: "kPEPE",
        interval: "1h",
        start: 1684699200000,
        end: 1684782000000,
      });
      expect(c.sc.candles).toHaveLength(24);
      const bad = await call(client, "market_get_ticker", { symbol: "ADA" });
      expect(bad.sc.code).toBe("NOT_FOUND");
      expect(bad.sc.details.valid_symbols).toContain("BTC");
      await client.close();
    } finally {
      await cleanup();
    }
  });
});
