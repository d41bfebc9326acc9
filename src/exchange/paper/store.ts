import type { Decimal } from "decimal.js";
import { Dec } from "../fillModel.js";
import { bumpCacheEpoch, type CacheTable, type Db } from "../../store/db.js";
import { getMetaText, setMetaText } from "../../store/meta.js";
import type { OrderSide, OrderStatus, OrderType, Tif } from "../venue.js";

/**
 * The paper venue's own order book (table `paper_orders`) and cash ledger (`paper_ledger`). This is
 * the "exchange side" of paper trading, distinct from our order records in src/store/orders.ts, so
 * paper behaves like a real venue that can be reconciled against. Every write bumps the connection's
 * `paper` cache epoch (src/store/db.ts `cacheEpoch`): the venue caches what it reads from these tables.
 */

/** One paper order. Decimal strings; times ms UTC. */
export interface PaperOrder {
  id: string;
  seq: number;
  client_order_id: string;
  parent_id: string | null;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  tif: Tif;
  size: string;
  price: string | null;
  trigger_px: string | null;
  tpsl: "tp" | "sl" | null;
  reduce_only: boolean;
  status: OrderStatus;
  filled_size: string;
  avg_px: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
  /** Position guard of a parent order (issue 13): trailing stop in bps from the best price since the fill. */
  trail_bps?: number | null;
  /** Position guard: close the position this many ms after the first fill. */
  max_hold_ms?: number | null;
  /** null (no guard) | waiting (parent not filled yet) | armed | done. */
  guard_state?: "waiting" | "armed" | "done" | null;
  /** ms UTC of the first fill (the guard's start). */
  guard_armed_at?: number | null;
  /** Best price since the first fill (high for a long, low for a short), decimal string. */
  guard_peak?: string | null;
}

/** The cache epoch these tables move (src/store/db.ts): the venue's memo, not the order or meta caches. */
const PAPER: CacheTable = "paper";

type Raw = Omit<PaperOrder, "reduce_only"> & { reduce_only: number };
const parse = (r: Raw): PaperOrder => ({ ...r, reduce_only: r.reduce_only === 1 });

/** Next order sequence number. */
export function nextSeq(db: Db): number {
  const r = db.prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM paper_orders").get() as { n: number };
  return r.n;
}

/** Inserts a paper order. */
export function insertPaperOrder(db: Db, o: PaperOrder): void {
  bumpCacheEpoch(db, PAPER);
  db.prepare(
    `INSERT INTO paper_orders (id, seq, client_order_id, parent_id, symbol, side, type, tif, size, price, trigger_px,
       tpsl, reduce_only, status, filled_size, avg_px, reason, created_at, updated_at, trail_bps, max_hold_ms,
       guard_state, guard_armed_at, guard_peak)
     VALUES (@id, @seq, @client_order_id, @parent_id, @symbol, @side, @type, @tif, @size, @price, @trigger_px,
       @tpsl, @reduce_only, @status, @filled_size, @avg_px, @reason, @created_at, @updated_at, @trail_bps,
       @max_hold_ms, @guard_state, @guard_armed_at, @guard_peak)`,
  ).run({
    trail_bps: null,
    max_hold_ms: null,
    guard_state: null,
    guard_armed_at: null,
    guard_peak: null,
    ...o,
    reduce_only: o.reduce_only ? 1 : 0,
  });
}

/** Updates status/fill fields of a paper order. */
export function updatePaperOrder(
  db: Db,
  id: string,
  u: { status: OrderStatus; filled_size?: string; avg_px?: string | null; reason?: string | null },
  now: number,
): void {
  bumpCacheEpoch(db, PAPER);
  db.prepare(
    `UPDATE paper_orders SET status = @status, filled_size = COALESCE(@filled_size, filled_size),
       avg_px = COALESCE(@avg_px, avg_px), reason = COALESCE(@reason, reason), updated_at = @now WHERE id = @id`,
  ).run({
    id,
    now,
    status: u.status,
    filled_size: u.filled_size ?? null,
    avg_px: u.avg_px ?? null,
    reason: u.reason ?? null,
  });
}

/** Updates the position-guard state of a parent order. */
export function updatePaperGuard(
  db: Db,
  id: string,
  g: { state: "waiting" | "armed" | "done"; armed_at?: number | null; peak?: string | null },
): void {
  bumpCacheEpoch(db, PAPER);
  db.prepare(
    `UPDATE paper_orders SET guard_state = @state, guard_armed_at = COALESCE(@armed_at, guard_armed_at),
       guard_peak = COALESCE(@peak, guard_peak) WHERE id = @id`,
  ).run({ id, state: g.state, armed_at: g.armed_at ?? null, peak: g.peak ?? null });
}

/** Parent orders of a symbol whose position guard is armed, oldest first. */
export function armedGuards(db: Db, symbol: string): PaperOrder[] {
  return (
    db
      .prepare("SELECT * FROM paper_orders WHERE guard_state = 'armed' AND symbol = ? ORDER BY seq")
      .all(symbol) as Raw[]
  ).map(parse);
}

/** Symbols with an armed position guard. */
export function armedGuardSymbols(db: Db): string[] {
  return (
    db.prepare("SELECT DISTINCT symbol FROM paper_orders WHERE guard_state = 'armed'").all() as Array<{
      symbol: string;
    }>
  ).map((r) => r.symbol);
}

/** A paper order by id. */
export function paperOrderById(db: Db, id: string): PaperOrder | undefined {
  const r = db.prepare("SELECT * FROM paper_orders WHERE id = ?").get(id) as Raw | undefined;
  return r ? parse(r) : undefined;
}

/** Coins filled on `symbol` during the 1m bar opened at `bar` (ms UTC), as a decimal string. */
export function participationUsed(db: Db, symbol: string, bar: number): string {
  return (
    (
      db.prepare("SELECT used FROM paper_participation WHERE symbol = ? AND bar = ?").get(symbol, bar) as
        | { used: string }
        | undefined
    )?.used ?? "0"
  );
}

/** Adds `qty` coins to what was filled on `symbol` during the bar opened at `bar`. */
export function addParticipation(db: Db, symbol: string, bar: number, qty: Decimal.Value): void {
  bumpCacheEpoch(db, PAPER);
  const used = new Dec(participationUsed(db, symbol, bar)).plus(qty).toString();
  db.prepare(
    "INSERT INTO paper_participation (symbol, bar, used) VALUES (?, ?, ?) ON CONFLICT(symbol, bar) DO UPDATE SET used = excluded.used",
  ).run(symbol, bar, used);
}

/**
 * Claims the booking of the funding event (symbol, time): true the first time, false ever after. The
 * primary key makes this hold across connections and processes, not only inside one sync.
 */
export function claimFunding(db: Db, symbol: string, time: number): boolean {
  bumpCacheEpoch(db, PAPER);
  return (
    db.prepare("INSERT OR IGNORE INTO paper_funding_booked (symbol, time) VALUES (?, ?)").run(symbol, time)
      .changes === 1
  );
}

/** A paper order by client order id. */
export function paperOrderByClientId(db: Db, clientOrderId: string): PaperOrder | undefined {
  const r = db.prepare("SELECT * FROM paper_orders WHERE client_order_id = ?").get(clientOrderId) as
    | Raw
    | undefined;
  return r ? parse(r) : undefined;
}

/** Live paper orders (open or waiting for a trigger), oldest first. */
export function livePaperOrders(db: Db): PaperOrder[] {
  return (
    db
      .prepare("SELECT * FROM paper_orders WHERE status IN ('open','waiting_trigger') ORDER BY seq")
      .all() as Raw[]
  ).map(parse);
}

/** Children (TP/SL) of a paper order. */
export function paperChildren(db: Db, parentId: string): PaperOrder[] {
  return (
    db.prepare("SELECT * FROM paper_orders WHERE parent_id = ? ORDER BY seq").all(parentId) as Raw[]
  ).map(parse);
}

/** Kinds of cash-ledger rows: the deposit, realised PnL of trades, fees, funding, and liquidation losses. */
export type LedgerKind = "deposit" | "realized_pnl" | "fee" | "funding" | "liquidation";

/** One ledger row (amount signed, quote currency; time ms UTC). */
export interface LedgerRow {
  id: number;
  ts: number;
  kind: LedgerKind;
  symbol: string | null;
  amount: string;
  ref: string | null;
}

/** Every ledger row, oldest first (the `replay --ledger` CSV, audits). */
export function* iterateLedger(db: Db): Generator<LedgerRow> {
  yield* db
    .prepare("SELECT id, ts, kind, symbol, amount, ref FROM paper_ledger ORDER BY id")
    .iterate() as IterableIterator<LedgerRow>;
}

/** Appends a ledger entry (amount signed, quote currency). */
export function addLedger(
  db: Db,
  e: {
    ts: number;
    kind: LedgerKind;
    symbol: string | null;
    amount: string;
    ref: string | null;
  },
): void {
  bumpCacheEpoch(db, PAPER);
  db.transaction(() => {
    db.prepare(
      "INSERT INTO paper_ledger (ts, kind, symbol, amount, ref) VALUES (@ts, @kind, @symbol, @amount, @ref)",
    ).run(e);
    // Running cash balance, kept in the same transaction as the ledger row (cash() reads it instead
    // of summing the whole ledger on every call).
    setMeta(db, "paper.cash", new Dec(getMeta(db, "paper.cash") ?? "0").plus(e.amount).toString());
  })();
}

/** Cash balance (quote): Σ ledger amounts, maintained by {@link addLedger}. */
export function cashBalance(db: Db): string {
  return getMeta(db, "paper.cash") ?? "0";
}

/** Every ledger amount (quote), oldest first (audits and tests recompute cash from these). */
export function ledgerAmounts(db: Db): string[] {
  return (db.prepare("SELECT amount FROM paper_ledger ORDER BY id").all() as Array<{ amount: string }>).map(
    (r) => r.amount,
  );
}

/** Reads a `meta` value (raw text; through the per-connection meta cache, src/store/meta.ts). */
export function getMeta(db: Db, key: string): string | undefined {
  return getMetaText(db, key);
}

/**
 * Writes a `meta` value (raw text, written through the meta cache). Moves no epoch: the venue reads
 * its cursors and cash through the meta cache, not its memo, so the sync's cursor writes every minute
 * leave the memo's positions and live orders standing (issue 15, round 4).
 */
export function setMeta(db: Db, key: string, value: string): void {
  setMetaText(db, key, value);
}
