import type { Migration } from "./index.js";

/**
 * "The book is the truth" (issue 13):
 * - `paper_funding_booked`: one row per (symbol, funding time) the paper venue booked, so a funding
 *   event is booked exactly once whatever reads run concurrently (in one process or several);
 * - `paper_participation`: coins the paper venue filled per (symbol, 1m bar), for the participation
 *   cap (`paper.maxParticipation` of the bar's volume);
 * - `paper_ledger` rebuilt with the `liquidation` kind (rows copied unchanged, still append-only);
 * - `fills.kind`: `trade` | `liquidation`;
 * - position guards: `intents.trailing_stop_bps` / `intents.max_hold_minutes`, the paper venue's
 *   guard state on its orders, and `position_guards` for the live guard loop;
 * - `portfolio_limits`: operator overrides of the cycle's portfolio limits (append-only, newest wins
 *   per field, like `risk_limits`).
 */
export const m008Book: Migration = {
  version: 8,
  name: "book",
  up: `
CREATE TABLE paper_funding_booked (
  symbol TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (symbol, time)
);

CREATE TABLE paper_participation (
  symbol TEXT NOT NULL,
  bar INTEGER NOT NULL,
  used TEXT NOT NULL,
  PRIMARY KEY (symbol, bar)
);

DROP TRIGGER paper_ledger_no_update;
DROP TRIGGER paper_ledger_no_delete;
CREATE TABLE paper_ledger_v8 (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('deposit','realized_pnl','fee','funding','liquidation')),
  symbol TEXT,
  amount TEXT NOT NULL,
  ref TEXT
);
INSERT INTO paper_ledger_v8 (id, ts, kind, symbol, amount, ref) SELECT id, ts, kind, symbol, amount, ref FROM paper_ledger;
DROP TABLE paper_ledger;
ALTER TABLE paper_ledger_v8 RENAME TO paper_ledger;
CREATE INDEX paper_ledger_ts ON paper_ledger(ts, id);
CREATE TRIGGER paper_ledger_no_update BEFORE UPDATE ON paper_ledger
  BEGIN SELECT RAISE(ABORT, 'paper_ledger is append-only'); END;
CREATE TRIGGER paper_ledger_no_delete BEFORE DELETE ON paper_ledger
  BEGIN SELECT RAISE(ABORT, 'paper_ledger is append-only'); END;

ALTER TABLE fills ADD COLUMN kind TEXT NOT NULL DEFAULT 'trade' CHECK (kind IN ('trade','liquidation'));

ALTER TABLE intents ADD COLUMN trailing_stop_bps REAL;
ALTER TABLE intents ADD COLUMN max_hold_minutes INTEGER;

ALTER TABLE paper_orders ADD COLUMN trail_bps REAL;
ALTER TABLE paper_orders ADD COLUMN max_hold_ms INTEGER;
-- Guard of a parent order: NULL (none) | 'waiting' (parent not filled) | 'armed' | 'done'.
ALTER TABLE paper_orders ADD COLUMN guard_state TEXT;
ALTER TABLE paper_orders ADD COLUMN guard_armed_at INTEGER;
ALTER TABLE paper_orders ADD COLUMN guard_peak TEXT;
CREATE INDEX paper_orders_guard ON paper_orders(guard_state, symbol);

CREATE TABLE position_guards (
  intent_id TEXT PRIMARY KEY,
  venue TEXT NOT NULL,
  symbol TEXT NOT NULL,
  client_order_id TEXT NOT NULL,
  entry_side TEXT NOT NULL CHECK (entry_side IN ('buy','sell')),
  trailing_stop_bps REAL,
  max_hold_ms INTEGER,
  status TEXT NOT NULL CHECK (status IN ('armed','exiting','done')),
  armed_at INTEGER NOT NULL,
  peak_px TEXT NOT NULL,
  exit_reason TEXT,
  exit_client_order_id TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX position_guards_status ON position_guards(status, venue);

CREATE TABLE portfolio_limits (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  limits TEXT NOT NULL
);
`,
};
