import { bumpCacheEpoch, type Db } from "./db.js";

/**
 * Positions per venue and symbol (DESIGN.md §6 `positions`): the paper venue's book, and the
 * reconciler's mirror of real venues. `size` signed (long > 0, coins); prices quote; realised PnL
 * and funding are running totals (quote) since the row was created.
 */
export interface PositionRow {
  venue: string;
  symbol: string;
  size: string;
  entry_px: string;
  realized_pnl: string;
  funding: string;
  updated_at: number;
}

/** All positions of a venue, including flat rows (size 0) that keep their totals. */
export function listPositions(db: Db, venue: string): PositionRow[] {
  return db.prepare("SELECT * FROM positions WHERE venue = ? ORDER BY symbol").all(venue) as PositionRow[];
}

/**
 * Inserts or replaces the current view of a position. Bumps the `positions` cache epoch
 * (src/store/db.ts): the paper venue caches the rows it reads.
 */
export function upsertPosition(db: Db, p: PositionRow): void {
  bumpCacheEpoch(db, "positions");
  db.prepare(
    `INSERT INTO positions (venue, symbol, size, entry_px, realized_pnl, funding, updated_at)
     VALUES (@venue, @symbol, @size, @entry_px, @realized_pnl, @funding, @updated_at)
     ON CONFLICT(venue, symbol) DO UPDATE SET size = @size, entry_px = @entry_px, realized_pnl = @realized_pnl,
       funding = @funding, updated_at = @updated_at`,
  ).run(p);
}
