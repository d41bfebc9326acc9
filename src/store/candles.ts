import type { Candle, FundingPoint, Interval } from "../exchange/types.js";
import type { Db } from "./db.js";

/**
 * Candle and funding cache (tables `candles`, `funding`, migration 002). Rows are keyed by
 * (source, symbol, interval, open time); a closed candle never changes, so writes are
 * `INSERT OR IGNORE` and nothing is ever deleted or rewritten. `source` is the market-data source id
 * that produced the rows (`hyperliquid`, `ccxt:okx`, `replay:/abs/dir`, or an import label).
 */

/** One stored series and its extent. */
export interface StoredSeries {
  source: string;
  symbol: string;
  interval: string;
  rows: number;
  /** First/last open time, ms UTC. */
  first: number;
  last: number;
}

/** Prepared-statement access to the candle cache. */
export class CandleStore {
  private readonly insC;
  private readonly insF;

  constructor(private readonly db: Db) {
    this.insC = db.prepare(
      `INSERT OR IGNORE INTO candles (source, symbol, interval, time, open, high, low, close, volume)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insF = db.prepare("INSERT OR IGNORE INTO funding (source, symbol, time, rate) VALUES (?, ?, ?, ?)");
  }

  /** Stores candles in one transaction; existing rows are kept. @returns rows newly inserted. */
  putCandles(source: string, symbol: string, interval: Interval, candles: readonly Candle[]): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const c of candles) {
        n += this.insC.run(
          source,
          symbol,
          interval,
          c.time,
          c.open,
          c.high,
          c.low,
          c.close,
          c.volume,
        ).changes;
      }
      return n;
    })();
  }

  /** Stores funding events in one transaction. @returns rows newly inserted. */
  putFunding(source: string, symbol: string, points: readonly FundingPoint[]): number {
    return this.db.transaction(() => {
      let n = 0;
      for (const p of points) n += this.insF.run(source, symbol, p.time, p.rate).changes;
      return n;
    })();
  }

  /**
   * Candles with open time in [start, end] (inclusive, ms UTC), ascending. `limit` without `start`
   * returns the latest `limit`.
   */
  getCandles(
    source: string,
    symbol: string,
    interval: Interval,
    q: { start?: number; end?: number; limit?: number },
  ): Candle[] {
    const start = q.start ?? Number.MIN_SAFE_INTEGER;
    const end = q.end ?? Number.MAX_SAFE_INTEGER;
    const latest = q.start === undefined && q.limit !== undefined;
    const rows = this.db
      .prepare(
        `SELECT time, open, high, low, close, volume FROM candles
         WHERE source = ? AND symbol = ? AND interval = ? AND time BETWEEN ? AND ?
         ORDER BY time ${latest ? "DESC" : "ASC"} LIMIT ?`,
      )
      .all(source, symbol, interval, start, end, q.limit ?? -1) as Candle[];
    return latest ? rows.reverse() : rows;
  }

  /** Number of stored candles with open time in [start, end]. */
  countCandles(source: string, symbol: string, interval: Interval, start: number, end: number): number {
    const r = this.db
      .prepare(
        "SELECT COUNT(*) AS n FROM candles WHERE source = ? AND symbol = ? AND interval = ? AND time BETWEEN ? AND ?",
      )
      .get(source, symbol, interval, start, end) as { n: number };
    return r.n;
  }

  /** Funding events in [start, end], ascending. */
  getFunding(source: string, symbol: string, q: { start?: number; end?: number }): FundingPoint[] {
    return this.db
      .prepare(
        "SELECT time, rate FROM funding WHERE source = ? AND symbol = ? AND time BETWEEN ? AND ? ORDER BY time",
      )
      .all(
        source,
        symbol,
        q.start ?? Number.MIN_SAFE_INTEGER,
        q.end ?? Number.MAX_SAFE_INTEGER,
      ) as FundingPoint[];
  }

  /** Every stored candle series with its row count and extent. */
  series(): StoredSeries[] {
    return this.db
      .prepare(
        `SELECT source, symbol, interval, COUNT(*) AS rows, MIN(time) AS first, MAX(time) AS last
         FROM candles GROUP BY source, symbol, interval ORDER BY source, symbol, interval`,
      )
      .all() as StoredSeries[];
  }
}
