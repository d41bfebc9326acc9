import type { Exchange, MarketInterface } from "ccxt";
import type { Clock } from "../../clock.js";
import { TwError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { WeightLimiter } from "../../policy/ratelimit.js";
import { bookStats } from "../analytics.js";
import {
  type Candle,
  type FundingPoint,
  INTERVAL_MS,
  type Instrument,
  type Interval,
  type MarketData,
  type OrderBook,
  type RangeQuery,
  type Ticker,
} from "../types.js";
import { mapCcxtError } from "./errors.js";
import { ccxtExchangeClass } from "./lib.js";

/**
 * The `ccxt:<exchangeId>` market-data source (okx, bitget, binanceusdm, ... any ccxt exchange with
 * linear perpetuals) over ccxt's unified API. One long-lived ccxt instance per exchange id and API
 * URL ({@link ccxtInstance}), so ccxt's own throttle (`enableRateLimit`) sees every request of the
 * process; our per-venue {@link WeightLimiter} is charged 1 per request on top, so a venue budget
 * and RATE_LIMITED behave the same as for Hyperliquid.
 *
 * Symbols: canonical `BTC` ↔ the active linear swap with base BTC, settled in USDT (preferred) or
 * USDC — ccxt unified `BTC/USDT:USDT`, venue id e.g. `BTC-USDT-SWAP` on OKX. Sizes: ccxt amounts are
 * in contracts; lot size is converted to coins with the market's contractSize. Candle volume is
 * ccxt's unified OHLCV volume (base coins for okx/bitget/binanceusdm swaps).
 */

const instances = new Map<string, Exchange>();

/** Options of {@link ccxtInstance} / {@link CcxtSource}. */
export interface CcxtOptions {
  /** Base URL replacing the origin of every `urls.api` entry (tests: http://127.0.0.1:PORT). */
  apiUrl?: string;
  /** HTTP timeout per request, ms (default 10 000). */
  timeoutMs?: number;
}

/** Rewrites every URL string under `api` to `base` + its path (handles `https://{hostname}`). */
function rebase(api: unknown, base: string): unknown {
  if (typeof api === "string") return api.replace(/^https?:\/\/[^/]+/, base.replace(/\/$/, ""));
  if (api && typeof api === "object") {
    return Object.fromEntries(Object.entries(api).map(([k, v]) => [k, rebase(v, base)]));
  }
  return api;
}

/**
 * The process-wide ccxt instance of an exchange (created on first use).
 * @throws TwError CONFIG_INVALID when ccxt has no such exchange.
 */
export function ccxtInstance(id: string, opts: CcxtOptions = {}): Exchange {
  const key = `${id}|${opts.apiUrl ?? ""}`;
  const hit = instances.get(key);
  if (hit) return hit;
  const Ctor = ccxtExchangeClass(id);
  if (!Ctor) {
    throw new TwError("CONFIG_INVALID", `ccxt has no exchange "${id}".`, {
      hint: "Use a ccxt exchange id such as okx, bitget or binanceusdm.",
    });
  }
  const ex = new Ctor({
    enableRateLimit: true,
    timeout: opts.timeoutMs ?? 10_000,
    // Only perpetual markets: loading spot/options would cost requests and memory for nothing.
    options: { defaultType: "swap", fetchMarkets: id === "binanceusdm" ? undefined : { types: ["swap"] } },
  });
  if (opts.apiUrl) ex.urls.api = rebase(ex.urls.api, opts.apiUrl) as typeof ex.urls.api;
  instances.set(key, ex);
  return ex;
}

/** See the module comment. */
export class CcxtSource implements MarketData {
  readonly id: string;
  readonly ex: Exchange;
  private bySymbol: Map<string, MarketInterface> | null = null;

  constructor(
    readonly exchangeId: string,
    private readonly deps: {
      clock: Clock;
      limiter: WeightLimiter;
      maxWaitMs: number;
      log: Logger;
    } & CcxtOptions,
  ) {
    this.id = `ccxt:${exchangeId}`;
    this.ex = ccxtInstance(exchangeId, deps);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    await this.deps.limiter.acquire(1, this.deps.maxWaitMs);
    try {
      return await fn();
    } catch (err) {
      const e = mapCcxtError(err, this.exchangeId, what);
      this.deps.log.warn({ err, what, code: e.code, exchange: this.exchangeId }, "ccxt request failed");
      throw e;
    }
  }

  /** canonical symbol → market, built once from loadMarkets (USDT-settled preferred over USDC). */
  private async markets(): Promise<Map<string, MarketInterface>> {
    if (this.bySymbol) return this.bySymbol;
    const all = await this.call("loadMarkets", () => this.ex.loadMarkets());
    const map = new Map<string, MarketInterface>();
    for (const m of Object.values(all)) {
      if (!m?.swap || m.linear !== true || m.active === false) continue;
      if (m.settle !== "USDT" && m.settle !== "USDC") continue;
      const prev = map.get(m.base);
      if (!prev || (prev.settle !== "USDT" && m.settle === "USDT")) map.set(m.base, m);
    }
    this.bySymbol = map;
    return map;
  }

  private async market(symbol: string): Promise<MarketInterface> {
    const m = (await this.markets()).get(symbol);
    if (!m) {
      throw new TwError("NOT_FOUND", `${this.exchangeId} has no linear perpetual for ${symbol}.`, {
        details: { valid_symbols: [...(await this.markets()).keys()].sort() },
      });
    }
    return m;
  }

  async instruments(): Promise<Instrument[]> {
    const map = await this.markets();
    return [...map.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([symbol, m]) => ({
        symbol,
        venue_symbol: m.symbol,
        quote: m.quote,
        tick_size: m.precision?.price ?? null,
        lot_size: (m.precision?.amount ?? 1) * (m.contractSize ?? 1),
        sz_decimals: null,
        asset_index: null,
        max_leverage: m.limits?.leverage?.max ?? null,
        min_notional: m.limits?.cost?.min ?? null,
      }));
  }

  async ticker(symbol: string): Promise<Ticker> {
    const m = await this.market(symbol);
    const t = await this.call("fetchTicker", () => this.ex.fetchTicker(m.symbol));
    const bid = t.bid ?? null;
    const ask = t.ask ?? null;
    const last = t.last ?? t.close ?? null;
    const mid = bid !== null && ask !== null ? (bid + ask) / 2 : last;
    if (mid === null || mid === undefined)
      throw new TwError("EXCHANGE_UNAVAILABLE", `${this.exchangeId} returned no price for ${symbol}.`);
    return {
      symbol,
      mid,
      bid,
      ask,
      mark: t.markPrice ?? null,
      index: t.indexPrice ?? null,
      funding_rate: null,
      open_interest: null,
      change_24h: t.percentage !== undefined && t.percentage !== null ? t.percentage / 100 : null,
      volume_24h: t.quoteVolume ?? null,
      time: t.timestamp ?? this.deps.clock.now(),
    };
  }

  /** Closed candles in [start, end], paged forward (≤ 300 per request); same limit rule as the other sources. */
  async candles(symbol: string, interval: Interval, q: RangeQuery): Promise<Candle[]> {
    const m = await this.market(symbol);
    const iv = INTERVAL_MS[interval];
    const now = this.deps.clock.now();
    const end = Math.min(q.end ?? now, now - iv);
    let since = q.start ?? end - ((q.limit ?? 500) - 1) * iv;
    const out: Candle[] = [];
    for (let page = 0; page < 100 && since <= end; page++) {
      const want = Math.min(300, Math.floor((end - since) / iv) + 1);
      const rows = await this.call("fetchOHLCV", () =>
        // No `until`: venues like OKX answer the NEWEST `limit` bars before it, which would skip the
        // start of the range; since + limit pins the page to [since, since + limit × interval).
        this.ex.fetchOHLCV(m.symbol, interval, since, want),
      );
      let lastT = Number.NEGATIVE_INFINITY;
      for (const [t, o, h, l, c, v] of rows) {
        if (t === undefined) continue;
        lastT = Math.max(lastT, t);
        if (t < since || t > end || (out.length > 0 && t <= out[out.length - 1].time)) continue;
        out.push({
          time: t,
          open: Number(o),
          high: Number(h),
          low: Number(l),
          close: Number(c),
          volume: Number(v),
        });
      }
      if (rows.length === 0 || lastT < since) break;
      since = lastT + iv;
    }
    if (q.limit !== undefined && out.length > q.limit) {
      return q.start === undefined ? out.slice(-q.limit) : out.slice(0, q.limit);
    }
    return out;
  }

  async orderbook(symbol: string, depth: number): Promise<OrderBook | null> {
    const m = await this.market(symbol);
    const ob = await this.call("fetchOrderBook", () => this.ex.fetchOrderBook(m.symbol, depth));
    const cs = m.contractSize ?? 1;
    const side = (lv: Array<Array<number | undefined>>) =>
      lv.slice(0, depth).map(([px, sz]) => ({ px: Number(px), sz: Number(sz) * cs }));
    const bids = side(ob.bids as Array<Array<number | undefined>>);
    const asks = side(ob.asks as Array<Array<number | undefined>>);
    const s = bookStats(bids, asks);
    return {
      symbol,
      bids,
      asks,
      spread_bps: s.spread_bps,
      imbalance: s.imbalance,
      time: ob.timestamp ?? this.deps.clock.now(),
    };
  }

  async funding(symbol: string, q: RangeQuery): Promise<FundingPoint[]> {
    const m = await this.market(symbol);
    if (!this.ex.has.fetchFundingRateHistory) return [];
    const rows = await this.call("fetchFundingRateHistory", () =>
      this.ex.fetchFundingRateHistory(m.symbol, q.start, q.limit ?? 100, q.end ? { until: q.end } : {}),
    );
    return rows
      .filter((r) => r.timestamp !== undefined && (q.end === undefined || (r.timestamp as number) <= q.end))
      .map((r) => ({ time: r.timestamp as number, rate: Number(r.fundingRate) }));
  }
}
