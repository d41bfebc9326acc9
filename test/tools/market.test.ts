import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { SimClock } from "../../src/clock.js";
import { call, connectClient, REPLAY_30D, testApp } from "../helpers/app.js";

/** Rows of a CSV.gz read the plain way (independent of the code under test). */
function csvRows(file: string): number[][] {
  const lines = gunzipSync(readFileSync(file)).toString("utf8").trim().split("\n").slice(1);
  return lines.map((l) => l.split(",").map(Number));
}

const COINS = ["BTC", "ETH", "SOL", "ADA", "DOGE"];
const T = Date.UTC(2025, 5, 10, 12, 0, 0); // 2025-06-10 12:00 UTC, inside the 30-day window
const rows: Record<string, number[][]> = {};

let app: App;
let client: Client;
let clock: SimClock;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  for (const c of COINS) rows[c] = csvRows(join(REPLAY_30D, `${c}USDT_1m.csv.gz`));
  clock = new SimClock(T);
  ({ app, cleanup } = await testApp({ TW_MARKET_DATA: `replay:${REPLAY_30D}` }, clock));
  client = await connectClient(app, "readonly");
});
afterAll(async () => {
  await client.close();
  await cleanup();
});

describe("market tools on the 30-day replay", () => {
  it("market_get_candles returns exactly the CSV rows of a window", async () => {
    const start = T - 30 * 60_000;
    const end = T - 10 * 60_000;
    const r = await call(client, "market_get_candles", {
      symbol: "ETH",
      interval: "1m",
      start,
      end,
      limit: 1000,
    });
    expect(r.isError).toBe(false);
    const want = rows.ETH.filter((x) => x[0] >= start && x[0] <= end).map(
      ([time, open, high, low, close, volume]) => ({
        time,
        open,
        high,
        low,
        close,
        volume,
      }),
    );
    expect(want).toHaveLength(21);
    expect(r.sc.candles).toEqual(want);
    expect(r.sc.source).toBe(`replay:${REPLAY_30D}`);
    expect(r.sc.as_of).toBe(end + 60_000);
  });

  it("with the clock at T nothing later than T is visible (1m, 5m file, aggregated 1h, ticker)", async () => {
    const latest = await call(client, "market_get_candles", {
      symbol: "BTC",
      end: T + 86_400_000,
      limit: 1000,
    });
    const last = latest.sc.candles.at(-1);
    expect(last.time).toBe(T - 60_000);
    expect(last.close).toBe(rows.BTC.find((x) => x[0] === T - 60_000)?.[4]);
    expect(latest.sc.stale).toBe(false);
    for (const [iv, ms] of [
      ["5m", 300_000],
      ["1h", 3_600_000],
    ] as const) {
      const r = await call(client, "market_get_candles", { symbol: "SOL", interval: iv, limit: 50 });
      expect(r.sc.candles.length).toBe(50);
      for (const c of r.sc.candles) expect(c.time + ms).toBeLessThanOrEqual(T);
      expect(r.sc.candles.at(-1).time).toBe(T - ms);
    }
    const tk = await call(client, "market_get_ticker", { symbol: "DOGE" });
    expect(tk.sc.time).toBe(T);
    expect(tk.sc.mid).toBe(rows.DOGE.find((x) => x[0] === T - 60_000)?.[4]);
    clock.advance(60_000);
    const after = await call(client, "market_get_candles", { symbol: "BTC", limit: 1 });
    expect(after.sc.candles[0].time).toBe(T);
  });

  it("features at T match a straightforward recomputation from the CSV", async () => {
    const now = clock.now();
    const r = await call(client, "market_get_features", { symbol: "BTC" });
    expect(r.isError).toBe(false);
    const closes = rows.BTC.filter((x) => x[0] + 60_000 <= now).map((x) => x[4]);
    const c = closes.slice(-61);
    const lr = c.slice(1).map((v, i) => Math.log(v / c[i]));
    const mean = lr.reduce((a, b) => a + b, 0) / lr.length;
    const vol = Math.sqrt(lr.reduce((a, b) => a + (b - mean) ** 2, 0) / (lr.length - 1));
    const f = r.sc.features[0];
    expect(f.mid).toBe(c[60]);
    expect(f.ret_1m).toBeCloseTo(c[60] / c[59] - 1, 14);
    expect(f.ret_5m).toBeCloseTo(c[60] / c[55] - 1, 14);
    expect(f.ret_1h).toBeCloseTo(c[60] / c[0] - 1, 14);
    expect(f.vol_1h).toBeCloseTo(vol, 14);
    expect(f.spread_bps).toBeNull();
    expect(r.sc.as_of).toBe(now);
  });

  it("features for the whole universe cover all five coins", async () => {
    const r = await call(client, "market_get_features");
    expect(r.sc.features.map((f: { symbol: string }) => f.symbol)).toEqual(COINS);
  });

  it("summary ranks the five coins consistently with their returns", async () => {
    const now = clock.now();
    const r = await call(client, "market_get_summary", { lookback_minutes: 1440 });
    expect(r.isError).toBe(false);
    const ret: Record<string, number> = {};
    for (const c of COINS) {
      const lastRow = rows[c].filter((x) => x[0] + 60_000 <= now).at(-1) as number[];
      const pastRow = rows[c].find((x) => x[0] === lastRow[0] - 1440 * 60_000) as number[];
      ret[c] = lastRow[4] / pastRow[4] - 1;
    }
    const order = [...COINS].sort((a, b) => ret[b] - ret[a]);
    expect(r.sc.ranked.map((x: { symbol: string }) => x.symbol)).toEqual(order);
    for (const x of r.sc.ranked) expect(x.return).toBeCloseTo(ret[x.symbol], 12);
    expect(r.sc.strongest).toBe(order[0]);
    expect(r.sc.weakest).toBe(order[4]);
    expect(r.sc.advancers).toBe(COINS.filter((c) => ret[c] > 0).length);
    expect(r.sc.decliners).toBe(COINS.filter((c) => ret[c] < 0).length);
  });

  it("market_compare reports each return and a symmetric correlation matrix with unit diagonal", async () => {
    const r = await call(client, "market_compare", {
      symbols: ["BTC", "ETH", "SOL"],
      lookback_minutes: 1440,
      interval: "1h",
    });
    expect(r.isError).toBe(false);
    expect(r.sc.benchmark).toBe("BTC");
    expect(r.sc.rows[0].relative_strength).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(r.sc.correlation[i][i]).toBeCloseTo(1, 12);
      for (let j = 0; j < 3; j++) expect(r.sc.correlation[i][j]).toBeCloseTo(r.sc.correlation[j][i], 12);
    }
    expect(r.sc.correlation[0][1]).toBeGreaterThan(0);
  });

  it("an unknown symbol is NOT_FOUND with the list of valid symbols", async () => {
    const r = await call(client, "market_get_ticker", { symbol: "XRP" });
    expect(r.isError).toBe(true);
    expect(r.sc.code).toBe("NOT_FOUND");
    expect(r.sc.details.valid_symbols).toEqual(["ADA", "BTC", "DOGE", "ETH", "SOL"]);
  });

  it("replay has no order book: market_get_orderbook is NOT_FOUND, not an empty book", async () => {
    const r = await call(client, "market_get_orderbook", { symbol: "BTC" });
    expect(r.isError).toBe(true);
    expect(r.sc.code).toBe("NOT_FOUND");
  });

  it("candle pages chain through next_cursor without gaps or overlaps", async () => {
    const start = T - 100 * 60_000;
    const p1 = await call(client, "market_get_candles", { symbol: "ADA", start, end: T - 60_000, limit: 60 });
    expect(p1.sc.truncated).toBe(true);
    const p2 = await call(client, "market_get_candles", {
      symbol: "ADA",
      cursor: p1.sc.next_cursor,
      limit: 60,
    });
    expect(p2.sc.truncated).toBe(false);
    const times = [...p1.sc.candles, ...p2.sc.candles].map((c: { time: number }) => c.time);
    expect(times).toEqual(Array.from({ length: 100 }, (_, i) => start + i * 60_000));
  });

  it("market_get_features refuses with STALE_DATA once the clock is past the data, not retryable, saying how to move the start", async () => {
    clock.set(Date.UTC(2025, 5, 26));
    const r = await call(client, "market_get_features", { symbol: "ETH" });
    expect(r.isError).toBe(true);
    expect(r.sc.code).toBe("STALE_DATA");
    // Waiting never brings data past the end of the files back.
    expect(r.sc.retryable).toBe(false);
    expect(r.sc.hint).toContain("TW_REPLAY_START");
    expect(r.sc.details.data_end).toBe(Date.UTC(2025, 5, 24, 10, 32));
    const c = await call(client, "market_get_candles", { symbol: "ETH", limit: 1 });
    expect(c.sc.stale).toBe(true);
  });
});

describe("market_get_funding says when a source has no funding", () => {
  it("on replay candles without funding files the empty list carries a note naming the symbol and the fix", async () => {
    const r = await call(client, "market_get_funding", { symbol: "sol" });
    expect(r.isError).toBe(false);
    expect(r.sc.funding).toEqual([]);
    expect(r.sc.note).toContain("no funding data for SOL");
    expect(r.sc.note).toContain("--funding DIR");
  });

  it("with funding files there is no note, and a window without events says so", async () => {
    const t = await testApp({ TW_MARKET_DATA: "replay" }, new SimClock(T));
    try {
      const c = await connectClient(t.app, "readonly");
      const ok = await call(c, "market_get_funding", { symbol: "SOL", limit: 3 });
      expect(ok.sc.funding).toHaveLength(3);
      expect(ok.sc.note).toBeUndefined();
      const none = await call(c, "market_get_funding", {
        symbol: "SOL",
        start: T - 3_600_000,
        end: T - 60_000,
      });
      expect(none.sc.funding).toEqual([]);
      expect(none.sc.note).toBe("No funding events in the requested range.");
    } finally {
      await t.cleanup();
    }
  });
});
