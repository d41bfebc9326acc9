import type { Migration } from "./index.js";

/**
 * Minute cycle and reconciler (DESIGN.md §5): agent targets, one row per cycle with every stage's
 * output, and an append-only event log (fallbacks, clips, mode changes, reconcile differences).
 */
export const m004Engine: Migration = {
  version: 4,
  name: "engine",
  up: `
CREATE TABLE portfolio_targets (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  caller TEXT NOT NULL,
  payload TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  idempotency_key TEXT
);
CREATE INDEX portfolio_targets_ts ON portfolio_targets(ts);

CREATE TABLE cycles (
  id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  venue TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('planned','done','failed')),
  mode TEXT NOT NULL,
  equity TEXT NOT NULL,
  features TEXT NOT NULL,
  target TEXT NOT NULL,
  approved TEXT NOT NULL,
  plan TEXT NOT NULL,
  report TEXT,
  gross REAL NOT NULL,
  net REAL NOT NULL,
  turnover REAL NOT NULL,
  current_weights TEXT NOT NULL,
  finished_at INTEGER
);
CREATE INDEX cycles_ts ON cycles(ts);

CREATE TABLE engine_events (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  cycle_id TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX engine_events_ts ON engine_events(ts);

-- The reconciler's mirror of each venue (the venue is the truth; this is what we last saw).
CREATE TABLE mirror_positions (
  venue TEXT NOT NULL,
  symbol TEXT NOT NULL,
  size TEXT NOT NULL,
  entry_px TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (venue, symbol)
);
CREATE TABLE mirror_accounts (
  venue TEXT PRIMARY KEY,
  equity TEXT NOT NULL,
  cash TEXT NOT NULL,
  open_orders INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
`,
};
