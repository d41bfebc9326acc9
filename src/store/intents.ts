import { type Db, prefixEnd } from "./db.js";
import type { OrderSide, OrderType, Tif } from "../exchange/venue.js";

/**
 * Order intents (DESIGN.md §2 `order_propose`): an immutable, rounded, risk-checked order proposal.
 * Approval binds to `payload_hash` (sha256 of the canonical order payload, src/orders/payload.ts).
 * Sizes/prices/notional are decimal strings (coins / quote currency); times ms UTC.
 */

/** One risk check as shown in previews and refusals. `limit`/`value` are numbers or strings. */
export interface CheckResult {
  check: string;
  passed: boolean;
  limit: unknown;
  value: unknown;
  message: string;
}

/**
 * A check's name as compact records store it: the name, prefixed `!` when it failed (a compacted
 * intent's checks, {@link compactIntentChecks}; a system order's `order_propose` audit summary,
 * src/orders/proposalSummary.ts). {@link parseChecks} reads it back.
 */
export function checkLabel(c: Pick<CheckResult, "check" | "passed">): string {
  return c.passed ? c.check : `!${c.check}`;
}

/** A stored intent. */
export interface IntentRow {
  id: string;
  created_at: number;
  caller: string;
  venue: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  tif: Tif;
  size: string;
  price: string | null;
  /** Mid price (quote) the preview used. */
  ref_price: string;
  notional: string;
  /**
   * Notional at the worst price the order can execute at (its limit, or the market-order protection
   * price): what notional and leverage limits are checked and reserved at. Null on intents stored
   * before it existed (then `notional` is used).
   */
  worst_notional: string | null;
  est_fee: string;
  reduce_only: boolean;
  take_profit: string | null;
  stop_loss: string | null;
  /** Position guard (issue 13): trailing stop in bps, null = none. */
  trailing_stop_bps: number | null;
  /** Position guard: time exit in minutes after the fill, null = none. */
  max_hold_minutes: number | null;
  client_order_id: string;
  payload_hash: string;
  approval_needed: boolean;
  checks: CheckResult[];
}

interface Raw extends Omit<IntentRow, "reduce_only" | "approval_needed" | "checks"> {
  reduce_only: number;
  approval_needed: number;
  checks: string;
}

function parse(r: Raw): IntentRow {
  return {
    ...r,
    reduce_only: r.reduce_only === 1,
    approval_needed: r.approval_needed === 1,
    checks: parseChecks(r.checks),
  };
}

/**
 * Whole checks, or the compact form {@link compactIntentChecks} stores (an array of check names, a
 * failed one prefixed `!`), read back with `limit`/`value` null and an empty message.
 */
function parseChecks(json: string): CheckResult[] {
  const v = JSON.parse(json) as Array<CheckResult | string>;
  return v.map((c) =>
    typeof c === "string"
      ? {
          check: c.startsWith("!") ? c.slice(1) : c,
          passed: !c.startsWith("!"),
          limit: null,
          value: null,
          message: "",
        }
      : c,
  );
}

/**
 * Shrinks the stored checks of the intents on `venue` whose client order id starts with `prefix` to
 * their names (a failed check prefixed `!`), for a replay's own database (src/engine/replay.ts,
 * issue 15: ten checks with their limits, values and messages are ≈ 1.35 KB an order). Read back,
 * such a check has `limit` and `value` null and an empty `message`; the whole checks stay in the
 * intent's `order_propose` audit row, which records the decision. A replay calls this only for the
 * intents of a cycle that has finished: their orders are sent, so nothing approves or re-checks
 * them. Idempotent; run it inside the caller's transaction.
 */
export function compactIntentChecks(db: Db, venue: string, prefix: string): void {
  const rows = db
    .prepare(
      "SELECT id, checks FROM intents WHERE venue = ? AND client_order_id >= ? AND client_order_id < ?",
    )
    .all(venue, prefix, prefixEnd(prefix)) as Array<{ id: string; checks: string }>;
  // A new rowid (the table's end), not an update in place: a row shrunk in place keeps its page,
  // which then holds little more than it (the next whole intent does not fit beside it); moving it
  // lets the emptied page be merged and the small row join the others at the end. The id, which
  // orders refer to, is unchanged; nothing refers to an intent's rowid.
  const update = db.prepare(
    "UPDATE intents SET checks = ?, rowid = (SELECT MAX(rowid) + 1 FROM intents) WHERE id = ?",
  );
  for (const r of rows) {
    const checks = JSON.parse(r.checks) as Array<CheckResult | string>;
    if (checks.every((c) => typeof c === "string")) continue;
    const names = checks.map((c) => (typeof c === "string" ? c : checkLabel(c)));
    update.run(JSON.stringify(names), r.id);
  }
}

/** Inserts an intent. @throws SqliteError on a duplicate (venue, client_order_id). */
export function insertIntent(db: Db, i: IntentRow): void {
  db.prepare(
    `INSERT INTO intents (id, created_at, caller, venue, symbol, side, type, tif, size, price, ref_price, notional,
       worst_notional, est_fee, reduce_only, take_profit, stop_loss, client_order_id, payload_hash, approval_needed, checks,
       trailing_stop_bps, max_hold_minutes)
     VALUES (@id, @created_at, @caller, @venue, @symbol, @side, @type, @tif, @size, @price, @ref_price, @notional,
       @worst_notional, @est_fee, @reduce_only, @take_profit, @stop_loss, @client_order_id, @payload_hash,
       @approval_needed, @checks, @trailing_stop_bps, @max_hold_minutes)`,
  ).run({
    ...i,
    trailing_stop_bps: i.trailing_stop_bps ?? null,
    max_hold_minutes: i.max_hold_minutes ?? null,
    reduce_only: i.reduce_only ? 1 : 0,
    approval_needed: i.approval_needed ? 1 : 0,
    checks: JSON.stringify(i.checks),
  });
}

/** Reads an intent by id. */
export function getIntent(db: Db, id: string): IntentRow | undefined {
  const r = db.prepare("SELECT * FROM intents WHERE id = ?").get(id) as Raw | undefined;
  return r ? parse(r) : undefined;
}

/** Reads the intent holding a client order id on a venue. */
export function intentByClientId(db: Db, venue: string, clientOrderId: string): IntentRow | undefined {
  const r = db
    .prepare("SELECT * FROM intents WHERE venue = ? AND client_order_id = ?")
    .get(venue, clientOrderId) as Raw | undefined;
  return r ? parse(r) : undefined;
}

/** Filters of {@link listIntents}. */
export interface IntentQuery {
  venue?: string;
  symbol?: string;
  /** Exact caller id (`token:bot`, `stdio:agent`...). */
  caller?: string;
  /** Only intents that need approval and have no order yet (candidates for a decision). */
  awaitingDecision?: boolean;
  /** 1..1000. */
  limit: number;
}

/** Intents newest first (console lists; read-only). */
export function listIntents(db: Db, q: IntentQuery): IntentRow[] {
  const where: string[] = [];
  const p: Record<string, unknown> = { limit: q.limit };
  for (const k of ["venue", "symbol", "caller"] as const) {
    if (q[k] === undefined) continue;
    where.push(`i.${k} = @${k}`);
    p[k] = q[k];
  }
  if (q.awaitingDecision) {
    where.push("i.approval_needed = 1 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.intent_id = i.id)");
  }
  const sql = `SELECT i.* FROM intents i ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY i.created_at DESC, i.id DESC LIMIT @limit`;
  return (db.prepare(sql).all(p) as Raw[]).map(parse);
}
