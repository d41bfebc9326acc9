import { TwError } from "../errors.js";
import { closeAtOrBefore, correlation, logReturns, simpleReturn, stdev } from "./analytics.js";
import type { MarketService } from "./service.js";
import { type Candle, INTERVAL_MS, type Interval } from "./types.js";

/**
 * Cross-symbol views over a {@link MarketService}: market breadth/movers and pairwise comparison.
 * Returns are simple fractions `last / past − 1`; volatility is the sample stdev of per-bar log
 * returns `ln(c[i]/c[i−1])` (not annualised); volume is quote currency Σ close × volume per bar.
 */

/** One symbol's line in a summary. */
export interface SummaryRow {
  symbol: string;
  last: number;
  /** last close / close `lookback` earlier − 1. */
  return: number;
  /** Σ close × volume over the lookback, quote currency. */
  volume_quote: number;
}

/** Output of {@link marketSummary}. */
export interface MarketSummary {
  lookback_minutes: number;
  interval: Interval;
  /** Rows ranked by return, best first. */
  ranked: SummaryRow[];
  advancers: number;
  decliners: number;
  unchanged: number;
  /** Mean return over the symbols (fraction). */
  average_return: number;
  strongest: string;
  weakest: string;
  top_movers_by_return: SummaryRow[];
  top_by_volume: SummaryRow[];
  /** Requested symbols the source does not list. */
  missing: string[];
  /** Oldest "last bar close time" across symbols, ms UTC. */
  as_of: number;
}

async function window(
  m: MarketService,
  symbol: string,
  interval: Interval,
  lookbackMs: number,
): Promise<{ bars: Candle[]; last: Candle } | null> {
  const iv = INTERVAL_MS[interval];
  const now = m.clock.now();
  const bars = await m.candles(symbol, interval, { start: now - lookbackMs - 2 * iv, end: now });
  const last = bars.at(-1);
  return last ? { bars, last } : null;
}

/** The interval used for a lookback: 1m up to one day, else 1h (keeps requests ≤ ~1500 bars). */
export function intervalFor(lookbackMinutes: number): Interval {
  return lookbackMinutes <= 1440 ? "1m" : "1h";
}

/**
 * Breadth and movers over `lookbackMinutes` for `symbols` (unknown ones are reported in `missing`).
 * @throws TwError STALE_DATA when no symbol has data in the window.
 */
export async function marketSummary(
  m: MarketService,
  symbols: string[],
  lookbackMinutes: number,
  top: number,
): Promise<MarketSummary> {
  const interval = intervalFor(lookbackMinutes);
  const lookbackMs = lookbackMinutes * 60_000;
  const rows: SummaryRow[] = [];
  const missing: string[] = [];
  let asOf = Number.POSITIVE_INFINITY;
  for (const s of symbols) {
    let sym: string;
    try {
      sym = await m.resolve(s);
    } catch (e) {
      if (e instanceof TwError && e.code === "NOT_FOUND") {
        missing.push(s);
        continue;
      }
      throw e;
    }
    const w = await window(m, sym, interval, lookbackMs);
    const ret = w ? simpleReturn(w.last.close, closeAtOrBefore(w.bars, w.last.time - lookbackMs)) : null;
    if (!w || ret === null) {
      missing.push(sym);
      continue;
    }
    const volume = w.bars
      .filter((b) => b.time > w.last.time - lookbackMs)
      .reduce((a, b) => a + b.close * b.volume, 0);
    rows.push({ symbol: sym, last: w.last.close, return: ret, volume_quote: volume });
    asOf = Math.min(asOf, w.last.time + INTERVAL_MS[interval]);
  }
  if (rows.length === 0) {
    throw new TwError("STALE_DATA", "No symbol has data for the requested lookback.", {
      hint: "Use a shorter lookback_minutes or check system_get_status for data freshness.",
      details: { missing },
    });
  }
  const ranked = [...rows].sort((a, b) => b.return - a.return);
  return {
    lookback_minutes: lookbackMinutes,
    interval,
    ranked,
    advancers: rows.filter((r) => r.return > 0).length,
    decliners: rows.filter((r) => r.return < 0).length,
    unchanged: rows.filter((r) => r.return === 0).length,
    average_return: rows.reduce((a, r) => a + r.return, 0) / rows.length,
    strongest: ranked[0].symbol,
    weakest: ranked[ranked.length - 1].symbol,
    top_movers_by_return: [...rows].sort((a, b) => Math.abs(b.return) - Math.abs(a.return)).slice(0, top),
    top_by_volume: [...rows].sort((a, b) => b.volume_quote - a.volume_quote).slice(0, top),
    missing,
    as_of: asOf,
  };
}

/** Output of {@link compareSymbols}. */
export interface Comparison {
  interval: Interval;
  lookback_minutes: number;
  benchmark: string;
  rows: Array<{
    symbol: string;
    return: number;
    /** stdev of per-bar log returns over the lookback (per `interval`, not annualised). */
    volatility: number | null;
    /** return − benchmark return. */
    relative_strength: number;
    bars: number;
  }>;
  /** Pearson correlation of per-bar log returns on common bar times; `matrix[i][j]` for rows i, j. */
  correlation: Array<Array<number | null>>;
  as_of: number;
}

/**
 * Returns, realised volatility, correlation and relative strength (vs `benchmark`, default the
 * first symbol) over `lookbackMinutes` on `interval` bars.
 * @throws TwError NOT_FOUND (unknown symbol), STALE_DATA (a symbol has no data in the window).
 */
export async function compareSymbols(
  m: MarketService,
  symbols: string[],
  lookbackMinutes: number,
  interval: Interval,
  benchmark?: string,
): Promise<Comparison> {
  const syms: string[] = [];
  for (const s of symbols) syms.push(await m.resolve(s));
  const bench = benchmark === undefined ? syms[0] : await m.resolve(benchmark);
  if (!syms.includes(bench)) syms.push(bench);
  const lookbackMs = lookbackMinutes * 60_000;
  const series = new Map<string, { ret: number; lr: Map<number, number>; vol: number | null; n: number }>();
  let asOf = Number.POSITIVE_INFINITY;
  for (const s of syms) {
    const w = await window(m, s, interval, lookbackMs);
    const ret = w ? simpleReturn(w.last.close, closeAtOrBefore(w.bars, w.last.time - lookbackMs)) : null;
    if (!w || ret === null) {
      throw new TwError(
        "STALE_DATA",
        `No ${interval} data for ${s} over the last ${lookbackMinutes} minutes.`,
        {
          hint: "Use a shorter lookback_minutes.",
        },
      );
    }
    const inWin = w.bars.filter((b) => b.time >= w.last.time - lookbackMs);
    const rets = logReturns(inWin.map((b) => b.close));
    const lr = new Map<number, number>();
    for (let i = 1; i < inWin.length; i++) lr.set(inWin[i].time, rets[i - 1]);
    series.set(s, { ret, lr, vol: stdev(rets), n: inWin.length });
    asOf = Math.min(asOf, w.last.time + INTERVAL_MS[interval]);
  }
  const benchRet = (series.get(bench) as { ret: number }).ret;
  const corr = syms.map((a) =>
    syms.map((b) => {
      const sa = (series.get(a) as { lr: Map<number, number> }).lr;
      const sb = (series.get(b) as { lr: Map<number, number> }).lr;
      const times = [...sa.keys()].filter((t) => sb.has(t));
      return correlation(
        times.map((t) => sa.get(t) as number),
        times.map((t) => sb.get(t) as number),
      );
    }),
  );
  return {
    interval,
    lookback_minutes: lookbackMinutes,
    benchmark: bench,
    rows: syms.map((s) => {
      const v = series.get(s) as { ret: number; vol: number | null; n: number };
      return { symbol: s, return: v.ret, volatility: v.vol, relative_strength: v.ret - benchRet, bars: v.n };
    }),
    correlation: corr,
    as_of: asOf,
  };
}
