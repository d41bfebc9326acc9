import { TwError } from "../errors.js";
import {
  aggregate,
  type CandleColumns,
  loadCandleColumns,
  mergeFundingFiles,
  openReplayDir,
} from "../exchange/replay/index.js";
import { type FundingPoint, INTERVAL_MS, INTERVALS, type Interval } from "../exchange/types.js";
import { fundingCoverage } from "./coverage.js";
import type { Bars, Frame } from "./types.js";

/**
 * Builds backtest {@link Frame}s from candle columns: replay folders (the CSV/CSV.gz layout of
 * data/, loaded by src/exchange/replay) or candles fetched from any MarketData source.
 * Symbols are intersected on open time (files of one folder start 1–2 minutes apart), the range is
 * cut to [from, to] (bar open times, inclusive), and funding events are bucketed into the bar that
 * contains them (times rounded to the minute, since exchange settlement times jitter by a few ms).
 * Each frame records its funding coverage per symbol (src/backtest/coverage.ts).
 */

/** What to load. */
export interface FrameRequest {
  symbols: string[];
  interval: Interval;
  /** First bar open time to include, ms UTC. */
  from?: number;
  /** Last bar open time to include, ms UTC. */
  to?: number;
  /** Attach funding series when available. Default true. */
  funding?: boolean;
}

/**
 * Loads a frame from replay folders. A missing interval file is aggregated from the 1m file when
 * there is one (complete buckets only).
 * @throws TwError NOT_FOUND for a symbol/interval with no file, INVALID_INPUT for an empty range,
 *   CONFIG_INVALID for a missing folder (from openReplayDir).
 */
export function loadFrameFromDirs(dirs: string | string[], req: FrameRequest): Frame {
  const rd = openReplayDir(dirs);
  const cols: CandleColumns[] = [];
  const funding: FundingPoint[][] = [];
  for (const sym of req.symbols) {
    const byIv = rd.candles.get(sym);
    const file = byIv?.get(req.interval);
    if (file) cols.push(loadCandleColumns(file));
    else if (byIv?.get("1m") && INTERVAL_MS[req.interval] % INTERVAL_MS["1m"] === 0) {
      cols.push(aggregate(loadCandleColumns(byIv.get("1m")!), INTERVAL_MS["1m"], INTERVAL_MS[req.interval]));
    } else {
      throw new TwError("NOT_FOUND", `No ${sym} ${req.interval} candles in ${rd.dirs.join(", ")}.`, {
        hint: `Available symbols: ${[...rd.candles.keys()].sort().join(", ")}; intervals: ${INTERVALS.join(", ")}.`,
        details: { symbol: sym, interval: req.interval },
      });
    }
    const ff = rd.funding.get(sym);
    funding.push(req.funding !== false && ff ? mergeFundingFiles(ff).points : []);
  }
  const anyFunding = funding.some((f) => f.length > 0);
  return buildFrame(req, cols, anyFunding ? funding : null);
}

/**
 * Builds a frame from per-symbol candle columns (same order as `req.symbols`) and optional funding.
 * @throws TwError INVALID_INPUT when no bar is common to all symbols inside [from, to].
 */
export function buildFrame(
  req: FrameRequest,
  cols: CandleColumns[],
  funding: FundingPoint[][] | null,
): Frame {
  const from = req.from ?? Number.NEGATIVE_INFINITY;
  const to = req.to ?? Number.POSITIVE_INFINITY;
  const common = intersectTimes(cols, from, to);
  if (common.length === 0) {
    throw new TwError(
      "INVALID_INPUT",
      `No bars common to ${req.symbols.join(", ")} in the requested range.`,
      {
        hint: "Check from/to against the data's range, or backtest the symbols separately.",
      },
    );
  }
  const assets: Bars[] = cols.map((c) => pick(c, common));
  const intervalMs = INTERVAL_MS[req.interval];
  const end = common[common.length - 1] + intervalMs;
  return {
    symbols: [...req.symbols],
    intervalMs,
    time: common,
    assets,
    funding: funding ? funding.map((f) => bucketFunding(common, intervalMs, f)) : null,
    fundingCoverage: req.symbols.map((_, j) =>
      funding
        ? fundingCoverage(
            funding[j].map((e) => e.time),
            common[0],
            end,
          )
        : 0,
    ),
  };
}

function intersectTimes(cols: CandleColumns[], from: number, to: number): Float64Array {
  let times = cols[0].time.filter((t) => t >= from && t <= to);
  for (let k = 1; k < cols.length; k++) {
    const other = cols[k].time;
    const keep: number[] = [];
    let j = 0;
    for (let i = 0; i < times.length; i++) {
      while (j < other.length && other[j] < times[i]) j++;
      if (j < other.length && other[j] === times[i]) keep.push(times[i]);
    }
    times = Float64Array.from(keep);
  }
  return times;
}

function pick(c: CandleColumns, times: Float64Array): Bars {
  const n = times.length;
  const b: Bars = {
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
  };
  let j = 0;
  for (let i = 0; i < n; i++) {
    while (c.time[j] < times[i]) j++;
    b.open[i] = c.open[j];
    b.high[i] = c.high[j];
    b.low[i] = c.low[j];
    b.close[i] = c.close[j];
    b.volume[i] = c.volume[j];
  }
  return b;
}

/**
 * Per-bar funding rate: the sum of rates whose event time (rounded to the minute) falls in
 * [open_i, open_i + interval). Events in gaps between bars are dropped.
 */
export function bucketFunding(time: Float64Array, intervalMs: number, events: FundingPoint[]): Float64Array {
  const out = new Float64Array(time.length);
  let i = 0;
  for (const e of events) {
    const t = Math.round(e.time / 60_000) * 60_000;
    while (i < time.length && time[i] + intervalMs <= t) i++;
    if (i >= time.length) break;
    if (t >= time[i]) out[i] += e.rate;
  }
  return out;
}

/** A frame restricted to bars [start, end) (views, no copy). */
export function sliceFrame(f: Frame, start: number, end: number): Frame {
  const sub = (a: Float64Array) => a.subarray(start, end);
  return {
    symbols: f.symbols,
    intervalMs: f.intervalMs,
    time: sub(f.time),
    assets: f.assets.map((b) => ({
      open: sub(b.open),
      high: sub(b.high),
      low: sub(b.low),
      close: sub(b.close),
      volume: sub(b.volume),
    })),
    funding: f.funding ? f.funding.map(sub) : null,
  };
}
