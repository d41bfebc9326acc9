/**
 * Market-data contract shared by every source (hyperliquid, ccxt:<id>, replay:<dir>) and every
 * consumer (market tools, paper venue, cycle, backtests). DESIGN.md §4 units: times are epoch ms UTC,
 * prices in quote currency (USD/USDC/USDT), sizes in coins, rates as decimal fractions
 * (0.0001 = 1 bp). Symbols are canonical base coins (`BTC`); adapters map to venue symbols.
 */

/** Candle intervals accepted everywhere. */
export const INTERVALS = ["1m", "5m", "15m", "1h", "4h", "1d"] as const;
export type Interval = (typeof INTERVALS)[number];

/** Interval length in ms. */
export const INTERVAL_MS: Readonly<Record<Interval, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "4h": 14_400_000,
  "1d": 86_400_000,
};

/** One candle keyed by its open time. `volume` is base-asset volume (coins). */
export interface Candle {
  /** Open time, ms UTC. */
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** A tradable perpetual with its precision rules. */
export interface Instrument {
  /** Canonical symbol, e.g. `BTC`. */
  symbol: string;
  /** Venue-native symbol, e.g. `BTC/USDT:USDT`, `BTC-USDT-SWAP`, or `BTC` on Hyperliquid. */
  venue_symbol: string;
  /** Quote currency (USDC, USDT, USD). */
  quote: string;
  /** Smallest price increment (quote); for Hyperliquid derived from the 5-significant-figure rule at the current price. */
  tick_size: number | null;
  /** Smallest size increment (coins), e.g. 10^-szDecimals. */
  lot_size: number;
  /** Hyperliquid szDecimals (size decimals); null elsewhere. */
  sz_decimals: number | null;
  /** Hyperliquid asset index; null elsewhere. */
  asset_index: number | null;
  max_leverage: number | null;
  /** Minimum order notional (quote), when the venue has one. */
  min_notional: number | null;
}

/** Top-of-book and contract statistics. Missing fields are null, never guessed. */
export interface Ticker {
  symbol: string;
  /** (bid + ask) / 2 when a book exists, else the venue's mid or last close. */
  mid: number;
  bid: number | null;
  ask: number | null;
  mark: number | null;
  index: number | null;
  /** Current funding rate per funding interval (fraction). */
  funding_rate: number | null;
  /** Open interest in coins. */
  open_interest: number | null;
  /** 24h change as a fraction: last / price 24h ago − 1. */
  change_24h: number | null;
  /** 24h volume in quote currency. */
  volume_24h: number | null;
  /** Time the data refers to, ms UTC. */
  time: number;
}

/** One price level. */
export interface BookLevel {
  px: number;
  sz: number;
}

/** L2 book. spread_bps = (ask − bid) / mid × 10⁴; imbalance = (Σbid sz − Σask sz) / (Σbid sz + Σask sz) over the returned depth. */
export interface OrderBook {
  symbol: string;
  bids: BookLevel[];
  asks: BookLevel[];
  spread_bps: number | null;
  imbalance: number | null;
  time: number;
}

/** One funding event: rate applied at `time` (fraction per funding interval). */
export interface FundingPoint {
  time: number;
  rate: number;
}

/** Query of a time range. `start`/`end` inclusive, ms UTC; `limit` caps the count (latest when only limit). */
export interface RangeQuery {
  start?: number;
  end?: number;
  limit?: number;
}

/**
 * A market-data source. Implementations never return data from after `clock.now()` (replay) and
 * throw TwError: `EXCHANGE_UNAVAILABLE` (retryable: network, 5xx, timeout), `RATE_LIMITED`
 * (retryable, details.retry_after_ms), `NOT_FOUND` (unknown symbol), `STALE_DATA`.
 */
export interface MarketData {
  /** Source id: `hyperliquid`, `ccxt:okx`, `replay:/path`. */
  readonly id: string;
  instruments(): Promise<Instrument[]>;
  ticker(symbol: string): Promise<Ticker>;
  candles(symbol: string, interval: Interval, q: RangeQuery): Promise<Candle[]>;
  /** L2 book, or null when the source has none (replay). */
  orderbook(symbol: string, depth: number): Promise<OrderBook | null>;
  funding(symbol: string, q: RangeQuery): Promise<FundingPoint[]>;
}
