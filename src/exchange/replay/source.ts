import { delimiter } from "node:path";
import { type Clock, ReplayClock } from "../../clock.js";
import { TwError } from "../../errors.js";
import { decimalStep, lowerBound, simpleReturn, upperBound } from "../analytics.js";
import {
  type Candle,
  type FundingPoint,
  INTERVAL_MS,
  INTERVALS,
  type Instrument,
  type Interval,
  type MarketData,
  type OrderBook,
  type RangeQuery,
  type Ticker,
} from "../types.js";
import {
  type CandleColumns,
  type CandleWindow,
  candleAt,
  candleTimeRange,
  loadCandleColumns,
  loadCandleWindow,
  type RangeStore,
} from "./csv.js";
import type { ReplayDir } from "./dir.js";
import { fundingCoverage, type MergedFunding, mergeFundingFiles } from "./funding.js";

/**
 * The `replay:<dir>` market-data source: historical candles (+ funding) served on a clock.
 *
 * Visibility rule (no look-ahead): a candle with open time t and interval I is visible at clock time
 * T iff `t + I ≤ T` — it has closed. A funding event is visible iff its time ≤ T. So with the clock at
 * T nothing later than T is ever returned.
 *
 * Intervals without a file are aggregated from the finest file whose interval divides them; only
 * complete buckets are kept (a bucket missing a sub-bar, e.g. at the file's first hour, is dropped),
 * buckets are aligned to epoch multiples of the interval (UTC).
 *
 * Files are loaded lazily on first use and kept in memory (≈ 2 MB per 30 days of 1m bars). A caller
 * that knows which clock times it reads declares them ({@link ReplaySource.readAt}, the replay
 * command): files with an interval of their own are then parsed around that window only, and a read
 * the window cannot answer exactly loads the whole file, so every answer is the whole file's.
 */
export class ReplaySource implements MarketData {
  readonly id: string;
  private readonly cols = new Map<string, CandleColumns>();
  private readonly fundingCache = new Map<string, MergedFunding>();
  private instrumentsCache: Instrument[] | null = null;
  /** Clock times declared by {@link readAt}, ms UTC; null: files are loaded whole. */
  private span: { from: number; to: number } | null = null;
  /** Windows of files around {@link span}, by `symbol:interval`, until the whole file is loaded. */
  private readonly windows = new Map<string, CandleWindow>();

  /** @param ranges where file time ranges are kept between processes (see {@link RangeStore}). */
  constructor(
    private readonly dir: ReplayDir,
    private readonly clock: Clock,
    private readonly ranges?: RangeStore,
  ) {
    this.id = `replay:${dir.dirs.join(delimiter)}`;
  }

  /** Canonical symbols with candle files, sorted. */
  symbols(): string[] {
    return [...this.dir.candles.keys()].sort();
  }

  private requireSymbol(symbol: string): Map<Interval, string> {
    const byIv = this.dir.candles.get(symbol);
    if (!byIv) {
      throw new TwError("NOT_FOUND", `Unknown symbol ${symbol} in this replay data.`, {
        hint: `Use one of: ${this.symbols().join(", ")}.`,
        details: { valid_symbols: this.symbols() },
      });
    }
    return byIv;
  }

  /**
   * All candles of a symbol/interval, ignoring the clock (for backtests and imports; never expose
   * through a live-clock API).
   * @throws TwError NOT_FOUND (symbol or interval unavailable), INVALID_INPUT (malformed file).
   */
  columns(symbol: string, interval: Interval): CandleColumns {
    const key = `${symbol}:${interval}`;
    const hit = this.cols.get(key);
    if (hit) return hit;
    const byIv = this.requireSymbol(symbol);
    const file = byIv.get(interval);
    let c: CandleColumns;
    if (file) c = loadCandleColumns(file);
    else {
      const target = INTERVAL_MS[interval];
      const base = [...INTERVALS]
        .filter((iv) => byIv.has(iv) && INTERVAL_MS[iv] < target && target % INTERVAL_MS[iv] === 0)
        .sort((a, b) => INTERVAL_MS[a] - INTERVAL_MS[b])[0];
      if (!base) {
        throw new TwError("NOT_FOUND", `No ${interval} candles for ${symbol} in this replay data.`, {
          hint: `Available intervals: ${[...byIv.keys()].join(", ")} (and multiples of them).`,
        });
      }
      c = aggregate(this.columns(symbol, base), INTERVAL_MS[base], target);
    }
    this.cols.set(key, c);
    return c;
  }

  /**
   * Declares the clock times this source will be read at, [from, to] ms UTC (the replay command: its
   * first cycle − one step to its last cycle). Files are then parsed from {@link READ_LOOKBACK_MS}
   * before `from` to `to` (+ one row on each side) instead of whole, plus their first
   * {@link DECIMALS_ROWS} rows for the instruments' tick and lot sizes. Answers do not change: a read
   * the window cannot answer exactly (an earlier start, a later clock, `columns`, an aggregated
   * interval) loads the whole file first. Rows outside what is parsed are not checked
   * (src/exchange/replay/csv.ts#loadCandleWindow). Call it before the first read.
   */
  readAt(from: number, to: number): void {
    this.span = { from: from - READ_LOOKBACK_MS, to };
  }

  /** The window of a file-backed interval around the declared span; null when none applies. */
  private window(symbol: string, interval: Interval): CandleWindow | null {
    if (!this.span) return null;
    const key = `${symbol}:${interval}`;
    if (this.cols.has(key)) return null;
    let w = this.windows.get(key);
    if (!w) {
      const file = this.requireSymbol(symbol).get(interval);
      if (!file) return null;
      w = loadCandleWindow(file, this.span.from, this.span.to, DECIMALS_ROWS);
      this.windows.set(key, w);
    }
    return w;
  }

  /**
   * The bars a read uses: the declared window when `exact(w)` says every search the read makes on
   * it answers as on the whole file, else the whole file (whose window is then dropped).
   */
  private bars(symbol: string, interval: Interval, exact: (w: CandleWindow) => boolean): CandleColumns {
    const w = this.window(symbol, interval);
    if (w && exact(w)) return w.cols;
    this.windows.delete(`${symbol}:${interval}`);
    return this.columns(symbol, interval);
  }

  /** Number of bars of `c` visible at the current clock (closed by now). */
  private visible(c: CandleColumns, interval: Interval): number {
    return upperBound(c.time, this.clock.now() - INTERVAL_MS[interval]);
  }

  /** Finest interval with data for a symbol. */
  private finest(symbol: string): Interval {
    const byIv = this.requireSymbol(symbol);
    return INTERVALS.find((iv) => byIv.has(iv)) as Interval;
  }

  /**
   * [first, last] open time shared by every symbol's finest file, ms UTC (clock-independent; used to
   * pick a default replay start). Null when the files do not overlap.
   */
  commonRange(): { start: number; end: number } | null {
    let start = Number.NEGATIVE_INFINITY;
    let end = Number.POSITIVE_INFINITY;
    for (const s of this.symbols()) {
      // The finest interval always has a file; its first and last rows are enough (no full parse).
      const r = candleTimeRange(this.requireSymbol(s).get(this.finest(s)) as string, this.ranges);
      if (!r) return null;
      start = Math.max(start, r.start);
      end = Math.min(end, r.end);
    }
    return start <= end ? { start, end } : null;
  }

  /**
   * Instruments found in the folder. Tick and lot sizes are inferred from the data's decimals (the
   * files carry no contract specs); max leverage and min notional are unknown (null).
   */
  async instruments(): Promise<Instrument[]> {
    if (this.instrumentsCache) return this.instrumentsCache;
    this.instrumentsCache = this.symbols().map((symbol) => {
      const iv = this.finest(symbol);
      const c = this.window(symbol, iv)?.head ?? this.columns(symbol, iv);
      const quote = this.dir.quotes.get(symbol) ?? "USDT";
      return {
        symbol,
        venue_symbol: `${symbol}${quote}`,
        quote,
        tick_size: Math.min(decimalStep(c.close, DECIMALS_ROWS), decimalStep(c.open, DECIMALS_ROWS)),
        lot_size: decimalStep(c.volume, DECIMALS_ROWS),
        sz_decimals: null,
        asset_index: null,
        max_leverage: null,
        min_notional: null,
      };
    });
    return this.instrumentsCache;
  }

  /**
   * Ticker from the finest visible candles: mid = last close; change_24h = last close / close of the
   * bar 24h earlier − 1; volume_24h = Σ close × volume over the last 24h (quote, approximated per
   * bar); funding_rate = latest visible funding event; bid/ask/mark/index/open_interest null; time =
   * the last bar's close time.
   * @throws TwError STALE_DATA when no bar is visible yet.
   */
  async ticker(symbol: string): Promise<Ticker> {
    const iv = this.finest(symbol);
    const seen = this.clock.now() - INTERVAL_MS[iv];
    const c = this.bars(symbol, iv, (w) => {
      if (!covers(w, seen)) return false;
      const k = upperBound(w.cols.time, seen);
      return k === 0 || covers(w, w.cols.time[k - 1] - 86_400_000);
    });
    const n = this.visible(c, iv);
    if (n === 0) throw noDataYet(this, symbol, this.clock.now());
    const last = n - 1;
    const from = lowerBound(c.time, c.time[last] - 86_400_000 + 1);
    let vol = 0;
    for (let i = from; i <= last; i++) vol += c.close[i] * c.volume[i];
    const j = upperBound(c.time, c.time[last] - 86_400_000) - 1;
    const funding = await this.funding(symbol, { limit: 1 });
    return {
      symbol,
      mid: c.close[last],
      bid: null,
      ask: null,
      mark: null,
      index: null,
      funding_rate: funding.length > 0 ? funding[0].rate : null,
      open_interest: null,
      change_24h: j >= 0 && j < last ? simpleReturn(c.close[last], c.close[j]) : null,
      volume_24h: j >= 0 ? vol : null,
      time: c.time[last] + INTERVAL_MS[iv],
    };
  }

  /**
   * Visible candles in [start, end] (open times, inclusive). With `limit` and no `start`: the latest
   * `limit`; with `start`: the first `limit` from start.
   */
  async candles(symbol: string, interval: Interval, q: RangeQuery): Promise<Candle[]> {
    const { c, lo, end } = this.rows(symbol, interval, q);
    const out: Candle[] = [];
    for (let i = lo; i < end; i++) out.push(candleAt(c, i));
    return out;
  }

  /**
   * What {@link candles} returns, as rows [lo, end) of columns (treat them as read-only): for a
   * per-cycle reader that needs a few fields of each bar, not a candle object (MarketService.features).
   * @throws TwError NOT_FOUND (symbol or interval unavailable), INVALID_INPUT (malformed file).
   */
  rows(symbol: string, interval: Interval, q: RangeQuery): { c: CandleColumns; lo: number; end: number } {
    const seen = this.clock.now() - INTERVAL_MS[interval];
    const c = this.bars(symbol, interval, (w) => {
      if (!covers(w, seen)) return false;
      if (q.end !== undefined && q.end < seen && !covers(w, q.end)) return false;
      if (q.start !== undefined) return q.start > seen || covers(w, q.start);
      if (q.limit === undefined) return w.fromStart;
      const hiAll = upperBound(w.cols.time, seen);
      const hi = q.end === undefined ? hiAll : Math.min(hiAll, upperBound(w.cols.time, q.end));
      return w.fromStart || hi >= q.limit;
    });
    const hiAll = this.visible(c, interval);
    const hi = q.end === undefined ? hiAll : Math.min(hiAll, upperBound(c.time, q.end));
    let lo = q.start === undefined ? 0 : lowerBound(c.time, q.start);
    let end = hi;
    if (q.limit !== undefined) {
      if (q.start === undefined) lo = Math.max(lo, hi - q.limit);
      else end = Math.min(hi, lo + q.limit);
    }
    return { c, lo, end };
  }

  /** Replay data has no order book. */
  async orderbook(symbol: string, _depth: number): Promise<OrderBook | null> {
    this.requireSymbol(symbol);
    return null;
  }

  /** Whether the folders hold any funding file for `symbol`. */
  hasFunding(symbol: string): boolean {
    return (this.dir.funding.get(symbol)?.length ?? 0) > 0;
  }

  /**
   * Every funding point of a symbol, ignoring the clock, merged from all its files (empty without
   * one), plus the minutes where files disagreed. For run summaries; never expose it through a
   * live-clock API.
   * @throws TwError INVALID_INPUT for a malformed file (naming file and line).
   */
  allFunding(symbol: string): MergedFunding {
    this.requireSymbol(symbol);
    let m = this.fundingCache.get(symbol);
    if (!m) {
      m = mergeFundingFiles(this.dir.funding.get(symbol) ?? []);
      this.fundingCache.set(symbol, m);
    }
    return m;
  }

  /**
   * Fraction of the 8-hour funding times in [from, to] (ms UTC) the data covers, per symbol
   * (src/exchange/replay/funding.ts#fundingCoverage).
   */
  fundingCoverage(symbols: readonly string[], from: number, to: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of symbols) out[s] = fundingCoverage(this.allFunding(s).points, from, to);
    return out;
  }

  /**
   * How to get out of STALE_DATA at clock time `now` on this data, for the error a caller sees:
   * before the data (with `warmupMs` of history) the replay clock will get there by itself when it
   * moves with wall time (retryable), else the start must move; after the data's end waiting never
   * helps (not retryable): restart with an earlier TW_REPLAY_START or more data.
   * @param warmupMs history a request needs before `now` (features: 61 one-minute bars).
   */
  staleAdvice(
    now: number,
    warmupMs: number,
  ): { hint: string; retryable: boolean; details: Record<string, unknown> } {
    const range = this.commonRange();
    const iso = (t: number) => new Date(t).toISOString();
    if (!range) {
      return {
        hint: "The replay files share no time range; replay a folder whose symbols overlap in time.",
        retryable: false,
        details: { now, data_start: null, data_end: null },
      };
    }
    const details = { now, data_start: range.start, data_end: range.end + 60_000 };
    const moving = this.clock instanceof ReplayClock;
    const earliest = range.start + warmupMs;
    if (now < earliest) {
      return {
        hint: moving
          ? `The replay clock (${iso(now)}) is before the data has enough history; it reaches ${iso(earliest)} by itself, or restart with TW_REPLAY_START=${iso(earliest)} or later (the default start is the first bar + 7 days).`
          : `The replay clock (${iso(now)}) is before the data has enough history: start at ${iso(earliest)} or later (TW_REPLAY_START, or --from for the replay command).`,
        retryable: moving,
        details,
      };
    }
    if (now > range.end + 60_000) {
      return {
        hint: `The replay data ends at ${iso(range.end + 60_000)} and the replay clock (${iso(now)}) is past it; waiting will not help. Restart with an earlier TW_REPLAY_START (data starts ${iso(range.start)}; the default is the first bar + 7 days) or replay more data (TW_MARKET_DATA=replay:<dirs>).`,
        retryable: false,
        details,
      };
    }
    return {
      hint: `The replay data has a gap before ${iso(now)}; it resumes by itself as the replay clock moves, or restart with TW_REPLAY_START set to where the data is complete.`,
      retryable: moving,
      details,
    };
  }

  /** Visible funding events in [start, end]; same limit rule as {@link candles}. Empty without a funding file. */
  async funding(symbol: string, q: RangeQuery): Promise<FundingPoint[]> {
    const all = this.allFunding(symbol).points;
    if (all.length === 0) return [];
    const now = this.clock.now();
    const end = Math.min(now, q.end ?? now);
    let pts = all.filter((p) => p.time <= end && (q.start === undefined || p.time >= q.start));
    if (q.limit !== undefined) pts = q.start === undefined ? pts.slice(-q.limit) : pts.slice(0, q.limit);
    return pts;
  }
}

/**
 * History parsed before a declared window's first clock time ({@link ReplaySource.readAt}): a
 * ticker reads the bars of the 24 h before its last bar, features the last 70 minutes; 2 h more
 * leaves room for a gap in the data before the whole file is needed.
 */
const READ_LOOKBACK_MS = 26 * 3_600_000;

/** Rows whose decimals give an instrument's tick and lot sizes (src/exchange/analytics.ts#decimalStep). */
const DECIMALS_ROWS = 2000;

/**
 * Whether a binary search for time `x` on the window's columns finds what it finds on the whole
 * file: `x` within the window's first and last open times, or beyond an end the file shares.
 */
function covers(w: CandleWindow, x: number): boolean {
  const c = w.cols;
  return (
    (w.fromStart || (c.length > 0 && x >= c.time[0])) &&
    (w.toEnd || (c.length > 0 && x <= c.time[c.length - 1]))
  );
}

function noDataYet(source: ReplaySource, symbol: string, now: number): TwError {
  const advice = source.staleAdvice(now, 60_000);
  return new TwError("STALE_DATA", `No ${symbol} data at or before ${new Date(now).toISOString()}.`, {
    hint: advice.hint,
    retryable: advice.retryable,
    details: { symbol, ...advice.details },
  });
}

/**
 * Aggregates `c` (interval `from` ms) into buckets of `to` ms aligned to epoch multiples. Keeps only
 * complete buckets (to/from sub-bars): open = first open, high = max, low = min, close = last close,
 * volume = sum.
 */
export function aggregate(c: CandleColumns, from: number, to: number): CandleColumns {
  const per = to / from;
  const time: number[] = [];
  const o: number[] = [];
  const h: number[] = [];
  const l: number[] = [];
  const cl: number[] = [];
  const v: number[] = [];
  let i = 0;
  while (i < c.length) {
    const bucket = Math.floor(c.time[i] / to) * to;
    let j = i;
    let hi = Number.NEGATIVE_INFINITY;
    let lo = Number.POSITIVE_INFINITY;
    let vol = 0;
    while (j < c.length && c.time[j] < bucket + to) {
      hi = Math.max(hi, c.high[j]);
      lo = Math.min(lo, c.low[j]);
      vol += c.volume[j];
      j++;
    }
    if (j - i === per && c.time[i] === bucket) {
      time.push(bucket);
      o.push(c.open[i]);
      h.push(hi);
      l.push(lo);
      cl.push(c.close[j - 1]);
      v.push(vol);
    }
    i = j;
  }
  return {
    time: Float64Array.from(time),
    open: Float64Array.from(o),
    high: Float64Array.from(h),
    low: Float64Array.from(l),
    close: Float64Array.from(cl),
    volume: Float64Array.from(v),
    length: time.length,
  };
}
