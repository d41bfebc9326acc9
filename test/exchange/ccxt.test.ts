import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { CcxtSource, ccxtInstance } from "../../src/exchange/ccxt/source.js";
import { createLogger } from "../../src/log.js";
import { WeightLimiter } from "../../src/policy/ratelimit.js";
import { REPLAY_30D, DATA } from "../helpers/app.js";

/**
 * A local OKX v5 REST server: instruments are the REAL recorded SWAP listing (cryptofeed, 2022-05-13);
 * candles are the real Binance BTCUSDT 1m rows of the 30-day set re-encoded in OKX's candle format
 * (no OKX candle recording exists), so prices are real and the test checks parsing and paging.
 */
const INSTRUMENTS = readFileSync(
  join(DATA, "fixtures", "okx", "okx_v5_public_instruments_SWAP_2022-05-13.json"),
  "utf8",
);
const BTC = gunzipSync(readFileSync(join(REPLAY_30D, "BTCUSDT_1m.csv.gz")))
  .toString()
  .trim()
  .split("\n")
  .slice(1)
  .map((l) => l.split(","));

let server: Server;
let url: string;
let mode: "ok" | "500" | "429" = "ok";
const paths: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    paths.push(u.pathname);
    const json = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body);
    };
    if (mode === "500") return json(500, "oops");
    if (mode === "429") return json(429, JSON.stringify({ code: "50011", msg: "Too Many Requests" }));
    if (u.pathname === "/api/v5/public/instruments") {
      return u.searchParams.get("instType") === "SWAP"
        ? json(200, INSTRUMENTS)
        : json(200, '{"code":"0","data":[]}');
    }
    if (u.pathname === "/api/v5/market/candles" || u.pathname === "/api/v5/market/history-candles") {
      const before = Number(u.searchParams.get("before") ?? -1);
      const after = Number(u.searchParams.get("after") ?? Number.MAX_SAFE_INTEGER);
      const limit = Number(u.searchParams.get("limit") ?? 100);
      const rows = BTC.filter((r) => Number(r[0]) > before && Number(r[0]) < after)
        .reverse()
        .slice(0, limit)
        .map(([t, o, h, l, c, v]) => [
          t,
          o,
          h,
          l,
          c,
          String(Number(v) * 100),
          v,
          String(Number(v) * Number(c)),
          "1",
        ]);
      return json(200, JSON.stringify({ code: "0", msg: "", data: rows }));
    }
    json(404, JSON.stringify({ code: "404", msg: "not recorded" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function source(now: number) {
  const clock = new SimClock(now);
  const limiter = new WeightLimiter({ budget: 600, windowMs: 60_000, clock });
  return {
    limiter,
    src: new CcxtSource("okx", { apiUrl: url, clock, limiter, maxWaitMs: 0, log: createLogger("silent") }),
  };
}

describe("ccxt:okx source against a local OKX server", () => {
  it("maps canonical symbols to linear USDT swaps with the recorded tick, lot (coins) and leverage", async () => {
    const { src } = source(Date.UTC(2025, 5, 10));
    const inst = await src.instruments();
    const btc = inst.find((i) => i.symbol === "BTC");
    expect(btc).toMatchObject({
      venue_symbol: "BTC/USDT:USDT",
      quote: "USDT",
      tick_size: 0.1,
      lot_size: 0.01,
      max_leverage: 125,
    });
    expect(inst.find((i) => i.symbol === "DOGE")).toMatchObject({
      venue_symbol: "DOGE/USDT:USDT",
      tick_size: 0.000001,
      lot_size: 1000,
    });
    // Inverse BTC-USD-SWAP is in the listing but is not a canonical (linear) instrument.
    expect(inst.filter((i) => i.symbol === "BTC")).toHaveLength(1);
  });

  it("reuses one long-lived ccxt instance per exchange and URL", () => {
    expect(ccxtInstance("okx", { apiUrl: url })).toBe(ccxtInstance("okx", { apiUrl: url }));
    expect(source(0).src.ex).toBe(ccxtInstance("okx", { apiUrl: url }));
  });

  it("candles over several pages equal the served rows exactly", async () => {
    const T = Date.UTC(2025, 5, 10, 12);
    const { src } = source(T);
    const start = T - 400 * 60_000;
    const got = await src.candles("BTC", "1m", { start, end: T - 60_000 });
    const want = BTC.filter((r) => Number(r[0]) >= start && Number(r[0]) <= T - 60_000).map((r) => {
      const [time, open, high, low, close, volume] = r.map(Number);
      return { time, open, high, low, close, volume };
    });
    expect(want).toHaveLength(400);
    expect(got).toEqual(want);
  });

  it("HTTP 500 becomes EXCHANGE_UNAVAILABLE and 429 becomes RATE_LIMITED", async () => {
    const { src } = source(Date.UTC(2025, 5, 10, 12));
    await src.instruments();
    mode = "500";
    try {
      await expect(src.candles("BTC", "1m", { limit: 5 })).rejects.toMatchObject({
        code: "EXCHANGE_UNAVAILABLE",
        retryable: true,
      });
      mode = "429";
      await expect(src.candles("BTC", "1m", { limit: 5 })).rejects.toMatchObject({
        code: "RATE_LIMITED",
        retryable: true,
      });
    } finally {
      mode = "ok";
    }
  });
});
