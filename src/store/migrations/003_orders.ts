import type { Migration } from "./index.js";

/**
 * Orders area (issue 4): intents and their approvals, our order records (every venue) with an
 * append-only event history, the paper venue's own book/fills/positions/cash ledger, and risk-limit
 * overrides. Money and sizes are TEXT decimal strings (exact; parsed with decimal.js). Times are ms UTC.
 */
export const m003Orders: Migration = {
  version: 3,
  name: "orders",
  up: `
CREATE TABLE intents (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  caller TEXT NOT NULL,
  venue TEXT NOT NULL,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL CHECK (side IN ('buy','sell')),
  type TEXT NOT NULL CHECK (type IN ('market','limit')),
  tif TEXT NOT NULL,
  size TEXT NOT NULL,
  price TEXT,
  ref_price TEXT NOT NULL,
  notional TEXT NOT NULL,
  est_fee TEXT NOT NULL,
  reduce_only INTEGER NOT NULL,
  take_profit TEXT,
  stop_loss TEXT,
  client_order_id TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  approval_needed INTEGER NOT NULL,
  checks TEXT NOT NULL,
  UNIQUE (venue, client_order_id)
);

CREATE TABLE approvals (
  id INTEGER PRIMARY KEY,
  intent_id TEXT NOT NULL REFERENCES intents(id),
  decision TEXT NOT NULL CHECK (decision IN ('approved','rejected','dismissed')),
  actor TEXT NOT NULL,
  via TEXT NOT NULL CHECK (via IN ('tool','elicitation','cli','config')),
  reason TEXT,
  payload_hash TEXT NOT NULL,
  ts INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX approvals_intent ON approvals(intent_id, id);

CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  intent_id TEXT REFERENCES intents(id),
  parent_id TEXT,
  venue TEXT NOT NULL,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  type TEXT NOT NULL,
  tif TEXT NOT NULL,
  size TEXT NOT NULL,
  price TEXT,
  trigger_px TEXT,
  tpsl TEXT,
  reduce_only INTEGER NOT NULL,
  notional TEXT NOT NULL,
  -- notional in millionths of the quote currency, rounded up: exact integer sums for the 24h check
  notional_micros INTEGER NOT NULL DEFAULT 0,
  client_order_id TEXT NOT NULL,
  venue_order_id TEXT,
  status TEXT NOT NULL,
  filled_size TEXT NOT NULL DEFAULT '0',
  avg_px TEXT,
  reason TEXT,
  caller TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (venue, client_order_id)
);
CREATE INDEX orders_status ON orders(venue, status);
CREATE INDEX orders_created ON orders(venue, created_at);

CREATE TABLE order_events (
  id INTEGER PRIMARY KEY,
  order_id TEXT NOT NULL REFERENCES orders(id),
  ts INTEGER NOT NULL,
  status TEXT NOT NULL,
  detail TEXT
);
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
  BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
  BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;

CREATE TABLE paper_orders (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  client_order_id TEXT NOT NULL UNIQUE,
  parent_id TEXT,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  type TEXT NOT NULL,
  tif TEXT NOT NULL,
  size TEXT NOT NULL,
  price TEXT,
  trigger_px TEXT,
  tpsl TEXT,
  reduce_only INTEGER NOT NULL,
  status TEXT NOT NULL,
  filled_size TEXT NOT NULL DEFAULT '0',
  avg_px TEXT,
  reason TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX paper_orders_status ON paper_orders(status);

CREATE TABLE fills (
  id INTEGER PRIMARY KEY,
  venue TEXT NOT NULL,
  venue_order_id TEXT NOT NULL,
  client_order_id TEXT,
  symbol TEXT NOT NULL,
  side TEXT NOT NULL,
  size TEXT NOT NULL,
  price TEXT NOT NULL,
  fee TEXT NOT NULL,
  liquidity TEXT NOT NULL CHECK (liquidity IN ('maker','taker')),
  realized_pnl TEXT NOT NULL,
  ts INTEGER NOT NULL
);
CREATE INDEX fills_venue_ts ON fills(venue, ts, id);

CREATE TABLE positions (
  venue TEXT NOT NULL,
  symbol TEXT NOT NULL,
  size TEXT NOT NULL,
  entry_px TEXT NOT NULL,
  realized_pnl TEXT NOT NULL,
  funding TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (venue, symbol)
);

CREATE TABLE paper_ledger (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('deposit','realized_pnl','fee','funding')),
  symbol TEXT,
  amount TEXT NOT NULL,
  ref TEXT
);
CREATE TRIGGER paper_ledger_no_update BEFORE UPDATE ON paper_ledger
  BEGIN SELECT RAISE(ABORT, 'paper_ledger is append-only'); END;
CREATE TRIGGER paper_ledger_no_delete BEFORE DELETE ON paper_ledger
  BEGIN SELECT RAISE(ABORT, 'paper_ledger is append-only'); END;

CREATE TABLE risk_limits (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  limits TEXT NOT NULL
);
`,
};
