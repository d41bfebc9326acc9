import type { Migration } from "./index.js";

/**
 * Research (issue 6): backtests with their full input (spec JSON: strategy, params, data source,
 * symbols, interval, range, costs, equity, leverage) so any run can be repeated exactly, their
 * metrics, downsampled curves and round-trip trades (one row each, paged by `seq`), and experiments
 * with their spec and outcome. Rows are written once and never updated.
 */
export const m005Research: Migration = {
  version: 5,
  name: "research",
  up: `
CREATE TABLE backtests (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  caller TEXT NOT NULL,
  strategy TEXT NOT NULL,
  symbols TEXT NOT NULL,
  interval TEXT NOT NULL,
  spec TEXT NOT NULL,
  metrics TEXT NOT NULL,
  samples TEXT NOT NULL,
  first_bar INTEGER NOT NULL,
  last_bar INTEGER NOT NULL,
  bars INTEGER NOT NULL,
  trade_count INTEGER NOT NULL,
  elapsed_ms REAL NOT NULL
);
CREATE INDEX backtests_created ON backtests(created_at);
CREATE INDEX backtests_strategy ON backtests(strategy, created_at);
CREATE TABLE backtest_trades (
  backtest_id TEXT NOT NULL REFERENCES backtests(id),
  seq INTEGER NOT NULL,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  entry_time INTEGER NOT NULL,
  entry_price REAL NOT NULL,
  exit_time INTEGER,
  exit_price REAL,
  qty REAL NOT NULL,
  pnl REAL NOT NULL,
  fees REAL NOT NULL,
  funding REAL NOT NULL,
  ret REAL NOT NULL,
  bars INTEGER NOT NULL,
  open INTEGER NOT NULL,
  PRIMARY KEY (backtest_id, seq)
);
CREATE TABLE experiments (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  caller TEXT NOT NULL,
  strategy TEXT NOT NULL,
  spec TEXT NOT NULL,
  outcome TEXT NOT NULL,
  passed INTEGER NOT NULL,
  decision TEXT NOT NULL
);
CREATE INDEX experiments_created ON experiments(created_at);
`,
};
