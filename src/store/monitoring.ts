import type { ControlMode } from "./control.js";
import type { Db } from "./db.js";

/**
 * Read-only queries the alert monitors run over other aggregates (control history, engine events,
 * order events, audit refusals, intents and approvals). Kept in one module so the monitors' view of
 * those tables is in one place; nothing here writes. Times ms UTC.
 */

/** Tables an event monitor follows by row id. */
export type CursorTable =
  | "control_state"
  | "engine_events"
  | "order_events"
  | "audit_log"
  | "intents"
  | "approvals";

/** Highest row id of a followed table (0 when empty). */
export function maxRowId(db: Db, table: CursorTable): number {
  return (db.prepare(`SELECT COALESCE(MAX(rowid), 0) AS m FROM ${table}`).get() as { m: number }).m;
}

/** One control-mode change. */
export interface ControlChange {
  id: number;
  ts: number;
  mode: ControlMode;
  reason: string;
  actor: string;
  /** The mode before this row (NORMAL when it is the first). */
  previous: ControlMode;
}

/** Control rows after `afterId`, oldest first, each with the mode it replaced. */
export function controlChangesAfter(db: Db, afterId: number, limit: number): ControlChange[] {
  return db
    .prepare(
      `SELECT c.id, c.ts, c.mode, c.reason, c.actor,
         COALESCE((SELECT p.mode FROM control_state p WHERE p.id < c.id ORDER BY p.id DESC LIMIT 1), 'NORMAL')
           AS previous
       FROM control_state c WHERE c.id > ? ORDER BY c.id LIMIT ?`,
    )
    .all(afterId, limit) as ControlChange[];
}

/** The newest control row (id and mode), if any. */
export function currentModeRow(db: Db): { id: number; mode: ControlMode } | undefined {
  return db.prepare("SELECT id, mode FROM control_state ORDER BY id DESC LIMIT 1").get() as
    | { id: number; mode: ControlMode }
    | undefined;
}

/** Id of the newest control row whose mode is not `mode` (0 when none): the run of `mode` starts after it. */
export function lastRowWithOtherMode(db: Db, mode: ControlMode): number {
  return (
    db.prepare("SELECT COALESCE(MAX(id), 0) AS m FROM control_state WHERE mode != ?").get(mode) as {
      m: number;
    }
  ).m;
}

/** The engine event of `kind` recorded closest after `ts` (the breaker's detail of a mode change). */
export function engineEventAt(db: Db, kind: string, ts: number): { id: number; detail: unknown } | undefined {
  const r = db
    .prepare("SELECT id, detail FROM engine_events WHERE kind = ? AND ts = ? ORDER BY id DESC LIMIT 1")
    .get(kind, ts) as { id: number; detail: string } | undefined;
  return r ? { id: r.id, detail: JSON.parse(r.detail) } : undefined;
}

/** Engine events of some kinds after `afterId`, oldest first. */
export function engineEventsAfter(
  db: Db,
  afterId: number,
  kinds: readonly string[],
  limit: number,
): Array<{ id: number; ts: number; kind: string; detail: Record<string, unknown> }> {
  const rows = db
    .prepare(
      `SELECT id, ts, kind, detail FROM engine_events WHERE id > ? AND kind IN (${kinds.map(() => "?").join(",")})
       ORDER BY id LIMIT ?`,
    )
    .all(afterId, ...kinds, limit) as Array<{ id: number; ts: number; kind: string; detail: string }>;
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

/** An order event joined with its order. Sizes in coins, prices in quote, as decimal strings. */
export interface OrderEventRow {
  id: number;
  ts: number;
  status: string;
  order_id: string;
  venue: string;
  symbol: string;
  side: string;
  size: string;
  filled_size: string;
  avg_px: string | null;
  client_order_id: string;
  caller: string;
  reason: string | null;
}

/** Order events with one of `statuses` after `afterId`, oldest first. */
export function orderEventsAfter(
  db: Db,
  afterId: number,
  statuses: readonly string[],
  limit: number,
): OrderEventRow[] {
  return db
    .prepare(
      `SELECT e.id, e.ts, e.status, o.id AS order_id, o.venue, o.symbol, o.side, o.size, o.filled_size, o.avg_px,
         o.client_order_id, o.caller, o.reason
       FROM order_events e JOIN orders o ON o.id = e.order_id
       WHERE e.id > ? AND e.status IN (${statuses.map(() => "?").join(",")}) ORDER BY e.id LIMIT ?`,
    )
    .all(afterId, ...statuses, limit) as OrderEventRow[];
}

/** Orders whose outcome is ambiguous (`unknown`), oldest first. */
export function unknownOrders(
  db: Db,
  limit: number,
): Array<{
  id: string;
  venue: string;
  symbol: string;
  side: string;
  size: string;
  client_order_id: string;
  caller: string;
  updated_at: number;
  reason: string | null;
}> {
  return db
    .prepare(
      `SELECT id, venue, symbol, side, size, client_order_id, caller, updated_at, reason FROM orders
       WHERE status = 'unknown' ORDER BY updated_at LIMIT ?`,
    )
    .all(limit) as ReturnType<typeof unknownOrders>;
}

/** Audit rows with error `code` after `afterId`, oldest first (caller, tool, message). */
export function auditCodesAfter(
  db: Db,
  afterId: number,
  code: string,
  limit: number,
): Array<{ id: number; ts: number; caller: string; tool: string; result: unknown }> {
  const rows = db
    .prepare(
      "SELECT id, ts, caller, tool, result FROM audit_log WHERE code = ? AND id > ? ORDER BY id LIMIT ?",
    )
    .all(code, afterId, limit) as Array<{
    id: number;
    ts: number;
    caller: string;
    tool: string;
    result: string | null;
  }>;
  return rows.map((r) => ({ ...r, result: r.result === null ? null : JSON.parse(r.result) }));
}

/** Audit rows with error `code` at or after `since`, counted per caller. */
export function auditCodeCounts(db: Db, code: string, since: number): Array<{ caller: string; n: number }> {
  return db
    .prepare(
      "SELECT caller, COUNT(*) AS n FROM audit_log WHERE code = ? AND ts >= ? GROUP BY caller ORDER BY n DESC",
    )
    .all(code, since) as Array<{ caller: string; n: number }>;
}

/** An intent as the approval monitors show it. */
export interface PendingIntent {
  rowid: number;
  id: string;
  created_at: number;
  caller: string;
  venue: string;
  symbol: string;
  side: string;
  size: string;
  notional: string;
  reduce_only: number;
}

const INTENT_COLS = "rowid, id, created_at, caller, venue, symbol, side, size, notional, reduce_only";

/**
 * Intents that need a human decision and have none: approval needed, no approve/reject decision, no
 * order sent, created in [from, to]. Intents of `system:` callers (the cycle, approved by config) are
 * left out.
 */
export function intentsAwaitingDecision(db: Db, from: number, to: number, limit: number): PendingIntent[] {
  return db
    .prepare(
      `SELECT ${INTENT_COLS} FROM intents i
       WHERE i.approval_needed = 1 AND i.created_at BETWEEN ? AND ? AND i.caller NOT LIKE 'system:%'
         AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.intent_id = i.id AND a.decision != 'dismissed')
         AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.intent_id = i.id)
       ORDER BY i.created_at LIMIT ?`,
    )
    .all(from, to, limit) as PendingIntent[];
}

/** Intents needing approval recorded after rowid `afterRowid` (not `system:` callers), oldest first. */
export function approvalRequestsAfter(db: Db, afterRowid: number, limit: number): PendingIntent[] {
  return db
    .prepare(
      `SELECT ${INTENT_COLS} FROM intents
       WHERE rowid > ? AND approval_needed = 1 AND caller NOT LIKE 'system:%' ORDER BY rowid LIMIT ?`,
    )
    .all(afterRowid, limit) as PendingIntent[];
}

/** Approve/reject decisions after `afterId`, oldest first, with their intent's order. */
export function decisionsAfter(
  db: Db,
  afterId: number,
  limit: number,
): Array<{
  id: number;
  ts: number;
  intent_id: string;
  decision: string;
  actor: string;
  via: string;
  reason: string | null;
  symbol: string;
  side: string;
  size: string;
  venue: string;
  caller: string;
}> {
  return db
    .prepare(
      `SELECT a.id, a.ts, a.intent_id, a.decision, a.actor, a.via, a.reason, i.symbol, i.side, i.size, i.venue,
         i.caller
       FROM approvals a JOIN intents i ON i.id = a.intent_id
       WHERE a.id > ? AND a.decision != 'dismissed' ORDER BY a.id LIMIT ?`,
    )
    .all(afterId, limit) as ReturnType<typeof decisionsAfter>;
}

/** The reconciled equity of a venue (mirror_accounts, decimal string), if any. */
export function mirrorEquity(db: Db, venue: string): { equity: string; updated_at: number } | undefined {
  return db.prepare("SELECT equity, updated_at FROM mirror_accounts WHERE venue = ?").get(venue) as
    | { equity: string; updated_at: number }
    | undefined;
}

/** Whether a venue fill belongs to one of our orders on that venue (by venue order id or client id). */
export function isOwnFill(
  db: Db,
  venue: string,
  venueOrderId: string,
  clientOrderId: string | null,
): boolean {
  return (
    db
      .prepare("SELECT 1 FROM orders WHERE venue = ? AND (venue_order_id = ? OR client_order_id = ?) LIMIT 1")
      .get(venue, venueOrderId, clientOrderId ?? "\u0000") !== undefined
  );
}
