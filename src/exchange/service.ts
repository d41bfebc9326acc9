import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import type { Logger } from "../log.js";
import type { CandleStore } from "../store/candles.js";
import { ReplaySource } from "./replay/source.js";
import { bookStats, logReturns, simpleReturn, stdev, upperBound } from "./analytics.js";
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
} from "./types.js";

/**
 * The market-data service installed as `app.market`: the active source plus what every consumer
 * needs on top of it — symbol validation against the instruments, freshness (`as_of`, `stale`), the
 * candle cache and FeatureSnapshot1m. It implements {@link MarketData}, so the paper venue and the
 * cycle can use it as a plain source.
 */

/** FeatureSnapshot1m (DESIGN.md §5). Returns/vol are fractions, not annualised. */
export interface FeatureSnapshot1m {
  symbol: string;
  /** Close time of the last closed 1m bar used, ms UTC. */
  time: number;
  /** Book mid (bid+ask)/2 when a book exists, else the last 1m close (quote). */
  mid: number;
  /** c[t]/c[t−1m] − 1 on 1m closes. */
  ret_1m: number;
  /** c[t]/c[t−5m] − 1. */
  ret_5m: number;
  /** c[t]/c[t−60m] − 1. */
  ret_1h: number;
  /** Sample stdev (n−1) of the last 60 one-minute log returns ln(c[i]/c[i−1]); not annualised. */
  vol_1h: number;
  /** (ask − bid)/mid × 10⁴ of the top of book; null without a book. */
  spread_bps: number | null;
  /** (Σbid sz − Σask sz)/(Σbid sz + Σask sz) over the top 20 levels; null without a book. */
  book_imbalance: number | null;
}

/** Closed 1m bars FeatureSnapshot1m needs: the last bar and the 60 before it (60 one-minute returns). */
export const FEATURE_BARS = 61;

/** Freshness of a result: `as_of` = time the newest data refers to (ms UTC). */
export interface Freshness {
  as_of: number;
  stale: boolean;
}

/** Options of {@link MarketService}. */
export interface MarketServiceOptions {
  clock: Clock;
  /** Data older than this (ms) is stale (config.staleAfterMs). */
  staleAfterMs: number;
  /** Canonical symbols summarised by default (config.universe). */
  universe: string[];
  log: Logger;
  /** Candle cache for live sources (not used for replay, whose files are the cache). */
  store?: CandleStore;
  /** How long the instrument list is reused, ms (default 5 min). */
  instrumentsTtlMs?: number;
}

/** See the module comment. One per App. */
export class MarketService implements MarketData {
  readonly id: string;
  readonly clock: Clock;
  readonly universe: string[];
  readonly staleAfterMs: number;
  /** Newest `as_of` seen by any call (status provider); null before the first call. */
  lastAsOf: number | null = null;
  private instCache: { at: number; list: Instrument[] } | null = null;
  private readonly cacheable: boolean;
  /** Replay tickers of the current clock instant (a replay's data at a time never changes). */
  private tickers: { at: number; bySymbol: Map<string, Ticker> } | null = null;

  constructor(
    readonly source: MarketData,
    private readonly opts: MarketServiceOptions,
  ) {
    this.id = source.id;
    this.clock = opts.clock;
    this.universe = opts.universe;
    this.staleAfterMs = opts.staleAfterMs;
    this.cacheable = opts.store !== undefined && !source.id.startsWith("replay:");
  }

  /**
   * A STALE_DATA error. On replay data the source's advice replaces the live-source hint: how to
   * move the start, and whether retrying can help.
   */
  private stale(
    message: string,
    now: number,
    live: { hint: string; details: Record<string, unknown> },
  ): TwError {
    if (this.source instanceof ReplaySource) {
      const a = this.source.staleAdvice(now, FEATURE_BARS * 60_000);
      return new TwError("STALE_DATA", message, {
        hint: a.hint,
        retryable: a.retryable,
        details: { ...live.details, ...a.details },
      });
    }
    return new TwError("STALE_DATA", message, live);
  }

  /** Freshness of data referring to `asOf`; stale when older than max(staleAfterMs, `minAgeMs`). */
  freshness(asOf: number, minAgeMs = 0): Freshness {
    if (this.lastAsOf === null || asOf > this.lastAsOf) this.lastAsOf = asOf;
    return { as_of: asOf, stale: this.clock.now() - asOf > Math.max(this.staleAfterMs, minAgeMs) };
  }

  /** Instruments of the source (cached for instrumentsTtlMs). */
  async instruments(): Promise<Instrument[]> {
    const now = this.clock.now();
    if (this.instCache && now - this.instCache.at < (this.opts.instrumentsTtlMs ?? 300_000)) {
      return this.instCache.list;
    }
    const list = await this.source.instruments();
    this.instCache = { at: now, list };
    return list;
  }

  /**
   * The instrument of a canonical symbol (exact match, else a unique case-insensitive match).
   * @throws TwError NOT_FOUND listing the valid symbols (details.valid_symbols).
   */
  async instrument(symbol: string): Promise<Instrument> {
    const list = await this.instruments();
    const exact = list.find((i) => i.symbol === symbol);
    if (exact) return exact;
    const ci = list.filter((i) => i.symbol.toUpperCase() === symbol.toUpperCase());
    if (ci.length === 1) return ci[0];
    const valid = list.map((i) => i.symbol);
    const shown = valid.length > 40 ? `${valid.slice(0, 40).join(", ")}, ...` : valid.join(", ");
    throw new TwError("NOT_FOUND", `Unknown symbol ${symbol} on ${this.id}.`, {
      hint: `Use a canonical base coin such as: ${shown}.`,
      details: { valid_symbols: valid },
    });
  }

  /** Canonical form of a symbol. @throws TwError NOT_FOUND (see {@link instrument}). */
  async resolve(symbol: string): Promise<string> {
    return (await this.instrument(symbol)).symbol;
  }

  /**
   * Ticker of a symbol. On replay data the answer depends only on the clock, so it is kept for the
   * current instant (the paper venue marks the book several times per cycle; each replay ticker
   * sums a day of bars).
   */
  async ticker(symbol: string): Promise<Ticker> {
    if (!(this.source instanceof ReplaySource)) {
      const t = await this.source.ticker(await this.resolve(symbol));
      this.freshness(t.time);
      return t;
    }
    const now = this.clock.now();
    if (this.tickers?.at !== now) this.tickers = { at: now, bySymbol: new Map() };
    const cache = this.tickers;
    let t = cache.bySymbol.get(symbol);
    if (t === undefined) {
      t = await this.source.ticker(await this.resolve(symbol));
      cache.bySymbol.set(symbol, t);
    }
    this.freshness(t.time);
    return { ...t };
  }

  /**
   * Candles with open time in [start, end]. Live sources: a range that closed before now and is
   * fully present in the cache is served from it; fetched closed bars are written to it.
   */
  async candles(symbol: string, interval: Interval, q: RangeQuery): Promise<Candle[]> {
    const sym = await this.resolve(symbol);
    const iv = INTERVAL_MS[interval];
    const store = this.cacheable ? this.opts.store : undefined;
    if (store && q.start !== undefined && q.end !== undefined && q.end + iv <= this.clock.now()) {
      const first = Math.ceil(q.start / iv) * iv;
      const expected = q.end >= first ? Math.floor((q.end - first) / iv) + 1 : 0;
      if (expected > 0 && store.countCandles(this.id, sym, interval, q.start, q.end) === expected) {
        return store.getCandles(this.id, sym, interval, q);
      }
    }
    const out = await this.source.candles(sym, interval, q);
    if (store && out.length > 0) {
      const now = this.clock.now();
      try {
        store.putCandles(
          this.id,
          sym,
          interval,
          out.filter((c) => c.time + iv <= now),
        );
      } catch (err) {
        // A cache write failure must not fail a read; the data is still correct.
        this.opts.log.warn({ err, symbol: sym }, "candle cache write failed");
      }
    }
    return out;
  }

  async orderbook(symbol: string, depth: number): Promise<OrderBook | null> {
    const b = await this.source.orderbook(await this.resolve(symbol), depth);
    if (b) this.freshness(b.time);
    return b;
  }

  async funding(symbol: string, q: RangeQuery): Promise<FundingPoint[]> {
    return this.source.funding(await this.resolve(symbol), q);
  }

  /**
   * Whether the source has funding data for a (canonical) symbol at all: live venues always do; a
   * replay only when its folders hold a funding file of the symbol. Without it, funding is silently
   * zero in paper PnL, so callers say so.
   */
  hasFunding(symbol: string): boolean {
    return this.source instanceof ReplaySource ? this.source.hasFunding(symbol) : true;
  }

  /**
   * FeatureSnapshot1m of a symbol at the clock's now, from closed 1m bars (+ the L2 book when the
   * source has one). Formulas on the {@link FeatureSnapshot1m} fields; "c[t−k]" is the close of the
   * latest bar whose open time ≤ last open time − k minutes.
   * @throws TwError STALE_DATA when the last closed 1m bar is older than staleAfterMs or fewer than
   *   61 bars of the last hour are available — retryable on a live source; on replay data the hint
   *   says how to move the start (TW_REPLAY_START) and it is not retryable when waiting cannot help;
   *   NOT_FOUND for an unknown symbol.
   */
  async features(symbol: string): Promise<FeatureSnapshot1m> {
    const sym = await this.resolve(symbol);
    const now = this.clock.now();
    const q = { start: now - 70 * 60_000, end: now };
    if (this.source instanceof ReplaySource) {
      // Read from the bars' columns (issue 15: each cycle built 70 candle objects per coin to read
      // their closes); replay has no book.
      const { c, lo, end } = this.source.rows(sym, "1m", q);
      const time = c.time.subarray(lo, end);
      return this.featuresOf(sym, this.lastHour(sym, now, time), time, c.close.subarray(lo, end), null);
    }
    const bars = await this.candles(sym, "1m", q);
    const time = bars.map((b) => b.time);
    // Checked before the book is read: without fresh bars there is no snapshot to read it for.
    const hour = this.lastHour(sym, now, time);
    const book = await this.orderbook(sym, 20);
    const close = bars.map((b) => b.close);
    return this.featuresOf(sym, hour, time, close, book ? bookStats(book.bids, book.asks) : null);
  }

  /**
   * The last hour of 1m bars (open times ascending, ms UTC) as the suffix `[first, time.length)`,
   * and the last bar's open time.
   * @throws TwError STALE_DATA when the last bar closed more than `staleAfterMs` before `now` (or
   *   there is none), or the hour holds fewer than {@link FEATURE_BARS} bars.
   */
  private lastHour(sym: string, now: number, time: ArrayLike<number>): { first: number; lastTime: number } {
    const end = time.length;
    const lastTime = end > 0 ? time[end - 1] : undefined;
    if (lastTime === undefined || now - (lastTime + 60_000) > this.staleAfterMs)
      throw this.notFresh(sym, now, lastTime);
    let first = end - 1;
    while (first > 0 && time[first - 1] >= lastTime - 60 * 60_000) first--;
    if (end - first < FEATURE_BARS) throw this.notEnough(sym, now, end - first);
    return { first, lastTime };
  }

  /**
   * The one formula of {@link features} (the live and the replay paths both come here, so their
   * fields are computed by the same code in the same order), over the 1m bars' open times and closes
   * (ascending by time, ms UTC / quote), their last hour as {@link lastHour} found it, and the
   * book's stats (null without a book: mid is then the last close and the book fields null).
   */
  private featuresOf(
    sym: string,
    { first, lastTime }: { first: number; lastTime: number },
    time: ArrayLike<number>,
    close: ArrayLike<number>,
    stats: ReturnType<typeof bookStats> | null,
  ): FeatureSnapshot1m {
    const end = time.length;
    // "c[t−k]": the close of the latest bar opened at or before last open time − k minutes, so a
    // missing bar falls back to the one before it.
    const at = (k: number): number | null => {
      const i = upperBound(time, lastTime - k * 60_000);
      return i === 0 ? null : close[i - 1];
    };
    const closes: number[] = [];
    for (let i = Math.max(first, end - 61); i < end; i++) closes.push(close[i]);
    const last = close[end - 1];
    const t = lastTime + 60_000;
    this.freshness(t);
    return {
      symbol: sym,
      time: t,
      mid: stats?.mid ?? last,
      ret_1m: simpleReturn(last, at(1)) as number,
      ret_5m: simpleReturn(last, at(5)) as number,
      ret_1h: simpleReturn(last, at(60)) as number,
      vol_1h: stdev(logReturns(closes)) as number,
      spread_bps: stats?.spread_bps ?? null,
      book_imbalance: stats?.imbalance ?? null,
    };
  }

  /** STALE_DATA: the last closed 1m bar (open time `lastTime`) is missing or too old. */
  private notFresh(sym: string, now: number, lastTime: number | undefined): TwError {
    return this.stale(`No fresh 1m data for ${sym} on ${this.id}.`, now, {
      hint: "Retry shortly; if it persists the source is lagging.",
      details: { symbol: sym, now, last_bar_close: lastTime !== undefined ? lastTime + 60_000 : null },
    });
  }

  /** STALE_DATA: fewer than {@link FEATURE_BARS} bars in the last hour. */
  private notEnough(sym: string, now: number, bars: number): TwError {
    return this.stale(`Not enough 1m history for ${sym} to compute 1h features.`, now, {
      hint: `Features need the last ${FEATURE_BARS} one-minute bars; retry once an hour of data is available.`,
      details: { symbol: sym, bars },
    });
  }
}
