import { Dec } from "../exchange/fillModel.js";
import type { Decimal } from "decimal.js";
import { bumpCacheEpoch, type Db, type StampedMemo, sqlLimit, stampedMemo } from "./db.js";
import {
  FINAL_STATUSES,
  type OrderSide,
  type OrderStatus,
  type OrderType,
  type Tif,
} from "../exchange/venue.js";

/**
 * Our order records on every venue (DESIGN.md §6 `orders`): the current view per order plus an
 * append-only `order_events` history of every status change. `(venue, client_order_id)` is unique,
 * which is what makes a second send of the same key impossible. Sizes/prices are decimal strings.
 * Writes bump the connection's cache epoch (src/store/db.ts): the rolling-24h sum is memoised.
 */

/** One stored order (snake_case, as tools return it). */
export interface OrderRow {
  id: string;
  intent_id: string | null;
  parent_id: string | null;
  venue: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  tif: Tif;
  size: string;
  price: string | null;
  trigger_px: string | null;
  tpsl: "tp" | "sl" | null;
  reduce_only: boolean;
  /**
   * Notional reserved for the order (quote): at the worst price it can execute at (limit, or the
   * market-order protection price). Counted against the rolling 24 h notional.
   */
  notional: string;
  client_order_id: string;
  venue_order_id: string | null;
  status: OrderStatus;
  filled_size: string;
  avg_px: string | null;
  reason: string | null;
  caller: string;
  created_at: number;
  updated_at: number;
}

type Raw = Omit<OrderRow, "reduce_only"> & { reduce_only: number };

function parse(r: Raw): OrderRow {
  return { ...r, reduce_only: r.reduce_only === 1 };
}

/** Inserts an order and its first event. @throws SqliteError on a duplicate client order id. */
export function insertOrder(db: Db, o: OrderRow): void {
  bumpCacheEpoch(db, "orders");
  const micros = notionalMicros(o.notional);
  const { lastInsertRowid } = db
    .prepare(
      `INSERT INTO orders (id, intent_id, parent_id, venue, symbol, side, type, tif, size, price, trigger_px, tpsl,
       reduce_only, notional, notional_micros, client_order_id, venue_order_id, status, filled_size, avg_px, reason,
       caller, created_at, updated_at)
     VALUES (@id, @intent_id, @parent_id, @venue, @symbol, @side, @type, @tif, @size, @price, @trigger_px, @tpsl,
       @reduce_only, @notional, @notional_micros, @client_order_id, @venue_order_id, @status, @filled_size, @avg_px,
       @reason, @caller, @created_at, @updated_at)`,
    )
    .run({ ...o, reduce_only: o.reduce_only ? 1 : 0, notional_micros: micros });
  // The row is in (a later failure here or a rollback is handled as documented at writeSent).
  if (counted(o.status, o.parent_id))
    writeSent(db, o.venue, { k: BigInt(lastInsertRowid), t: o.created_at, m: micros }, true);
  db.prepare("INSERT INTO order_events (order_id, ts, status, detail) VALUES (?, ?, ?, ?)").run(
    o.id,
    o.created_at,
    o.status,
    null,
  );
}

/** An order's notional in millionths of the quote currency, rounded up (`notional_micros`). */
function notionalMicros(notional: string): bigint {
  return BigInt(new Dec(notional).abs().times(1_000_000).ceil().toFixed(0));
}

/**
 * Whether an order counts towards {@link sentNotionalSince}: a parent the venue did not refuse. The
 * same rule as `sentRows`' WHERE clause, which reads the window the writes keep current.
 */
function counted(status: OrderStatus, parentId: string | null): boolean {
  return parentId === null && status !== "rejected" && status !== "not_found";
}

/** Fields a status update may change. */
export interface OrderUpdate {
  status: OrderStatus;
  venue_order_id?: string | null;
  filled_size?: string;
  avg_px?: string | null;
  reason?: string | null;
}

/** Updates the current view and appends an event (status + detail JSON). */
export function updateOrder(db: Db, id: string, u: OrderUpdate, now: number, detail?: unknown): void {
  bumpCacheEpoch(db, "orders");
  const cur = getOrder(db, id);
  if (!cur) throw new Error(`order ${id} does not exist`);
  db.prepare(
    `UPDATE orders SET status = @status, venue_order_id = @venue_order_id, filled_size = @filled_size,
       avg_px = @avg_px, reason = @reason, updated_at = @now WHERE id = @id`,
  ).run({
    id,
    now,
    status: u.status,
    venue_order_id: u.venue_order_id !== undefined ? u.venue_order_id : cur.venue_order_id,
    filled_size: u.filled_size ?? cur.filled_size,
    avg_px: u.avg_px !== undefined ? u.avg_px : cur.avg_px,
    reason: u.reason !== undefined ? u.reason : cur.reason,
  });
  const was = counted(cur.status, cur.parent_id);
  if (was !== counted(u.status, cur.parent_id)) {
    // The stored micro-units, not the notional text: the window mirrors what SQL's SUM reads.
    const r = db
      .prepare("SELECT rowid AS k, notional_micros AS m FROM orders WHERE id = ?")
      .safeIntegers(true)
      .get(id) as { k: bigint; m: bigint | null };
    writeSent(db, cur.venue, { k: r.k, t: cur.created_at, m: r.m ?? 0n }, !was);
  }
  db.prepare("INSERT INTO order_events (order_id, ts, status, detail) VALUES (?, ?, ?, ?)").run(
    id,
    now,
    u.status,
    detail === undefined ? null : JSON.stringify(detail),
  );
}

/** Reads one order. */
export function getOrder(db: Db, id: string): OrderRow | undefined {
  const r = db.prepare("SELECT * FROM orders WHERE id = ?").get(id) as Raw | undefined;
  return r ? parse(r) : undefined;
}

/** Reads the order of a client order id on a venue. */
export function orderByClientId(db: Db, venue: string, clientOrderId: string): OrderRow | undefined {
  const r = db
    .prepare("SELECT * FROM orders WHERE venue = ? AND client_order_id = ?")
    .get(venue, clientOrderId) as Raw | undefined;
  return r ? parse(r) : undefined;
}

/** Orders of an intent (the parent first, then TP/SL children). */
export function ordersOfIntent(db: Db, intentId: string): OrderRow[] {
  return (
    db.prepare("SELECT * FROM orders WHERE intent_id = ? ORDER BY created_at, rowid").all(intentId) as Raw[]
  ).map(parse);
}

/** Filters of {@link listOrders}. `before` is an exclusive (created_at, id) keyset cursor. */
export interface OrderQuery {
  venue?: string;
  symbol?: string;
  /** Only orders of this caller (per-caller isolation). */
  caller?: string;
  statuses?: OrderStatus[];
  limit: number;
  before?: { created_at: number; id: string };
}

/** Orders newest first with keyset paging; fetches `limit + 1` so callers can tell `truncated`. */
export function listOrders(db: Db, q: OrderQuery): OrderRow[] {
  const where: string[] = [];
  const p: Record<string, unknown> = {};
  if (q.venue) {
    where.push("venue = @venue");
    p.venue = q.venue;
  }
  if (q.symbol) {
    where.push("symbol = @symbol");
    p.symbol = q.symbol;
  }
  if (q.caller !== undefined) {
    where.push("caller = @caller");
    p.caller = q.caller;
  }
  if (q.statuses && q.statuses.length > 0) {
    where.push(`status IN (${q.statuses.map((_, i) => `@s${i}`).join(",")})`);
    q.statuses.forEach((s, i) => {
      p[`s${i}`] = s;
    });
  }
  if (q.before) {
    where.push("(created_at < @bc OR (created_at = @bc AND id < @bi))");
    p.bc = q.before.created_at;
    p.bi = q.before.id;
  }
  // Live statuses hold a handful of rows while history grows without bound: sorting the few rows
  // found through `orders_live` beats walking the venue's whole history in `created_at` order, which
  // the planner otherwise picks to skip the sort. `+created_at` (same value) stops it doing so.
  const live =
    q.statuses !== undefined && q.statuses.length > 0 && q.statuses.every((s) => !FINAL_STATUSES.has(s));
  const sql = `SELECT * FROM orders ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY ${live ? "+created_at" : "created_at"} DESC, id DESC LIMIT ${sqlLimit(q.limit + 1)}`;
  if (!live || q.before) return (db.prepare(sql).all(p) as Raw[]).map(parse);
  // Live lists are read by the reconciler, the sweep and resolveUnknown every cycle and change only
  // with an order write (cache epoch) or another connection's commit (data_version): kept per
  // query, handed out as copies.
  const lists = stampedMemo(liveMemo, db, () => new Map<string, OrderRow[]>(), ORDERS);
  const key = `${sql}\n${JSON.stringify(p)}`;
  let rows = lists.get(key);
  if (rows === undefined) {
    rows = (db.prepare(sql).all(p) as Raw[]).map(parse);
    lists.set(key, rows);
  }
  return rows.map((r) => ({ ...r }));
}

/** The caches below depend on the orders table only (src/store/db.ts `cacheEpoch`). */
const ORDERS = ["orders"] as const;

const liveMemo = new WeakMap<Db, StampedMemo<Map<string, OrderRow[]>>>();

/**
 * Σ notional (quote) of orders sent to a venue since `since` (ms UTC), excluding orders the venue
 * never accepted (rejected, not_found). Used by the rolling-24h notional risk check.
 */
export function sentNotionalSince(db: Db, venue: string, since: number): Decimal {
  // The counted rows (row id, time, integer micro-units) of `since` onwards are read once and kept:
  // a later `since` drops rows from the front, an earlier one reads again, and this connection's
  // own order writes update the rows in place (`writeSent`; issue 15: re-reading a day of orders
  // after every order write was ≈ 3 % of a replay tick). A rollback or another connection's commit
  // drops them (`SENT_STAMP`).
  const windows = sentWindows(db);
  let w = windows.get(venue);
  if (w === undefined || since < w.since) {
    w = { since, rows: sentRows(db, venue, since), last: undefined };
    windows.set(venue, w);
  } else if (since > w.since) {
    w.rows = w.rows.filter((r) => r.t > since);
    w.since = since;
    w.last = undefined;
  }
  if (w.last === undefined) {
    // Integer micro-units: the exact sum SQLite's SUM gives (issue 15, round 4 moved it here).
    let micros = 0n;
    for (const r of w.rows) micros += r.m;
    w.last = new Dec(micros.toString()).dividedBy(1_000_000);
  }
  return w.last;
}

/**
 * The stamp of the kept windows: no table named, so only a bump naming none (a rollback, a writer
 * of several tables) or another connection's commit moves it, not this connection's order writes,
 * which `writeSent` applies to the windows themselves. Every write of `orders` is in this module.
 */
const SENT_STAMP = [] as const;

/** One counted order: its rowid, created_at (ms UTC) and notional in micro-units. */
interface SentRow {
  k: bigint;
  t: number;
  m: bigint;
}

/** Orders counted by {@link sentNotionalSince} from `since` on. */
interface SentWindow {
  since: number;
  rows: SentRow[];
  /** The sum at `since`, once computed. */
  last: Decimal | undefined;
}

const sentMemo = new WeakMap<Db, StampedMemo<Map<string, SentWindow>>>();

/** The kept windows of this connection by venue, empty after the stamp moved. */
function sentWindows(db: Db): Map<string, SentWindow> {
  return stampedMemo(sentMemo, db, () => new Map<string, SentWindow>(), SENT_STAMP);
}

/**
 * Applies a write of this connection to the kept window of `venue` (if any): `add` an order that
 * now counts, or drop one that no longer does. Called right after the statement that changed the
 * row, so the window matches the table whether or not the rest of the caller's work succeeds; a
 * rollback of that work moves the stamp and the window is read again.
 */
function writeSent(db: Db, venue: string, row: SentRow, add: boolean): void {
  const w = sentWindows(db).get(venue);
  if (w === undefined || !(row.t > w.since)) return;
  if (add) w.rows.push(row);
  else w.rows = w.rows.filter((r) => r.k !== row.k);
  w.last = undefined;
}

function sentRows(db: Db, venue: string, since: number): SentRow[] {
  const rows = db
    .prepare(
      "SELECT rowid AS k, created_at AS t, notional_micros AS m FROM orders WHERE venue = ? AND created_at > ? AND status NOT IN ('rejected','not_found') AND parent_id IS NULL",
    )
    .safeIntegers(true)
    .all(venue, since) as Array<{ k: bigint; t: bigint; m: bigint | null }>;
  // NULL micro-units add nothing to SQLite's SUM either.
  return rows.map((r) => ({ k: r.k, t: Number(r.t), m: r.m ?? 0n }));
}

/** One order still able to add exposure: resting, in flight, or with an unconfirmed outcome. */
export interface InflightOrder {
  symbol: string;
  side: OrderSide;
  /** Unfilled size (coins). */
  remaining: Decimal;
  /** Unfilled share of the reserved (worst-case) notional, quote. */
  notional: Decimal;
  status: OrderStatus;
}

/**
 * Parent orders on a venue that are not reduce-only and may still fill (pending, unknown, open,
 * partially filled): the reservations risk checks add to the account's current exposure.
 */
export function inflightOrders(db: Db, venue: string): InflightOrder[] {
  const rows = db
    .prepare(
      `SELECT symbol, side, size, filled_size, notional, status FROM orders
       WHERE venue = ? AND status IN ('pending','unknown','open','partially_filled') AND parent_id IS NULL AND reduce_only = 0`,
    )
    .all(venue) as Array<{
    symbol: string;
    side: OrderSide;
    size: string;
    filled_size: string;
    notional: string;
    status: OrderStatus;
  }>;
  return rows.map((r) => {
    const size = new Dec(r.size);
    const remaining = size.minus(r.filled_size);
    const share = size.isZero() ? new Dec(0) : remaining.dividedBy(size);
    return {
      symbol: r.symbol,
      side: r.side,
      remaining,
      notional: new Dec(r.notional).abs().times(share),
      status: r.status,
    };
  });
}

/**
 * Client order ids (parents and TP/SL children) of one caller's orders on a venue: what per-caller
 * isolation filters venue-level lists (fills, open orders) by.
 */
export function clientOrderIdsOf(db: Db, venue: string, caller: string): Set<string> {
  const rows = db
    .prepare("SELECT client_order_id FROM orders WHERE venue = ? AND caller = ?")
    .pluck()
    .all(venue, caller) as string[];
  return new Set(rows);
}

/** Status history of an order, oldest first. */
export function orderEvents(db: Db, id: string): Array<{ ts: number; status: string; detail: unknown }> {
  return (
    db
      .prepare("SELECT ts, status, detail FROM order_events WHERE order_id = ? ORDER BY id")
      .all(id) as Array<{
      ts: number;
      status: string;
      detail: string | null;
    }>
  ).map((r) => ({ ts: r.ts, status: r.status, detail: r.detail === null ? null : JSON.parse(r.detail) }));
}

/** Venues we hold records for (orders, intents, positions), sorted. */
export function recordedVenues(db: Db): string[] {
  return (
    db
      .prepare(
        "SELECT venue AS v FROM orders UNION SELECT venue FROM intents UNION SELECT venue FROM positions ORDER BY 1",
      )
      .all() as Array<{ v: string }>
  ).map((r) => r.v);
}

/** Callers that proposed intents or placed orders, sorted. */
export function recordedCallers(db: Db): string[] {
  return (
    db.prepare("SELECT caller AS v FROM orders UNION SELECT caller FROM intents ORDER BY 1").all() as Array<{
      v: string;
    }>
  ).map((r) => r.v);
}
