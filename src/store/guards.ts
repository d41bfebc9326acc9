import type { Db } from "./db.js";

/**
 * Position guards of the live guard loop (migration 8 `position_guards`, src/engine/guard.ts): one row
 * per guarded entry intent once its order has filled. Status: `armed` (watching) → `exiting` (exit
 * order being sent; retried with the same client id) → `done` (exited, or the position went away).
 * Prices are decimal strings (quote); times ms UTC.
 */
export interface GuardRow {
  intent_id: string;
  venue: string;
  symbol: string;
  client_order_id: string;
  entry_side: "buy" | "sell";
  trailing_stop_bps: number | null;
  max_hold_ms: number | null;
  status: "armed" | "exiting" | "done";
  /** ms UTC the guard started (the entry's fill). */
  armed_at: number;
  /** Best mark since the fill (highest for a long, lowest for a short). */
  peak_px: string;
  exit_reason: string | null;
  exit_client_order_id: string | null;
  updated_at: number;
}

/** A guarded entry intent whose order has (partly) filled and whose guard is not done. */
export interface GuardCandidate {
  intent_id: string;
  venue: string;
  symbol: string;
  side: "buy" | "sell";
  client_order_id: string;
  trailing_stop_bps: number | null;
  max_hold_minutes: number | null;
  filled_size: string;
  avg_px: string | null;
  /** When the entry order reached its filled status (ms UTC): the guard's start. */
  filled_at: number;
  guard: GuardRow | null;
}

/** Every guard that still has work: armed or exiting, or an entry that filled and has no guard row yet. */
export function guardCandidates(db: Db): GuardCandidate[] {
  const rows = db
    .prepare(
      `SELECT i.id AS intent_id, i.venue, i.symbol, i.side, i.client_order_id, i.trailing_stop_bps, i.max_hold_minutes,
              o.filled_size, o.avg_px, o.updated_at AS filled_at
         FROM intents i JOIN orders o ON o.intent_id = i.id AND o.parent_id IS NULL
        WHERE (i.trailing_stop_bps IS NOT NULL OR i.max_hold_minutes IS NOT NULL)
          AND CAST(o.filled_size AS REAL) > 0
          AND NOT EXISTS (SELECT 1 FROM position_guards g WHERE g.intent_id = i.id AND g.status = 'done')
        ORDER BY i.created_at`,
    )
    .all() as Array<Omit<GuardCandidate, "guard">>;
  return rows.map((r) => ({
    ...r,
    guard:
      (db.prepare("SELECT * FROM position_guards WHERE intent_id = ?").get(r.intent_id) as
        | GuardRow
        | undefined) ?? null,
  }));
}

/** Inserts or replaces a guard's state. */
export function saveGuard(db: Db, g: GuardRow): void {
  db.prepare(
    `INSERT INTO position_guards (intent_id, venue, symbol, client_order_id, entry_side, trailing_stop_bps, max_hold_ms,
       status, armed_at, peak_px, exit_reason, exit_client_order_id, updated_at)
     VALUES (@intent_id, @venue, @symbol, @client_order_id, @entry_side, @trailing_stop_bps, @max_hold_ms, @status,
       @armed_at, @peak_px, @exit_reason, @exit_client_order_id, @updated_at)
     ON CONFLICT(intent_id) DO UPDATE SET status = @status, peak_px = @peak_px, exit_reason = @exit_reason,
       exit_client_order_id = @exit_client_order_id, updated_at = @updated_at`,
  ).run(g);
}
