import { randomUUID } from "node:crypto";
import type { Metrics, Trade } from "../backtest/types.js";
import type { Db } from "./db.js";

/**
 * Persistence of backtests and experiments (tables of migrations 005 and 012). Everything needed to repeat a
 * run is in `spec`; results are stored as JSON next to it, trades one row each for cursor paging.
 * Rows are inserted once (in one transaction per run) and never updated or deleted.
 */

/** A stored backtest without its trades. */
export interface BacktestRecord {
  id: string;
  created_at: number;
  caller: string;
  strategy: string;
  symbols: string[];
  interval: string;
  /** The full BacktestSpec (src/backtest/run.ts). */
  spec: Record<string, unknown>;
  metrics: Metrics;
  /** Downsampled curves (src/backtest/run.ts Samples). */
  samples: { time: number[]; equity: number[]; drawdown: number[]; close: number[][] };
  first_bar: number;
  last_bar: number;
  bars: number;
  trade_count: number;
  elapsed_ms: number;
  /** What makes the result weak evidence (src/backtest/warnings.ts). */
  warnings: string[];
  /** Symbol → funding coverage; null for runs stored before migration 012. */
  funding_coverage: Record<string, number> | null;
}

/** The warning read back for backtests stored before migration 012 recorded warnings. */
export const NOT_RECORDED =
  "Stored before runs recorded warnings and funding coverage: run it again to check its sample and funding.";

/** A stored experiment. */
export interface ExperimentRecord {
  id: string;
  created_at: number;
  caller: string;
  strategy: string;
  spec: Record<string, unknown>;
  outcome: Record<string, unknown>;
  passed: boolean;
  decision: string;
}

type Row = Record<string, unknown>;

function toBacktest(r: Row): BacktestRecord {
  return {
    id: r.id as string,
    created_at: r.created_at as number,
    caller: r.caller as string,
    strategy: r.strategy as string,
    symbols: JSON.parse(r.symbols as string),
    interval: r.interval as string,
    spec: JSON.parse(r.spec as string),
    metrics: JSON.parse(r.metrics as string),
    samples: JSON.parse(r.samples as string),
    first_bar: r.first_bar as number,
    last_bar: r.last_bar as number,
    bars: r.bars as number,
    trade_count: r.trade_count as number,
    elapsed_ms: r.elapsed_ms as number,
    warnings: r.warnings == null ? [NOT_RECORDED] : JSON.parse(r.warnings as string),
    funding_coverage: r.funding_coverage == null ? null : JSON.parse(r.funding_coverage as string),
  };
}

function toTrade(r: Row): Trade & { seq: number } {
  return {
    seq: r.seq as number,
    symbol: r.symbol as string,
    side: r.side as Trade["side"],
    entry_time: r.entry_time as number,
    entry_price: r.entry_price as number,
    exit_time: (r.exit_time as number | null) ?? null,
    exit_price: (r.exit_price as number | null) ?? null,
    qty: r.qty as number,
    pnl: r.pnl as number,
    fees: r.fees as number,
    funding: r.funding as number,
    return: r.ret as number,
    bars: r.bars as number,
    open: r.open === 1,
  };
}

/** Prepared-statement access to backtests and experiments. */
export class ResearchStore {
  constructor(private readonly db: Db) {}

  /** Inserts a backtest and its trades atomically. @returns the new id (`bt_<uuid>`). */
  insertBacktest(
    b: Omit<BacktestRecord, "id" | "trade_count" | "funding_coverage"> & {
      funding_coverage: Record<string, number>;
    },
    trades: readonly Trade[],
  ): string {
    const id = `bt_${randomUUID()}`;
    const insB = this.db.prepare(
      `INSERT INTO backtests (id, created_at, caller, strategy, symbols, interval, spec, metrics, samples,
         first_bar, last_bar, bars, trade_count, elapsed_ms, warnings, funding_coverage)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    const insT = this.db.prepare(
      `INSERT INTO backtest_trades (backtest_id, seq, symbol, side, entry_time, entry_price, exit_time, exit_price,
         qty, pnl, fees, funding, ret, bars, open) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.db.transaction(() => {
      insB.run(
        id,
        b.created_at,
        b.caller,
        b.strategy,
        JSON.stringify(b.symbols),
        b.interval,
        JSON.stringify(b.spec),
        JSON.stringify(b.metrics),
        JSON.stringify(b.samples),
        b.first_bar,
        b.last_bar,
        b.bars,
        trades.length,
        b.elapsed_ms,
        JSON.stringify(b.warnings),
        JSON.stringify(b.funding_coverage),
      );
      trades.forEach((t, seq) => {
        insT.run(
          id,
          seq,
          t.symbol,
          t.side,
          t.entry_time,
          t.entry_price,
          t.exit_time,
          t.exit_price,
          t.qty,
          t.pnl,
          t.fees,
          t.funding,
          t.return,
          t.bars,
          t.open ? 1 : 0,
        );
      });
    })();
    return id;
  }

  /** A backtest by id, or null. */
  getBacktest(id: string): BacktestRecord | null {
    const r = this.db.prepare("SELECT * FROM backtests WHERE id = ?").get(id) as Row | undefined;
    return r ? toBacktest(r) : null;
  }

  /** Trades with seq > after, ascending, at most `limit`. */
  trades(id: string, after: number, limit: number): Array<Trade & { seq: number }> {
    const rows = this.db
      .prepare("SELECT * FROM backtest_trades WHERE backtest_id = ? AND seq > ? ORDER BY seq LIMIT ?")
      .all(id, after, limit) as Row[];
    return rows.map(toTrade);
  }

  /** Every trade of a backtest (charts). */
  allTrades(id: string): Array<Trade & { seq: number }> {
    return this.trades(id, -1, Number.MAX_SAFE_INTEGER);
  }

  /** Backtests newest first, optionally by strategy, before a (created_at, id) cursor. */
  listBacktests(q: { strategy?: string; limit: number; before?: [number, string] }): BacktestRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.strategy) {
      where.push("strategy = ?");
      args.push(q.strategy);
    }
    if (q.before) {
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      args.push(q.before[0], q.before[0], q.before[1]);
    }
    const sql = `SELECT * FROM backtests ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as Row[]).map(toBacktest);
  }

  /** Inserts an experiment. @returns the new id (`ex_<uuid>`). */
  insertExperiment(e: Omit<ExperimentRecord, "id">): string {
    const id = `ex_${randomUUID()}`;
    this.db
      .prepare(
        "INSERT INTO experiments (id, created_at, caller, strategy, spec, outcome, passed, decision) VALUES (?,?,?,?,?,?,?,?)",
      )
      .run(
        id,
        e.created_at,
        e.caller,
        e.strategy,
        JSON.stringify(e.spec),
        JSON.stringify(e.outcome),
        e.passed ? 1 : 0,
        e.decision,
      );
    return id;
  }

  /** An experiment by id, or null. */
  getExperiment(id: string): ExperimentRecord | null {
    const r = this.db.prepare("SELECT * FROM experiments WHERE id = ?").get(id) as Row | undefined;
    if (!r) return null;
    return {
      id: r.id as string,
      created_at: r.created_at as number,
      caller: r.caller as string,
      strategy: r.strategy as string,
      spec: JSON.parse(r.spec as string),
      outcome: JSON.parse(r.outcome as string),
      passed: r.passed === 1,
      decision: r.decision as string,
    };
  }

  /** Experiments newest first (console lists). */
  listExperiments(limit: number): ExperimentRecord[] {
    const ids = this.db
      .prepare("SELECT id FROM experiments ORDER BY created_at DESC, id DESC LIMIT ?")
      .all(limit) as Array<{ id: string }>;
    return ids.map((r) => this.getExperiment(r.id)).filter((e): e is ExperimentRecord => e !== null);
  }
}
