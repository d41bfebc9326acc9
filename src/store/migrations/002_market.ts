import type { Migration } from "./index.js";

/** Market data cache: candles and funding by source (src/store/candles.ts). Append-only by design. */
export const m002Market: Migration = {
  version: 2,
  name: "market",
  up: `
CREATE TABLE candles (
  source TEXT NOT NULL,
  symbol TEXT NOT NULL,
  interval TEXT NOT NULL,
  time INTEGER NOT NULL,
  open REAL NOT NULL,
  high REAL NOT NULL,
  low REAL NOT NULL,
  close REAL NOT NULL,
  volume REAL NOT NULL,
  PRIMARY KEY (source, symbol, interval, time)
) WITHOUT ROWID;

CREATE TABLE funding (
  source TEXT NOT NULL,
  symbol TEXT NOT NULL,
  time INTEGER NOT NULL,
  rate REAL NOT NULL,
  PRIMARY KEY (source, symbol, time)
) WITHOUT ROWID;
`,
};
