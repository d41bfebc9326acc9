import type { Db } from "./db.js";

/**
 * The reconciler's mirror of a venue (migration 004): the positions and account totals it last
 * adopted from the venue. Separate from the `positions` table, which is the paper venue's own book,
 * so a change made at a venue outside the server shows up as a difference.
 */

/** One mirrored position; `size` signed, coins; `entry_px` quote. */
export interface MirrorPosition {
  symbol: string;
  size: string;
  entry_px: string;
}

/** Mirrored positions of a venue, by symbol. */
export function mirrorPositions(db: Db, venue: string): Map<string, MirrorPosition> {
  const rows = db
    .prepare("SELECT symbol, size, entry_px FROM mirror_positions WHERE venue = ?")
    .all(venue) as MirrorPosition[];
  return new Map(rows.map((r) => [r.symbol, r]));
}

/** Replaces the mirror of a venue with the venue's view (in one transaction). */
export function adoptMirror(
  db: Db,
  venue: string,
  positions: MirrorPosition[],
  account: { equity: string; cash: string; open_orders: number },
  now: number,
): void {
  db.transaction(() => {
    db.prepare("DELETE FROM mirror_positions WHERE venue = ?").run(venue);
    const ins = db.prepare(
      "INSERT INTO mirror_positions (venue, symbol, size, entry_px, updated_at) VALUES (?, ?, ?, ?, ?)",
    );
    for (const p of positions) ins.run(venue, p.symbol, p.size, p.entry_px, now);
    db.prepare(
      `INSERT INTO mirror_accounts (venue, equity, cash, open_orders, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(venue) DO UPDATE SET equity = excluded.equity, cash = excluded.cash,
         open_orders = excluded.open_orders, updated_at = excluded.updated_at`,
    ).run(venue, account.equity, account.cash, account.open_orders, now);
  })();
}

/** The mirrored account of a venue, if reconciled at least once. */
export function mirrorAccount(
  db: Db,
  venue: string,
): { equity: string; cash: string; open_orders: number; updated_at: number } | undefined {
  return db
    .prepare("SELECT equity, cash, open_orders, updated_at FROM mirror_accounts WHERE venue = ?")
    .get(venue) as { equity: string; cash: string; open_orders: number; updated_at: number } | undefined;
}
