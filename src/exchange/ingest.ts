import type { CandleStore } from "../store/candles.js";
import { candleAt, loadCandleColumns } from "./replay/csv.js";
import { openReplayDir } from "./replay/dir.js";
import { mergeFundingFiles } from "./replay/funding.js";
import type { Candle, Interval, MarketData } from "./types.js";

/**
 * Bulk loads into the candle store: `tradewarden data import <dir>` (replay files) and
 * `tradewarden data fetch` (a live source). Both are idempotent: rows already stored are kept.
 */

/** One loaded series. `rows` read, `inserted` new in the store. */
export interface IngestRow {
  symbol: string;
  interval: Interval | "funding";
  rows: number;
  inserted: number;
  first: number | null;
  last: number | null;
}

/**
 * Imports every candle and funding file of replay folders under `source` (default
 * `replay:<first folder>`). Each file is validated completely before anything of it is written.
 * @throws TwError CONFIG_INVALID (folder), INVALID_INPUT (malformed file, naming file and line).
 */
export function importReplayDir(
  store: CandleStore,
  dirs: string[],
  source?: string,
  onProgress?: (done: number, total: number) => void,
): { source: string; series: IngestRow[] } {
  const d = openReplayDir(dirs);
  const label = source ?? `replay:${d.dirs[0]}`;
  const series: IngestRow[] = [];
  const total = [...d.candles.entries()].reduce(
    (n, [s, byIv]) => n + byIv.size + (d.funding.has(s) ? 1 : 0),
    0,
  );
  let done = 0;
  for (const [symbol, byIv] of [...d.candles.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [interval, file] of byIv) {
      const c = loadCandleColumns(file);
      const candles: Candle[] = [];
      for (let i = 0; i < c.length; i++) candles.push(candleAt(c, i));
      const inserted = store.putCandles(label, symbol, interval, candles);
      series.push({
        symbol,
        interval,
        rows: c.length,
        inserted,
        first: c.time[0] ?? null,
        last: c.time[c.length - 1] ?? null,
      });
      onProgress?.(++done, total);
    }
    const f = d.funding.get(symbol);
    if (f) {
      const pts = mergeFundingFiles(f).points;
      const inserted = store.putFunding(label, symbol, pts);
      series.push({
        symbol,
        interval: "funding",
        rows: pts.length,
        inserted,
        first: pts[0]?.time ?? null,
        last: pts.at(-1)?.time ?? null,
      });
      onProgress?.(++done, total);
    }
  }
  return { source: label, series };
}

/**
 * Fetches closed candles with open time in [from, to] (ms UTC) per symbol from a live source into
 * the store under the source id.
 * @throws TwError from the source (EXCHANGE_UNAVAILABLE when offline, RATE_LIMITED, NOT_FOUND).
 */
export async function fetchToStore(
  market: MarketData,
  store: CandleStore,
  opts: {
    symbols: string[];
    interval: Interval;
    from: number;
    to: number;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<IngestRow[]> {
  const out: IngestRow[] = [];
  let done = 0;
  for (const symbol of opts.symbols) {
    const candles = await market.candles(symbol, opts.interval, { start: opts.from, end: opts.to });
    const inserted = store.putCandles(market.id, symbol, opts.interval, candles);
    out.push({
      symbol,
      interval: opts.interval,
      rows: candles.length,
      inserted,
      first: candles[0]?.time ?? null,
      last: candles.at(-1)?.time ?? null,
    });
    opts.onProgress?.(++done, opts.symbols.length);
  }
  return out;
}
