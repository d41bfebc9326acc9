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
  db.prepare(
    `INSERT INTO orders (id, intent_id, parent_id, venue, symbol, side, type, tif, size, price, trigger_px, tpsl,
       reduce_only, notional, notional_micros, client_order_id, venue_order_id, status, filled_size, avg_px, reason,
       caller, created_at, updated_at)
     VALUES (@id, @intent_id, @parent_id, @venue, @symbol, @side, @type, @tif, @size, @price, @trigger_px, @tpsl,
       @reduce_only, @notional, @notional_micros, @client_order_id, @venue_order_id, @status, @filled_size, @avg_px,
       @reason, @caller, @created_at, @updated_at)`,
  ).run({
    ...o,
    reduce_only: o.reduce_only ? 1 : 0,
    notional_micros: BigInt(new Dec(o.notional).abs().times(1_000_000).ceil().toFixed(0)),
  });
  db.prepare("INSERT INTO order_events (order_id, ts, status, detail) VALUES (?, ?, ?, ?)").run(
    o.id,
    o.created_at,
    o.status,
    null,
  );
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
  // The cycle plans, opens execution and risk-checks each order at one instant, and `since` moves a
  // minute a cycle while orders are written far less often: the counted rows (time, integer
  // micro-units) are read once per stamp — an order write (`orders` epoch), a rollback or another
  // connection's commit — and summed here for each later `since`; an earlier `since` re-reads.
  const windows = stampedMemo(sentMemo, db, () => new Map<string, SentWindow>(), ORDERS);
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
    // Integer micro-units: the exact sum SQLite's SUM gave (issue 15, round 4 moved it here).
    let micros = 0n;
    for (const r of w.rows) micros += r.m;
    w.last = new Dec(micros.toString()).dividedBy(1_000_000);
  }
  return w.last;
}

/** Orders counted by {@link sentNotionalSince} from `since` on: created_at (ms UTC), notional in micro-units. */
interface SentWindow {
  since: number;
  rows: Array<{ t: number; m: bigint }>;
  /** The sum at `since`, once computed. */
  last: Decimal | undefined;
}

const sentMemo = new WeakMap<Db, StampedMemo<Map<string, SentWindow>>>();

function sentRows(db: Db, venue: string, since: number): Array<{ t: number; m: bigint }> {
  const rows = db
    .prepare(
      "SELECT created_at AS t, notional_micros AS m FROM orders WHERE venue = ? AND created_at > ? AND status NOT IN ('rejected','not_found') AND parent_id IS NULL",
    )
    .safeIntegers(true)
    .all(venue, since) as Array<{ t: bigint; m: bigint | null }>;
  // NULL micro-units add nothing to SQLite's SUM either.
  return rows.map((r) => ({ t: Number(r.t), m: r.m ?? 0n }));
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
