import { bumpCacheEpoch, cacheEpoch, type Db, dataVersion, type StampedMemo, stampedMemo } from "./db.js";

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

/** A mirror read with the cache epoch and data version it was read at (see {@link adoptMirror}). */
export interface MirrorRead {
  rows: Map<string, MirrorPosition>;
  epoch: number;
  dv: number;
}

/** The mirror tables' cache epoch (src/store/db.ts): other tables' writes do not stale a mirror read. */
const MIRROR = ["mirror"] as const;

/**
 * {@link mirrorPositions} with the stamp {@link adoptMirror} checks. The rows are read once per stamp
 * (a quiet reconciler pass rewrites no position row, issue 15 round 4); the map is the caller's own,
 * its row objects are shared and must not be mutated.
 */
export function readMirror(db: Db, venue: string): MirrorRead {
  const epoch = cacheEpoch(db, MIRROR);
  const dv = dataVersion(db);
  const byVenue = stampedMemo(readMemo, db, () => new Map<string, Map<string, MirrorPosition>>(), MIRROR);
  let rows = byVenue.get(venue);
  if (rows === undefined) {
    rows = mirrorPositions(db, venue);
    byVenue.set(venue, rows);
  }
  return { rows: new Map(rows), epoch, dv };
}

const readMemo = new WeakMap<Db, StampedMemo<Map<string, Map<string, MirrorPosition>>>>();

/**
 * Replaces the mirror of a venue with the venue's view (in one transaction). With `previous` (the
 * mirror as read earlier in the same pass) still current — no write in this process and no other
 * connection's commit since (cache epoch and data version unchanged, checked inside the write
 * transaction) — position rows are rewritten only when a symbol, size or entry differs, so a position
 * row's `updated_at` is when it was last adopted with a change (the account row is written every
 * pass); this takes a delete and one insert per position off every quiet pass (issue 15).
 */
export function adoptMirror(
  db: Db,
  venue: string,
  positions: MirrorPosition[],
  account: { equity: string; cash: string; open_orders: number },
  now: number,
  previous?: MirrorRead,
): void {
  db.transaction(() => {
    const unchanged =
      previous !== undefined &&
      previous.epoch === cacheEpoch(db, MIRROR) &&
      previous.dv === dataVersion(db) &&
      previous.rows.size === positions.length &&
      positions.every((p) => {
        const m = previous.rows.get(p.symbol);
        return m !== undefined && m.size === p.size && m.entry_px === p.entry_px;
      });
    if (!unchanged) {
      bumpCacheEpoch(db, "mirror");
      db.prepare("DELETE FROM mirror_positions WHERE venue = ?").run(venue);
      const ins = db.prepare(
        "INSERT INTO mirror_positions (venue, symbol, size, entry_px, updated_at) VALUES (?, ?, ?, ?, ?)",
      );
      for (const p of positions) ins.run(venue, p.symbol, p.size, p.entry_px, now);
    }
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
