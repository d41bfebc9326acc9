import { bumpCacheEpoch, type Db, type StampedMemo, sqlLimit, stampedMemo } from "./db.js";
import type { VenueFill } from "../exchange/venue.js";

/**
 * Fills mirrored or produced locally (DESIGN.md §6 `fills`): the paper venue writes its own here; the
 * reconciler (issue 5) mirrors real venues' fills. Amounts are decimal strings; times ms UTC.
 */

/** Inserts one fill; returns its row id. */
export function insertFill(db: Db, venue: string, f: Omit<VenueFill, "id">): number {
  bumpCacheEpoch(db, "fills");
  const info = db
    .prepare(
      `INSERT INTO fills (venue, venue_order_id, client_order_id, symbol, side, size, price, fee, liquidity,
         realized_pnl, ts, kind)
       VALUES (@venue, @venue_order_id, @client_order_id, @symbol, @side, @size, @price, @fee, @liquidity,
         @realized_pnl, @time, @kind)`,
    )
    .run({ venue, ...f, kind: f.kind ?? "trade" });
  return Number(info.lastInsertRowid);
}

interface Raw {
  id: number;
  venue_order_id: string;
  client_order_id: string | null;
  symbol: string;
  side: "buy" | "sell";
  size: string;
  price: string;
  fee: string;
  liquidity: "maker" | "taker";
  realized_pnl: string;
  ts: number;
  kind: "trade" | "liquidation";
}

function toFill(r: Raw): VenueFill {
  return {
    id: String(r.id),
    venue_order_id: r.venue_order_id,
    client_order_id: r.client_order_id,
    symbol: r.symbol,
    side: r.side,
    size: r.size,
    price: r.price,
    fee: r.fee,
    liquidity: r.liquidity,
    realized_pnl: r.realized_pnl,
    time: r.ts,
    kind: r.kind,
  };
}

/**
 * Fills of a venue, oldest first, from `since` (ms UTC) and after row id `afterId`; `limit + 1` rows
 * (fresh objects on every call).
 */
export function listFills(db: Db, venue: string, since: number, afterId: number, limit: number): VenueFill[] {
  // The reconciler asks every pass from a cursor that moves only with a new fill (it re-reads the
  // newest fill's millisecond): the last answer stands until a fill is written (`fills` epoch), a
  // rollback, or another connection's commit (issue 15, round 4).
  const last = stampedMemo(fillsMemo, db, () => ({ key: "", rows: [] as Raw[] }), FILLS);
  const key = `${venue}\n${since}\n${afterId}\n${limit}`;
  if (last.key !== key) {
    last.rows = db
      .prepare(
        `SELECT * FROM fills WHERE venue = ? AND ts >= ? AND id > ? ORDER BY id LIMIT ${sqlLimit(limit + 1)}`,
      )
      .all(venue, since, afterId) as Raw[];
    last.key = key;
  }
  return last.rows.map(toFill);
}

const FILLS = ["fills"] as const;
const fillsMemo = new WeakMap<Db, StampedMemo<{ key: string; rows: Raw[] }>>();

/** A fill with the venue it happened on and the caller of its order (when the order is ours). */
export interface FillRecord extends VenueFill {
  venue: string;
  caller: string | null;
}

/** Filters of {@link queryFills}; times ms UTC, inclusive. */
export interface FillQuery {
  venue?: string;
  symbol?: string;
  /** Caller id of the order the fill belongs to. */
  caller?: string;
  since?: number;
  until?: number;
  /** 1..5000. */
  limit: number;
}

/**
 * Fills across venues, newest first, joined to our order (by venue and client order id) for the
 * caller. Read-only (console).
 */
export function queryFills(db: Db, q: FillQuery): FillRecord[] {
  const where: string[] = [];
  const p: Record<string, unknown> = { limit: q.limit };
  const filters: Array<[keyof FillQuery, string]> = [
    ["venue", "f.venue = @venue"],
    ["symbol", "f.symbol = @symbol"],
    ["caller", "o.caller = @caller"],
    ["since", "f.ts >= @since"],
    ["until", "f.ts <= @until"],
  ];
  for (const [k, clause] of filters) {
    if (q[k] === undefined) continue;
    where.push(clause);
    p[k] = q[k];
  }
  const rows = db
    .prepare(
      `SELECT f.*, o.caller AS caller FROM fills f
       LEFT JOIN orders o ON o.venue = f.venue AND o.client_order_id = f.client_order_id
       ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY f.ts DESC, f.id DESC LIMIT @limit`,
    )
    .all(p) as Array<Raw & { venue: string; caller: string | null }>;
  return rows.map((r) => ({ ...toFill(r), venue: r.venue, caller: r.caller }));
}
