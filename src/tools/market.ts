import { z } from "zod";
import { TwError } from "../errors.js";
import { compareSymbols, marketSummary } from "../exchange/insights.js";
import { SYMBOL } from "../exchange/symbols.js";
import { type Candle, INTERVAL_MS, INTERVALS } from "../exchange/types.js";
import { defineTool } from "./registry.js";

/**
 * market toolset (scope market:read, read-only): thin adapters over `app.market` (MarketService,
 * src/exchange/service.ts). Every result carries `source` (market-data source id), `as_of` (ms UTC:
 * the time the newest returned data refers to) and `stale` (as_of older than TW_STALE_AFTER_MS, or
 * than one interval for candles).
 */

const symbol = SYMBOL;
const time = z
  .union([z.number().int(), z.iso.datetime({ offset: true })])
  .describe("ms UTC or ISO-8601 with zone.");
const interval = z.enum(INTERVALS).describe("Candle interval.");
const fresh = { source: z.string(), as_of: z.number().nullable(), stale: z.boolean() };
const ANN = { readOnlyHint: true, openWorldHint: true } as const;

const candleOut = z.object({
  time: z.number(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number(),
});
const level = z.object({ px: z.number(), sz: z.number() });
/** One symbol's row in market_get_summary (one definition in tools/list for its three lists). */
const mover = z
  .object({ symbol: z.string(), last: z.number(), return: z.number(), volume_quote: z.number() })
  .meta({ id: "mover" });

function ms(v: number | string | undefined): number | undefined {
  return v === undefined ? undefined : typeof v === "number" ? v : Date.parse(v);
}

/** Opaque cursor = base64url JSON. @throws TwError INVALID_INPUT when it does not decode. */
function decodeCursor<T>(c: string): T {
  try {
    return JSON.parse(Buffer.from(c, "base64url").toString("utf8")) as T;
  } catch {
    throw new TwError("INVALID_INPUT", "cursor is not valid.", {
      hint: "Pass next_cursor exactly as returned.",
    });
  }
}
function encodeCursor(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

export const marketTools = [
  defineTool({
    name: "market_list_instruments",
    toolset: "market",
    title: "List instruments",
    description:
      "Perpetual instruments of the market-data source with their precision: tick_size (quote), lot_size (coins). null = not published by the source.",
    scope: "market:read",
    annotations: ANN,
    input: z
      .object({
        limit: z.number().int().min(1).max(500).default(200),
        cursor: z.string().max(200).optional(),
      })
      .strict(),
    output: z.object({
      instruments: z.array(
        z.object({
          symbol: z.string(),
          venue_symbol: z.string(),
          quote: z.string(),
          tick_size: z.number().nullable(),
          lot_size: z.number(),
          sz_decimals: z.number().nullable(),
          asset_index: z.number().nullable(),
          max_leverage: z.number().nullable(),
          min_notional: z.number().nullable(),
        }),
      ),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
      ...fresh,
    }),
    summarize: (r) => ({ instruments: r.instruments.length, truncated: r.truncated }),
    handler: async (args, { app }) => {
      const list = await app.market.instruments();
      const offset = args.cursor ? decodeCursor<{ o: number }>(args.cursor).o : 0;
      const page = list.slice(offset, offset + args.limit);
      const more = offset + args.limit < list.length;
      return {
        instruments: page,
        truncated: more,
        next_cursor: more ? encodeCursor({ o: offset + args.limit }) : null,
        source: app.market.id,
        as_of: app.market.clock.now(),
        stale: false,
      };
    },
  }),

  defineTool({
    name: "market_get_ticker",
    toolset: "market",
    title: "Ticker",
    description:
      "One symbol's mid, bid/ask/mark/index (quote), funding_rate (fraction per funding interval), open interest (coins), 24h change (fraction) and quote volume. null = not provided (replay: mid is the last 1m close, no book).",
    scope: "market:read",
    annotations: ANN,
    input: z.object({ symbol }).strict(),
    output: z.object({
      symbol: z.string(),
      mid: z.number(),
      bid: z.number().nullable(),
      ask: z.number().nullable(),
      mark: z.number().nullable(),
      index: z.number().nullable(),
      funding_rate: z.number().nullable(),
      open_interest: z.number().nullable(),
      change_24h: z.number().nullable(),
      volume_24h: z.number().nullable(),
      time: z.number(),
      ...fresh,
    }),
    handler: async (args, { app }) => {
      const t = await app.market.ticker(args.symbol);
      return { ...t, source: app.market.id, ...app.market.freshness(t.time) };
    },
  }),

  defineTool({
    name: "market_get_candles",
    toolset: "market",
    title: "Candles",
    description:
      "Closed OHLCV candles, ascending: time = open time (ms UTC), prices in quote, volume in coins. With start: from start on; without: the latest `limit` up to end. Page on with next_cursor.",
    scope: "market:read",
    annotations: ANN,
    input: z
      .object({
        symbol,
        interval: interval.default("1m"),
        start: time.optional(),
        end: time.optional(),
        limit: z.number().int().min(1).max(1000).default(100),
        cursor: z.string().max(500).optional(),
      })
      .strict(),
    output: z.object({
      symbol: z.string(),
      interval: z.enum(INTERVALS),
      candles: z.array(candleOut),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
      ...fresh,
    }),
    summarize: (r) => ({
      symbol: r.symbol,
      interval: r.interval,
      candles: r.candles.length,
      truncated: r.truncated,
    }),
    handler: async (args, { app }) => {
      const sym = await app.market.resolve(args.symbol);
      let start = ms(args.start);
      let end = ms(args.end);
      if (args.cursor) ({ start, end } = decodeCursor<{ start?: number; end?: number }>(args.cursor));
      if (start !== undefined && end !== undefined && start > end) {
        throw new TwError("INVALID_INPUT", "start is after end.", { hint: "Pass start ≤ end." });
      }
      const iv = INTERVAL_MS[args.interval];
      // One extra bar tells whether the page is truncated.
      const got: Candle[] = await app.market.candles(sym, args.interval, {
        start,
        end,
        limit: args.limit + 1,
      });
      const truncated = got.length > args.limit;
      const candles = start === undefined ? got.slice(-args.limit) : got.slice(0, args.limit);
      let next: string | null = null;
      if (truncated && candles.length > 0) {
        next =
          start === undefined
            ? encodeCursor({ end: candles[0].time - 1 })
            : encodeCursor({ start: candles[candles.length - 1].time + iv, end });
      }
      const last = candles.at(-1);
      const reachesNow = end === undefined || end >= app.market.clock.now() - app.market.staleAfterMs;
      const f = last ? app.market.freshness(last.time + iv, iv) : null;
      return {
        symbol: sym,
        interval: args.interval,
        candles,
        truncated,
        next_cursor: next,
        source: app.market.id,
        as_of: f?.as_of ?? null,
        stale: reachesNow && (f === null || f.stale),
      };
    },
  }),

  defineTool({
    name: "market_get_orderbook",
    toolset: "market",
    title: "Order book",
    description:
      "L2 book, best first (px quote, sz coins; Hyperliquid serves ≤ 20 levels), with spread_bps and imbalance = (Σbid − Σask)/(Σbid + Σask). NOT_FOUND on replay data (no book).",
    scope: "market:read",
    annotations: ANN,
    input: z.object({ symbol, depth: z.number().int().min(1).max(100).default(20) }).strict(),
    output: z.object({
      symbol: z.string(),
      bids: z.array(level),
      asks: z.array(level),
      spread_bps: z.number().nullable(),
      imbalance: z.number().nullable(),
      time: z.number(),
      ...fresh,
    }),
    summarize: (r) => ({
      symbol: r.symbol,
      bids: r.bids.length,
      asks: r.asks.length,
      spread_bps: r.spread_bps,
    }),
    handler: async (args, { app }) => {
      const b = await app.market.orderbook(args.symbol, args.depth);
      if (!b) {
        throw new TwError("NOT_FOUND", `${app.market.id} has no order book for ${args.symbol}.`, {
          hint: "Use market_get_ticker for the mid price (replay data has candles only).",
        });
      }
      return { ...b, source: app.market.id, ...app.market.freshness(b.time) };
    },
  }),

  defineTool({
    name: "market_get_funding",
    toolset: "market",
    title: "Funding history",
    description:
      "Funding events, ascending: time (ms UTC), rate per funding interval (Hyperliquid 1 h, Binance 8 h; positive = longs pay). Without start: the latest `limit`. `note` says when the source has no funding data.",
    scope: "market:read",
    annotations: ANN,
    input: z
      .object({
        symbol,
        start: time.optional(),
        end: time.optional(),
        limit: z.number().int().min(1).max(1000).default(100),
      })
      .strict(),
    output: z.object({
      symbol: z.string(),
      funding: z.array(z.object({ time: z.number(), rate: z.number() })),
      /** Set when the list is empty for a reason the caller should know (no funding data at all). */
      note: z.string().optional(),
      ...fresh,
    }),
    summarize: (r) => ({ symbol: r.symbol, funding: r.funding.length }),
    handler: async (args, { app }) => {
      const sym = await app.market.resolve(args.symbol);
      const pts = await app.market.funding(sym, {
        start: ms(args.start),
        end: ms(args.end),
        limit: args.limit,
      });
      const last = pts.at(-1);
      const note = !app.market.hasFunding(sym)
        ? `${app.market.id} has no funding data for ${sym}: funding is not booked for it (paper PnL and backtests run without it). Add ${sym}<QUOTE>_funding*.csv[.gz] files to the replay folders (replay/backtest: --funding DIR).`
        : pts.length === 0
          ? "No funding events in the requested range."
          : undefined;
      return {
        symbol: sym,
        funding: pts,
        ...(note ? { note } : {}),
        source: app.market.id,
        as_of: last?.time ?? null,
        // Funding settles every 1–8 h, so "stale" here means no event in the last 8 h.
        stale:
          last === undefined || app.market.clock.now() - last.time > 8 * 3_600_000 + app.market.staleAfterMs,
      };
    },
  }),

  defineTool({
    name: "market_get_summary",
    toolset: "market",
    title: "Market summary",
    description:
      "Breadth and movers of the universe (or `symbols`) over lookback_minutes: each symbol's return (fraction) and quote volume, advancers/decliners, strongest/weakest, top movers. 1m bars up to a day, 1h beyond.",
    scope: "market:read",
    annotations: ANN,
    input: z
      .object({
        symbols: z.array(symbol).min(1).max(50).optional(),
        lookback_minutes: z.number().int().min(1).max(43_200).default(1440),
        top: z.number().int().min(1).max(20).default(3),
      })
      .strict(),
    output: z.object({
      lookback_minutes: z.number(),
      interval: z.enum(INTERVALS),
      ranked: z.array(mover),
      advancers: z.number(),
      decliners: z.number(),
      unchanged: z.number(),
      average_return: z.number(),
      strongest: z.string(),
      weakest: z.string(),
      top_movers_by_return: z.array(mover),
      top_by_volume: z.array(mover),
      missing: z.array(z.string()),
      ...fresh,
    }),
    summarize: (r) => ({
      strongest: r.strongest,
      weakest: r.weakest,
      advancers: r.advancers,
      decliners: r.decliners,
    }),
    handler: async (args, { app }) => {
      const s = await marketSummary(
        app.market,
        args.symbols ?? app.market.universe,
        args.lookback_minutes,
        args.top,
      );
      const f = app.market.freshness(s.as_of, INTERVAL_MS[s.interval]);
      return { ...s, source: app.market.id, ...f };
    },
  }),

  defineTool({
    name: "market_compare",
    toolset: "market",
    title: "Compare symbols",
    description:
      "Compares 2–10 symbols over a lookback on `interval` bars: return, volatility (stdev of per-bar log returns, not annualised), strength relative to the benchmark (default: first symbol) and the correlation matrix (in `rows` order).",
    scope: "market:read",
    annotations: ANN,
    input: z
      .object({
        symbols: z.array(symbol).min(2).max(10),
        lookback_minutes: z.number().int().min(60).max(43_200).default(10_080),
        interval: interval.default("1h"),
        benchmark: symbol.optional(),
      })
      .strict(),
    output: z.object({
      interval: z.enum(INTERVALS),
      lookback_minutes: z.number(),
      benchmark: z.string(),
      rows: z.array(
        z.object({
          symbol: z.string(),
          return: z.number(),
          volatility: z.number().nullable(),
          relative_strength: z.number(),
          bars: z.number(),
        }),
      ),
      correlation: z.array(z.array(z.number().nullable())),
      ...fresh,
    }),
    summarize: (r) => ({ benchmark: r.benchmark, rows: r.rows.length }),
    handler: async (args, { app }) => {
      if (INTERVAL_MS[args.interval] * 3 > args.lookback_minutes * 60_000) {
        throw new TwError("INVALID_INPUT", "lookback_minutes must cover at least 3 bars of interval.", {
          hint: "Use a longer lookback or a shorter interval.",
        });
      }
      const c = await compareSymbols(
        app.market,
        args.symbols,
        args.lookback_minutes,
        args.interval,
        args.benchmark,
      );
      return { ...c, source: app.market.id, ...app.market.freshness(c.as_of, INTERVAL_MS[c.interval]) };
    },
  }),

  defineTool({
    name: "market_get_features",
    toolset: "market",
    title: "Feature snapshot (1m)",
    description:
      "FeatureSnapshot1m of one symbol or every universe symbol: mid, ret_1m/5m/1h (fractions), vol_1h (stdev of 60 one-minute log returns), book spread/imbalance (null without a book). STALE_DATA when the last 1m bar is old or an hour of history is missing.",
    scope: "market:read",
    annotations: ANN,
    input: z.object({ symbol: symbol.optional() }).strict(),
    output: z.object({
      features: z.array(
        z.object({
          symbol: z.string(),
          time: z.number(),
          mid: z.number(),
          ret_1m: z.number(),
          ret_5m: z.number(),
          ret_1h: z.number(),
          vol_1h: z.number(),
          spread_bps: z.number().nullable(),
          book_imbalance: z.number().nullable(),
        }),
      ),
      ...fresh,
    }),
    summarize: (r) => ({ features: r.features.length, as_of: r.as_of }),
    handler: async (args, { app }) => {
      const syms = args.symbol ? [args.symbol] : app.market.universe;
      const features = [];
      for (const s of syms) features.push(await app.market.features(s));
      const asOf = Math.min(...features.map((f) => f.time));
      return { features, source: app.market.id, as_of: asOf, stale: false };
    },
  }),
];
