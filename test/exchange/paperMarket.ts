import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Clock } from "../../src/clock.js";
import type { PlaceRequest } from "../../src/exchange/venue.js";
import { TwError } from "../../src/errors.js";
import type {
  Candle,
  FundingPoint,
  Instrument,
  Interval,
  MarketData,
  RangeQuery,
  Ticker,
} from "../../src/exchange/types.js";
import { REPLAY_30D, DATA } from "../helpers/app.js";

/**
 * A small in-test MarketData over the real Binance USDT-M 1m candles and 8h funding in data/
 * (read with node:zlib), on a test clock. Only closed bars are visible (open time + 60 s ≤ now), like a
 * replay source; the ticker mid is the last closed bar's close. Precision rules are Binance USDT-M's
 * (tick/lot) for the five coins.
 */

const PRECISION: Record<string, { tick: number; lot: number }> = {
  BTC: { tick: 0.1, lot: 0.001 },
  ETH: { tick: 0.01, lot: 0.001 },
  SOL: { tick: 0.01, lot: 0.01 },
  ADA: { tick: 0.0001, lot: 1 },
  DOGE: { tick: 0.00001, lot: 1 },
};

function csv(path: string): number[][] {
  const text = gunzipSync(readFileSync(path)).toString("utf8");
  return text
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.split(",").map(Number));
}

const cache = new Map<string, Candle[]>();
/** Real 1m candles of a coin (cached per process). */
export function realCandles(symbol: string): Candle[] {
  let c = cache.get(symbol);
  if (!c) {
    c = csv(join(REPLAY_30D, `${symbol}USDT_1m.csv.gz`)).map(([time, open, high, low, close, volume]) => ({
      time,
      open,
      high,
      low,
      close,
      volume,
    }));
    cache.set(symbol, c);
  }
  return c;
}

const fcache = new Map<string, FundingPoint[]>();
/** Real 8-hourly funding of a coin. */
export function realFunding(symbol: string): FundingPoint[] {
  let f = fcache.get(symbol);
  if (!f) {
    f = csv(join(DATA, "funding", "binance_usdm", `${symbol}USDT_funding_2025-05_2025-06.csv.gz`)).map(
      ([time, rate]) => ({
        time,
        rate,
      }),
    );
    fcache.set(symbol, f);
  }
  return f;
}

/** The fake source. `staleBy` ages every ticker (ms) to exercise the stale-data check. */
export class CandleMarket implements MarketData {
  readonly id = "test:candles";
  staleBy = 0;
  constructor(
    private readonly clock: Clock,
    private readonly symbols: string[] = ["BTC", "ETH", "SOL", "DOGE", "ADA"],
  ) {}

  async instruments(): Promise<Instrument[]> {
    return this.symbols.map((s) => ({
      symbol: s,
      venue_symbol: `${s}USDT`,
      quote: "USDT",
      tick_size: PRECISION[s].tick,
      lot_size: PRECISION[s].lot,
      sz_decimals: null,
      asset_index: null,
      max_leverage: 20,
      min_notional: 5,
    }));
  }

  private closed(symbol: string): Candle[] {
    if (!this.symbols.includes(symbol)) throw new TwError("NOT_FOUND", `unknown symbol ${symbol}`);
    const now = this.clock.now();
    return realCandles(symbol).filter((c) => c.time + 60_000 <= now);
  }

  async ticker(symbol: string): Promise<Ticker> {
    const bars = this.closed(symbol);
    const last = bars[bars.length - 1];
    return {
      symbol,
      mid: last.close,
      bid: null,
      ask: null,
      mark: null,
      index: null,
      funding_rate: null,
      open_interest: null,
      change_24h: null,
      volume_24h: null,
      time: last.time + 60_000 - this.staleBy,
    };
  }

  async candles(symbol: string, _i: Interval, q: RangeQuery): Promise<Candle[]> {
    let bars = this.closed(symbol).filter(
      (c) => (q.start === undefined || c.time >= q.start) && (q.end === undefined || c.time <= q.end),
    );
    if (q.limit !== undefined) bars = bars.slice(-q.limit);
    return bars;
  }

  async orderbook(): Promise<null> {
    return null;
  }

  async funding(symbol: string, q: RangeQuery): Promise<FundingPoint[]> {
    const now = this.clock.now();
    return realFunding(symbol).filter(
      (f) =>
        f.time <= now &&
        (q.start === undefined || f.time >= q.start) &&
        (q.end === undefined || f.time <= q.end),
    );
  }
}

/** A place request: a 0.5 BTC market buy (IOC) unless `over` says otherwise. */
export function placeRequest(over: Record<string, unknown>): PlaceRequest {
  return {
    symbol: "BTC",
    side: "buy",
    type: "market",
    size: "0.5",
    price: null,
    tif: "IOC",
    reduce_only: false,
    ...over,
  } as PlaceRequest;
}
