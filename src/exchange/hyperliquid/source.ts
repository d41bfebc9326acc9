import type { InfoClient } from "@nktkas/hyperliquid";
import type { Clock } from "../../clock.js";
import type { Logger } from "../../log.js";
import { hlInfoWeight, type WeightLimiter } from "../../policy/ratelimit.js";
import { TwError } from "../../errors.js";
import { bookStats, simpleReturn } from "../analytics.js";
import {
  type BookLevel,
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
import { malformed, mapHlError, num } from "./errors.js";
import { hlLib } from "./lib.js";

/**
 * The `hyperliquid` market-data source: live public data from the `/info` endpoint through
 * `@nktkas/hyperliquid`'s InfoClient over HttpTransport (no key needed). The API URL is configurable
 * (TW_HL_API_URL; tests point it at 127.0.0.1). Every request first takes its documented weight from
 * the venue's {@link WeightLimiter}; for candleSnapshot and fundingHistory the per-item extra weight
 * is estimated from the requested range up front, so the limiter's "never over budget in any
 * window" guarantee holds. Canonical symbol = Hyperliquid perp coin name (`BTC`); the asset index is
 * the coin's position in `meta.universe`.
 */

/** Hyperliquid answers at most this many candles per candleSnapshot request (API docs). */
export const HL_CANDLES_PER_REQUEST = 5000;
/** Hyperliquid answers at most this many events per fundingHistory request. */
export const HL_FUNDING_PER_REQUEST = 500;
/** Perp prices have at most 6 − szDecimals decimals (Hyperliquid docs "Tick and lot size"). */
const HL_MAX_PERP_DECIMALS = 6;
/** Minimum order value on Hyperliquid, USDC. */
const HL_MIN_NOTIONAL = 10;
/** Guard against a server that keeps answering: at most this many pages per call. */
const MAX_PAGES = 50;

/** Options of {@link HyperliquidSource}. */
export interface HyperliquidSourceOptions {
  /** API base URL override (default mainnet, or testnet when `testnet`). */
  apiUrl?: string;
  testnet?: boolean;
  clock: Clock;
  /** The venue's limiter (1200 weight per minute). */
  limiter: WeightLimiter;
  /** Longest wait for weight before RATE_LIMITED, ms. */
  maxWaitMs: number;
  /** HTTP timeout per request, ms (default 10 000). */
  timeoutMs?: number;
  log: Logger;
}

interface MetaAsset {
  name: string;
  szDecimals: number;
  maxLeverage: number;
  isDelisted?: boolean;
}

/**
 * Tick size at a price by Hyperliquid's rule: at most 5 significant figures and at most
 * 6 − szDecimals decimals; integer prices are always allowed, so the tick never exceeds 1.
 * tick = min(1, max(10^(floor(log10 px) − 4), 10^−(6 − szDecimals))).
 */
export function hlTickSize(px: number, szDecimals: number): number {
  const sig = Math.floor(Math.log10(px)) - 4;
  const exp = Math.min(0, Math.max(sig, -(HL_MAX_PERP_DECIMALS - szDecimals)));
  return Number(`1e${exp}`);
}

/** See the module comment. */
export class HyperliquidSource implements MarketData {
  readonly id: string;
  private client?: InfoClient;

  constructor(private readonly opts: HyperliquidSourceOptions) {
    this.id = opts.testnet ? "hyperliquid:testnet" : "hyperliquid";
  }

  /** The InfoClient, built on the first request so a server that never asks loads no SDK. */
  private get info(): InfoClient {
    if (!this.client) {
      const { HttpTransport, InfoClient } = hlLib();
      const transport = new HttpTransport({
        isTestnet: this.opts.testnet ?? false,
        apiUrl: this.opts.apiUrl,
        timeout: this.opts.timeoutMs ?? 10_000,
      });
      this.client = new InfoClient({ transport });
    }
    return this.client;
  }

  /** Takes `weight` from the limiter, runs `fn`, maps failures to TwError. */
  private async call<T>(type: string, weight: number, fn: () => Promise<T>): Promise<T> {
    await this.opts.limiter.acquire(weight, this.opts.maxWaitMs);
    try {
      return await fn();
    } catch (err) {
      const e = mapHlError(err, type);
      this.opts.log.warn({ err, type, code: e.code }, "hyperliquid info request failed");
      throw e;
    }
  }

  private async meta(): Promise<MetaAsset[]> {
    const body = (await this.call("meta", hlInfoWeight("meta"), () => this.info.meta())) as unknown;
    const universe = (body as { universe?: unknown })?.universe;
    if (!Array.isArray(universe)) throw malformed("meta", "no universe array");
    return universe.map((a: Record<string, unknown>) => ({
      name: String(a.name),
      szDecimals: num(a.szDecimals, "meta.szDecimals"),
      maxLeverage: num(a.maxLeverage, "meta.maxLeverage"),
      isDelisted: a.isDelisted === true,
    }));
  }

  private async mids(): Promise<Record<string, unknown>> {
    const body = (await this.call("allMids", hlInfoWeight("allMids"), () => this.info.allMids())) as unknown;
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw malformed("allMids", "not an object");
    return body as Record<string, unknown>;
  }

  /** Perp instruments (delisted ones excluded); tick size from the current mid (5-significant-figure rule). */
  async instruments(): Promise<Instrument[]> {
    const [meta, mids] = await Promise.all([this.meta(), this.mids()]);
    const out: Instrument[] = [];
    meta.forEach((a, index) => {
      if (a.isDelisted) return;
      const mid = mids[a.name] === undefined ? null : num(mids[a.name], "allMids");
      out.push({
        symbol: a.name,
        venue_symbol: a.name,
        quote: "USDC",
        tick_size: mid !== null && mid > 0 ? hlTickSize(mid, a.szDecimals) : null,
        lot_size: Number(`1e-${a.szDecimals}`),
        sz_decimals: a.szDecimals,
        asset_index: index,
        max_leverage: a.maxLeverage,
        min_notional: HL_MIN_NOTIONAL,
      });
    });
    return out;
  }

  /**
   * Ticker: mid from allMids, bid/ask from l2Book; mark, index (oracle), funding, open interest,
   * 24h change (markPx / prevDayPx − 1) and 24h notional volume from metaAndAssetCtxs. The asset
   * contexts are an enrichment: when the server does not know that request type (HTTP 4xx) those
   * fields stay null; a 429/5xx/timeout still fails the call.
   */
  async ticker(symbol: string): Promise<Ticker> {
    const [mids, book] = await Promise.all([this.mids(), this.orderbook(symbol, 1)]);
    if (mids[symbol] === undefined) throw new TwError("NOT_FOUND", `Hyperliquid has no mid for ${symbol}.`);
    let ctx: Record<string, unknown> | null = null;
    try {
      const body = (await this.call("metaAndAssetCtxs", hlInfoWeight("metaAndAssetCtxs"), () =>
        this.info.metaAndAssetCtxs(),
      )) as unknown;
      if (Array.isArray(body) && body.length === 2) {
        const names = ((body[0] as { universe?: Array<{ name: string }> }).universe ?? []).map((u) => u.name);
        const i = names.indexOf(symbol);
        ctx = i >= 0 ? ((body[1] as Array<Record<string, unknown>>)[i] ?? null) : null;
      }
    } catch (e) {
      if (!(e instanceof TwError) || e.code !== "EXCHANGE_REJECTED") throw e;
    }
    const opt = (k: string) => (ctx && ctx[k] !== undefined && ctx[k] !== null ? num(ctx[k], k) : null);
    const stats = book ? bookStats(book.bids, book.asks) : null;
    const mark = opt("markPx");
    return {
      symbol,
      mid: stats?.mid ?? num(mids[symbol], "allMids"),
      bid: book?.bids[0]?.px ?? null,
      ask: book?.asks[0]?.px ?? null,
      mark,
      index: opt("oraclePx"),
      funding_rate: opt("funding"),
      open_interest: opt("openInterest"),
      change_24h: mark !== null ? simpleReturn(mark, opt("prevDayPx")) : null,
      volume_24h: opt("dayNtlVlm"),
      time: book?.time ?? this.opts.clock.now(),
    };
  }

  /**
   * Closed candles with open time in [start, end]. Pages forward through candleSnapshot
   * (≤ 5000 per answer); the in-progress bar (open + interval > now) is dropped so live and replay
   * agree. Without `start`, the range is `limit` bars back from `end` (default 500).
   */
  async candles(symbol: string, interval: Interval, q: RangeQuery): Promise<Candle[]> {
    const iv = INTERVAL_MS[interval];
    const now = this.opts.clock.now();
    const end = Math.min(q.end ?? now, now - iv);
    let start = q.start ?? end - ((q.limit ?? 500) - 1) * iv;
    const out: Candle[] = [];
    for (let page = 0; page < MAX_PAGES && start <= end; page++) {
      const expect = Math.min(HL_CANDLES_PER_REQUEST, Math.floor((end - start) / iv) + 1);
      const body = (await this.call(
        "candleSnapshot",
        hlInfoWeight("candleSnapshot") + Math.floor(expect / 60),
        () =>
          this.info.candleSnapshot({ coin: symbol, interval, startTime: Math.max(0, start), endTime: end }),
      )) as unknown;
      if (!Array.isArray(body)) throw malformed("candleSnapshot", "not an array");
      let lastT = Number.NEGATIVE_INFINITY;
      for (const r of body as Array<Record<string, unknown>>) {
        const c: Candle = {
          time: num(r.t, "candle.t"),
          open: num(r.o, "candle.o"),
          high: num(r.h, "candle.h"),
          low: num(r.l, "candle.l"),
          close: num(r.c, "candle.c"),
          volume: num(r.v, "candle.v"),
        };
        lastT = Math.max(lastT, c.time);
        if (c.time < start || c.time > end || (out.length > 0 && c.time <= out[out.length - 1].time))
          continue;
        out.push(c);
      }
      if (body.length === 0 || lastT + iv <= start) break;
      start = lastT + iv;
    }
    if (q.limit !== undefined && out.length > q.limit) {
      return q.start === undefined ? out.slice(-q.limit) : out.slice(0, q.limit);
    }
    return out;
  }

  /** L2 book (Hyperliquid returns up to 20 levels per side); null when the venue has no book for the coin. */
  async orderbook(symbol: string, depth: number): Promise<OrderBook | null> {
    const body = (await this.call("l2Book", hlInfoWeight("l2Book"), () =>
      this.info.l2Book({ coin: symbol }),
    )) as unknown;
    if (body === null) return null;
    const levels = (body as { levels?: unknown }).levels;
    if (!Array.isArray(levels) || levels.length !== 2)
      throw malformed("l2Book", "levels is not [bids, asks]");
    const side = (arr: unknown): BookLevel[] =>
      (Array.isArray(arr) ? arr : []).slice(0, depth).map((l: Record<string, unknown>) => ({
        px: num(l.px, "level.px"),
        sz: num(l.sz, "level.sz"),
      }));
    const bids = side(levels[0]);
    const asks = side(levels[1]);
    const stats = bookStats(bids, asks);
    return {
      symbol,
      bids,
      asks,
      spread_bps: stats.spread_bps,
      imbalance: stats.imbalance,
      time: num((body as { time?: unknown }).time, "l2Book.time"),
    };
  }

  /**
   * Funding events (rate per funding interval, fraction) in [start, end], paging forward through
   * fundingHistory (≤ 500 per answer). Without `start`: `limit` hours back (default 168 = 7 days).
   */
  async funding(symbol: string, q: RangeQuery): Promise<FundingPoint[]> {
    const now = this.opts.clock.now();
    const end = Math.min(q.end ?? now, now);
    let start = q.start ?? end - (q.limit ?? 168) * 3_600_000;
    const out: FundingPoint[] = [];
    for (let page = 0; page < MAX_PAGES && start <= end; page++) {
      const expect = Math.min(HL_FUNDING_PER_REQUEST, Math.ceil((end - start) / 3_600_000) + 1);
      const body = (await this.call(
        "fundingHistory",
        hlInfoWeight("fundingHistory") + Math.floor(expect / 20),
        () => this.info.fundingHistory({ coin: symbol, startTime: Math.max(0, start), endTime: end }),
      )) as unknown;
      if (!Array.isArray(body)) throw malformed("fundingHistory", "not an array");
      let lastT = Number.NEGATIVE_INFINITY;
      for (const r of body as Array<Record<string, unknown>>) {
        const p = { time: num(r.time, "funding.time"), rate: num(r.fundingRate, "funding.fundingRate") };
        lastT = Math.max(lastT, p.time);
        if (p.time < start || p.time > end || (out.length > 0 && p.time <= out[out.length - 1].time))
          continue;
        out.push(p);
      }
      if (body.length < HL_FUNDING_PER_REQUEST || lastT < start) break;
      start = lastT + 1;
    }
    if (q.limit !== undefined && out.length > q.limit) {
      return q.start === undefined ? out.slice(-q.limit) : out.slice(0, q.limit);
    }
    return out;
  }
}
