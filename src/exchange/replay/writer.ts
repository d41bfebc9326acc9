import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { TwError } from "../../errors.js";
import type { Candle, FundingPoint, Interval, MarketData } from "../types.js";
import { loadCandleFile } from "./csv.js";

/**
 * Writes replay folders (the data/ layout of data/README.md): `<COIN><QUOTE>_<interval>.csv.gz`
 * (`open_time_ms,open,high,low,close,volume`) and `<COIN><QUOTE>_funding_<from>_<to>.csv.gz`
 * (`funding_time_ms,funding_rate`, dates UTC). `tradewarden data fetch --out DIR` writes them, so
 * `replay --data DIR` and `backtest --data DIR` run on what was fetched.
 *
 * Numbers are written with JavaScript's shortest round-trip formatting, so reading a file back gives
 * exactly the values fetched. Files are written to a temporary name and renamed: a failed fetch
 * never leaves a half-written file. Fetching into a folder that already has a symbol's candle file
 * merges by open time (the newly fetched bar wins), so a folder grows by repeated fetches.
 */

/** One written file. */
export interface WrittenSeries {
  symbol: string;
  interval: Interval | "funding";
  /** File name inside the folder; null when the source had no rows (nothing written). */
  file: string | null;
  /** Rows fetched. */
  rows: number;
  /** Rows in the file after merging with what it held. */
  total: number;
  first: number | null;
  last: number | null;
}

/** Writes `text` gzipped to `path` atomically (temporary file + rename). */
function writeGz(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, gzipSync(text));
  renameSync(tmp, path);
}

/**
 * Writes (or merges into) a candle file. Rows are de-duplicated by open time, the given rows winning.
 * @returns the rows now in the file, ascending.
 * @throws TwError INVALID_INPUT when an existing file at `path` is malformed (it is left untouched).
 */
export function writeCandleFile(path: string, candles: readonly Candle[]): Candle[] {
  const byTime = new Map<number, Candle>();
  if (existsSync(path)) for (const c of loadCandleFile(path)) byTime.set(c.time, c);
  for (const c of candles) byTime.set(c.time, c);
  const rows = [...byTime.values()].sort((a, b) => a.time - b.time);
  const body = rows.map((c) => `${c.time},${c.open},${c.high},${c.low},${c.close},${c.volume}`).join("\n");
  writeGz(path, `open_time_ms,open,high,low,close,volume\n${body}${rows.length > 0 ? "\n" : ""}`);
  return rows;
}

/** Writes a funding file (replacing one of the same name). */
export function writeFundingFile(path: string, points: readonly FundingPoint[]): void {
  const body = points.map((p) => `${p.time},${p.rate}`).join("\n");
  writeGz(path, `funding_time_ms,funding_rate\n${body}${points.length > 0 ? "\n" : ""}`);
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Options of {@link fetchToReplayDir}. Times ms UTC, inclusive (candle open times). */
export interface FetchToDirOptions {
  symbols: string[];
  interval: Interval;
  from: number;
  to: number;
  /** Output folder (created when missing). */
  out: string;
  /** Also fetch funding (default true). */
  funding?: boolean;
  /** Quote currency per symbol for the file names (the instrument's `quote`). */
  quoteOf: (symbol: string) => string;
  /** Called after each symbol. */
  onProgress?: (done: number, total: number, symbol: string) => void;
}

/**
 * Fetches closed candles (and funding) of each symbol in [from, to] from a source and writes them in
 * the replay layout. Nothing is written for a symbol until both its series are fetched.
 * @throws TwError from the source (EXCHANGE_UNAVAILABLE, RATE_LIMITED, NOT_FOUND), CONFIG_INVALID
 *   when `out` exists and is not a folder.
 */
export async function fetchToReplayDir(market: MarketData, o: FetchToDirOptions): Promise<WrittenSeries[]> {
  try {
    mkdirSync(o.out, { recursive: true });
  } catch (e) {
    throw new TwError("CONFIG_INVALID", `Cannot create the output folder ${o.out}.`, {
      hint: "Pass --out a folder path you can write to.",
      cause: e,
    });
  }
  const out: WrittenSeries[] = [];
  let done = 0;
  for (const symbol of o.symbols) {
    const candles = await market.candles(symbol, o.interval, { start: o.from, end: o.to });
    const funding = o.funding === false ? null : await market.funding(symbol, { start: o.from, end: o.to });
    const stem = `${symbol}${o.quoteOf(symbol)}`;
    const candleName = `${stem}_${o.interval}.csv.gz`;
    const all = candles.length > 0 ? writeCandleFile(join(o.out, candleName), candles) : null;
    out.push({
      symbol,
      interval: o.interval,
      file: all ? candleName : null,
      rows: candles.length,
      total: all?.length ?? 0,
      first: candles[0]?.time ?? null,
      last: candles.at(-1)?.time ?? null,
    });
    if (funding) {
      const name = `${stem}_funding_${day(o.from)}_${day(o.to)}.csv.gz`;
      if (funding.length > 0) writeFundingFile(join(o.out, name), funding);
      out.push({
        symbol,
        interval: "funding",
        file: funding.length > 0 ? name : null,
        rows: funding.length,
        total: funding.length,
        first: funding[0]?.time ?? null,
        last: funding.at(-1)?.time ?? null,
      });
    }
    o.onProgress?.(++done, o.symbols.length, symbol);
  }
  return out;
}
