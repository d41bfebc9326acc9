import { randomFillSync } from "node:crypto";
import type { Clock } from "../clock.js";
import { TwError, toTwError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  FINAL_STATUSES,
  type OrderStatus,
  type PlaceRequest,
  type PlaceResult,
  type Venue,
} from "../exchange/venue.js";
import { needsApproval } from "../policy/approval.js";
import { completeKey, getKey, payloadHash, replayDone, reserveKey } from "../policy/idempotency.js";
import type { PreparedOrder } from "../policy/risk.js";
import type { Caller } from "../policy/scopes.js";
import { appendAudit, flushAnchor } from "../store/audit.js";
import { type Db, retryBusy } from "../store/db.js";
import { getIntent, insertIntent, intentByClientId, type IntentRow } from "../store/intents.js";
import {
  getOrder,
  insertOrder,
  listOrders,
  type OrderRow,
  orderByClientId,
  ordersOfIntent,
  updateOrder,
} from "../store/orders.js";
import { type OrderView, orderView, type SubmitView } from "./views.js";

/**
 * The order service (domain; no MCP): intents, submit, cancel, order-status resolution. Tools and
 * the minute cycle both reach it only through the gate (src/orders/ops.ts), which has already made
 * every policy decision (approval included) and holds the venue account's execution lane while the
 * methods that touch the venue run: this service only records and sends.
 *
 * Submit protocol (DESIGN.md §3 step 5, §10): in ONE transaction the idempotency key
 * (`order_submit`, `<venue>:<client_order_id>`) is reserved, the order rows are written as `pending`
 * and an `order_submit.send` audit row is appended (not when the caller holds an open transaction,
 * as a replay's tick batch does: then nothing can commit ahead of the venue call, and the outcome's
 * `order_submit` row commits with the order rows or not at all); only then is the venue called. The outcome is
 * recorded in a second transaction, retried while another process holds the write lock, so a
 * venue-accepted order is never reported as failed. A timeout or transport failure leaves the rows
 * `unknown` and the key reserved; nothing ever re-sends a reserved key — a retry returns the
 * recorded state, and {@link OrderService.resolve} settles it with an order-status query. At
 * start-up every stale `pending` row left by a killed process becomes `unknown`
 * ({@link OrderService.markInterrupted}).
 */

/** Idempotency scope of submissions. */
export const SUBMIT_SCOPE = "order_submit";

/** Key of a submission: `<venue>:<client_order_id>`. */
export function submitKey(venue: string, clientOrderId: string): string {
  return `${venue}:${clientOrderId}`;
}

const newId = (prefix: string) => `${prefix}_${randomHex8()}`;

// Ids take 8 random bytes each from a 4 KB pool filled in one call: `randomBytes(8)` is a system
// call every time (≈ 6.3 µs here against ≈ 0.17 µs from the pool), up to four an order (issue 15).
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

/** 8 random bytes as 16 hex characters (ids, not secrets). */
function randomHex8(): string {
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const hex = pool.toString("hex", poolAt, poolAt + 8);
  poolAt += 8;
  return hex;
}

/** Fields an intent's payload hash covers: exactly what will be sent. */
export function intentPayload(
  i: Omit<
    IntentRow,
    | "id"
    | "created_at"
    | "caller"
    | "payload_hash"
    | "checks"
    | "approval_needed"
    | "ref_price"
    | "notional"
    | "worst_notional"
    | "est_fee"
  >,
) {
  return {
    venue: i.venue,
    symbol: i.symbol,
    side: i.side,
    type: i.type,
    tif: i.tif,
    size: i.size,
    price: i.price,
    reduce_only: i.reduce_only,
    take_profit: i.take_profit,
    stop_loss: i.stop_loss,
    // Guard fields only when set, so the hash of an order without a guard is unchanged.
    ...(i.trailing_stop_bps ? { trailing_stop_bps: i.trailing_stop_bps } : {}),
    ...(i.max_hold_minutes ? { max_hold_minutes: i.max_hold_minutes } : {}),
    client_order_id: i.client_order_id,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TwError("EXCHANGE_UNAVAILABLE", `The venue did not answer within ${ms} ms.`, {
            details: { timeout_ms: ms },
          }),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an intent carries a position guard (issue 13). */
function hasGuard(i: IntentRow): boolean {
  return Boolean(i.trailing_stop_bps || i.max_hold_minutes);
}

/** What the order service uses (explicit, so it can be built and tested without an App). */
export interface OrderServiceDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  /** Venue instances by id (src/exchange/venues.ts). */
  venues: { get(id: string): Venue };
  /** Paper intents at or below this notional (quote) need no approval (`paper.autoApproveNotional`). */
  autoApproveNotional: number;
}

/** The order service. */
export class OrderService {
  /** Longest wait for a venue's answer before the outcome is recorded as `unknown` (ms). */
  timeoutMs = 15_000;
  private readonly inflight = new Set<string>();
  private readonly db: Db;

  constructor(private readonly d: OrderServiceDeps) {
    this.db = d.db;
  }

  /**
   * Records an intent from a prepared (rounded, checked) order; the same client order id with the
   * same order returns the stored intent.
   * @throws TwError IDEMPOTENCY_CONFLICT when the client order id is taken on the venue by a
   *   different order (another caller's is not named).
   */
  propose(caller: Caller, p: PreparedOrder, clientOrderId?: string): IntentRow {
    const cid = clientOrderId ?? `tw-${randomHex8()}`;
    const base = { ...p, client_order_id: cid };
    const hash = payloadHash(intentPayload(base));
    const existing = intentByClientId(this.db, p.venue, cid);
    if (existing) {
      if (existing.caller !== caller.id) {
        throw new TwError("IDEMPOTENCY_CONFLICT", `client_order_id ${cid} is already in use on ${p.venue}.`, {
          hint: "Client order ids are unique per venue account: choose another client_order_id.",
          details: { client_order_id: cid },
        });
      }
      if (existing.payload_hash === hash) return existing;
      throw new TwError(
        "IDEMPOTENCY_CONFLICT",
        `client_order_id ${cid} is already used by intent ${existing.id} with a different order.`,
        {
          hint: "Use a new client_order_id for a different order.",
          details: { intent_id: existing.id, client_order_id: cid },
        },
      );
    }
    const row: IntentRow = {
      id: newId("int"),
      created_at: this.d.clock.now(),
      caller: caller.id,
      venue: p.venue,
      symbol: p.symbol,
      side: p.side,
      type: p.type,
      tif: p.tif,
      size: p.size,
      price: p.price,
      ref_price: p.ref_price,
      notional: p.notional,
      worst_notional: p.worst_notional,
      est_fee: p.est_fee,
      reduce_only: p.reduce_only,
      take_profit: p.take_profit,
      stop_loss: p.stop_loss,
      trailing_stop_bps: p.trailing_stop_bps,
      max_hold_minutes: p.max_hold_minutes,
      client_order_id: cid,
      payload_hash: hash,
      approval_needed: needsApproval(p.venue, p.worst_notional, this.d.autoApproveNotional),
      checks: p.checks,
    };
    insertIntent(this.db, row);
    return row;
  }

  /** An intent or NOT_FOUND. */
  intent(id: string): IntentRow {
    const i = getIntent(this.db, id);
    if (!i)
      throw new TwError("NOT_FOUND", `No intent ${id}.`, {
        hint: "Use the intent_id returned by order_propose.",
      });
    return i;
  }

  private submitView(parent: OrderRow, replayed: boolean): SubmitView {
    const children = ordersOfIntent(this.db, parent.intent_id ?? "").filter((o) => o.parent_id === parent.id);
    return {
      ...orderView(parent),
      children: children.map(orderView),
      replayed,
      note:
        parent.status === "unknown" || parent.status === "pending"
          ? `Outcome not confirmed by the venue yet; it will NOT be re-sent. Call order_get with order_id ${parent.id} to resolve it.`
          : null,
    };
  }

  /** The stored state of a reserved submission (used by the idempotency step for retries). */
  pendingView(venue: string, clientOrderId: string): SubmitView | undefined {
    const o = orderByClientId(this.db, venue, clientOrderId);
    return o ? this.submitView(o, true) : undefined;
  }

  /** The stored state of a reserved submission by its parent order id. */
  pendingViewById(orderId: string): SubmitView | undefined {
    const o = getOrder(this.db, orderId);
    return o ? this.submitView(o, true) : undefined;
  }

  private requests(intent: IntentRow, rows: OrderRow[], native: boolean): PlaceRequest[] {
    const guard =
      native && hasGuard(intent)
        ? {
            trailing_stop_bps: intent.trailing_stop_bps,
            max_hold_ms: (intent.max_hold_minutes ?? 0) * 60_000 || null,
          }
        : null;
    return rows.map((o) => ({
      ...(guard && o.parent_id === null ? { guard } : {}),
      client_order_id: o.client_order_id,
      symbol: o.symbol,
      side: o.side,
      type: o.type,
      size: o.size,
      price: o.price,
      tif: o.tif,
      reduce_only: o.reduce_only,
      ...(o.trigger_px && o.tpsl
        ? {
            trigger: { trigger_px: o.trigger_px, tpsl: o.tpsl },
            parent_client_order_id: intent.client_order_id,
          }
        : {}),
    }));
  }

  private orderRows(intent: IntentRow, caller: Caller, now: number): OrderRow[] {
    const base = {
      intent_id: intent.id,
      venue: intent.venue,
      symbol: intent.symbol,
      venue_order_id: null,
      status: "pending" as OrderStatus,
      filled_size: "0",
      avg_px: null,
      reason: null,
      caller: caller.id,
      created_at: now,
      updated_at: now,
    };
    const parent: OrderRow = {
      ...base,
      id: newId("ord"),
      parent_id: null,
      side: intent.side,
      type: intent.type,
      tif: intent.tif,
      size: intent.size,
      price: intent.price,
      trigger_px: null,
      tpsl: null,
      reduce_only: intent.reduce_only,
      notional: intent.worst_notional ?? intent.notional,
      client_order_id: intent.client_order_id,
    };
    const exit = intent.side === "buy" ? "sell" : "buy";
    const child = (tpsl: "tp" | "sl", px: string): OrderRow => ({
      ...base,
      id: newId("ord"),
      parent_id: parent.id,
      side: exit,
      type: "market",
      tif: "IOC",
      size: intent.size,
      price: px,
      trigger_px: px,
      tpsl,
      reduce_only: true,
      notional: "0",
      client_order_id: `${intent.client_order_id}:${tpsl}`,
    });
    const rows = [parent];
    if (intent.take_profit) rows.push(child("tp", intent.take_profit));
    if (intent.stop_loss) rows.push(child("sl", intent.stop_loss));
    return rows;
  }

  /**
   * Sends an intent exactly once. The gate has decided everything (approval, control mode, risk) and
   * holds the account's lane; this records, sends and records the outcome.
   * @returns the order (status from the venue; `unknown` when the outcome is ambiguous).
   * @throws TwError NOT_FOUND, IDEMPOTENCY_CONFLICT, EXCHANGE_REJECTED (recorded; replayed on retry),
   *   RATE_LIMITED / EXCHANGE_UNAVAILABLE when the venue refused before sending.
   */
  async submit(caller: Caller, intentId: string): Promise<SubmitView> {
    const intent = this.intent(intentId);
    const venue = this.d.venues.get(intent.venue);
    const key = submitKey(intent.venue, intent.client_order_id);
    const now = this.d.clock.now();
    const fresh = this.orderRows(intent, caller, now);
    // Inside a caller's open transaction (a replay's batch of ticks) nothing commits before the
    // venue call: a send row could not be ahead of it, and the outcome's order_submit row commits
    // with these order rows or not at all (a kill rolls back the paper book too). Only the
    // write-ahead row that can be durable first is written (issue 15: ≈ 80 bytes a replay cycle).
    const writeAhead = !this.db.inTransaction;
    const reserve = this.db.transaction((): OrderRow[] | null => {
      if (!reserveKey(this.db, SUBMIT_SCOPE, key, intent.payload_hash, now, { order_id: fresh[0].id }))
        return null;
      // A released key means an earlier attempt was refused before sending: revive its rows.
      const rows = fresh.map((r) => {
        const old = orderByClientId(this.db, r.venue, r.client_order_id);
        if (!old) {
          insertOrder(this.db, r);
          return r;
        }
        updateOrder(this.db, old.id, { status: "pending", reason: null }, now, { retry: true });
        return getOrder(this.db, old.id)!;
      });
      // Audited before anything leaves the process: a kill -9 during the venue call leaves a trace.
      if (writeAhead)
        appendAudit(this.db, {
          ts: now,
          caller: caller.id,
          tool: "order_submit.send",
          args: {
            intent_id: intent.id,
            venue: intent.venue,
            symbol: intent.symbol,
            side: intent.side,
            size: intent.size,
            price: intent.price,
            reduce_only: intent.reduce_only,
          },
          decision: "allowed",
          result: { order_id: rows[0].id, status: "pending" },
          durationMs: 0,
          keys: [intent.client_order_id],
          durable: true,
        });
      return rows;
    });
    const rows = retryBusy(() => reserve());
    // Inside a caller's transaction (a replay's batch of ticks) the rows are not committed yet: an
    // anchor line naming them would outlive a rollback or a kill. The anchor follows at the next
    // append outside a transaction or at close, never ahead of the database.
    if (!this.db.inTransaction) flushAnchor(this.db);
    if (!rows) return this.replay(intent);
    const parent = rows[0];
    this.inflight.add(parent.id);
    let results: PlaceResult[];
    try {
      results = await withTimeout(
        venue.place(this.requests(intent, rows, venue.nativeGuards === true)),
        this.timeoutMs,
      );
    } catch (err) {
      return this.onPlaceError(err, rows, key);
    } finally {
      this.inflight.delete(parent.id);
    }
    return this.recordPlaced(intent, rows, results, key);
  }

  private replay(intent: IntentRow): SubmitView {
    const row = getKey(this.db, SUBMIT_SCOPE, submitKey(intent.venue, intent.client_order_id));
    if (row && row.payload_hash !== intent.payload_hash) {
      throw new TwError(
        "IDEMPOTENCY_CONFLICT",
        `client_order_id ${intent.client_order_id} was already submitted with a different payload.`,
      );
    }
    if (row?.status === "done") return replayDone(row) as SubmitView;
    const v = this.pendingView(intent.venue, intent.client_order_id);
    if (!v) throw new TwError("INTERNAL", "reserved submission without an order record");
    return v;
  }

  private onPlaceError(err: unknown, rows: OrderRow[], key: string): SubmitView {
    const e = toTwError(err);
    const now = this.d.clock.now();
    if (e.details?.sent === false) {
      // Refused before anything left the process: record it and free the key so a retry may send.
      retryBusy(
        this.db.transaction(() => {
          for (const r of rows)
            updateOrder(this.db, r.id, { status: "rejected", reason: `not sent: ${e.message}` }, now, {
              code: e.code,
            });
          this.db
            .prepare(
              "UPDATE idempotency_keys SET status = 'released', updated_at = ? WHERE scope = ? AND key = ?",
            )
            .run(now, SUBMIT_SCOPE, key);
        }),
      );
      throw e;
    }
    this.d.log.warn({ order_id: rows[0].id, code: e.code }, "venue outcome ambiguous; order left unknown");
    retryBusy(
      this.db.transaction(() => {
        for (const r of rows) {
          // Another path (resolve in this or another process) may have settled it meanwhile.
          if (getOrder(this.db, r.id)?.status !== "pending") continue;
          updateOrder(this.db, r.id, { status: "unknown", reason: e.message }, now, { code: e.code });
        }
      }),
    );
    return this.submitView(getOrder(this.db, rows[0].id)!, false);
  }

  private recordPlaced(intent: IntentRow, rows: OrderRow[], results: PlaceResult[], key: string): SubmitView {
    const now = this.d.clock.now();
    const record = this.db.transaction((): SubmitView | TwError => {
      rows.forEach((r, i) => {
        const res = results[i];
        const cur = getOrder(this.db, r.id)?.status;
        // A late answer refines pending/unknown only; it never overwrites a settled status.
        if (cur !== "pending" && cur !== "unknown") return;
        if (!res) {
          updateOrder(
            this.db,
            r.id,
            { status: "unknown", reason: "the venue returned no status for this order" },
            now,
          );
          return;
        }
        updateOrder(
          this.db,
          r.id,
          {
            status: res.status,
            venue_order_id: res.venue_order_id,
            filled_size: res.filled_size,
            avg_px: res.avg_px,
            reason: res.error ?? null,
          },
          now,
          res,
        );
      });
      const parent = getOrder(this.db, rows[0].id)!;
      if (parent.status === "rejected") {
        const err = new TwError(
          "EXCHANGE_REJECTED",
          `${intent.venue} rejected the order: ${parent.reason ?? "no reason given"}.`,
          {
            hint: "Nothing was filled. Fix the cause (size, price, margin) and propose a new order.",
            details: {
              order_id: parent.id,
              client_order_id: parent.client_order_id,
              venue_reason: parent.reason,
            },
          },
        );
        completeKey(this.db, SUBMIT_SCOPE, key, { error: err.toJSON() }, now);
        return err;
      }
      const view = this.submitView(parent, false);
      if (parent.status !== "unknown")
        completeKey(this.db, SUBMIT_SCOPE, key, { ...view, replayed: true }, now);
      return view;
    });
    // The venue has the order: the record must land, however long another process holds the lock.
    const out = retryBusy(() => record());
    if (out instanceof TwError) throw out;
    return out;
  }

  /**
   * A `pending` row this process is not sending and that is older than `timeoutMs`: its sender died
   * (or another process — e.g. a CLI command sharing the DB — would have recorded an outcome by now).
   * Younger rows may belong to a live server process and are left alone.
   */
  private stalePending(o: OrderRow): boolean {
    return (
      o.status === "pending" &&
      !this.inflight.has(o.id) &&
      o.updated_at <= this.d.clock.now() - this.timeoutMs
    );
  }

  /** Marks stale `pending` rows left by a killed process as `unknown` (called at start-up). */
  markInterrupted(): number {
    const now = this.d.clock.now();
    const rows = listOrders(this.db, { statuses: ["pending"], limit: 10_000 }).filter((o) =>
      this.stalePending(o),
    );
    this.db.transaction(() => {
      for (const o of rows)
        updateOrder(
          this.db,
          o.id,
          { status: "unknown", reason: "process stopped before the outcome was recorded" },
          now,
        );
    })();
    return rows.length;
  }

  /** An order or NOT_FOUND. */
  order(id: string): OrderRow {
    const o = getOrder(this.db, id);
    if (!o)
      throw new TwError("NOT_FOUND", `No order ${id}.`, {
        hint: "Use an order_id from order_submit or order_list.",
      });
    return o;
  }

  /**
   * Asks the venue for the status of a non-final order and records it. `unknown` orders the venue
   * never received become `not_found` (and are never re-sent); their idempotency key is settled.
   */
  async resolve(id: string): Promise<OrderRow> {
    const o = this.order(id);
    if (FINAL_STATUSES.has(o.status) || this.inflight.has(o.id)) return o;
    if (o.status === "pending" && !this.stalePending(o)) return o;
    const venue: Venue = this.d.venues.get(o.venue);
    const st = await venue.orderStatus({
      symbol: o.symbol,
      client_order_id: o.client_order_id,
      venue_order_id: o.venue_order_id,
    });
    const now = this.d.clock.now();
    retryBusy(
      this.db.transaction(() => {
        if (!st) {
          if (o.status === "unknown" || o.status === "pending") {
            updateOrder(
              this.db,
              o.id,
              { status: "not_found", reason: "the venue has no record of this order; it was not re-sent" },
              now,
              { resolved: true },
            );
          }
        } else if (
          st.status !== o.status ||
          st.filled_size !== o.filled_size ||
          st.venue_order_id !== o.venue_order_id
        ) {
          const avg = st.status === "filled" && o.avg_px === null ? (st.price ?? null) : o.avg_px;
          updateOrder(
            this.db,
            o.id,
            {
              status: st.status,
              venue_order_id: st.venue_order_id,
              filled_size: st.filled_size,
              avg_px: avg,
            },
            now,
            { resolved: true },
          );
        }
        const cur = getOrder(this.db, o.id)!;
        if (cur.parent_id === null && cur.status !== "unknown" && cur.status !== "pending") {
          const key = submitKey(cur.venue, cur.client_order_id);
          const k = getKey(this.db, SUBMIT_SCOPE, key);
          if (k && k.status === "reserved")
            completeKey(this.db, SUBMIT_SCOPE, key, { ...this.submitView(cur, true) }, now);
        }
      }),
    );
    return getOrder(this.db, o.id)!;
  }

  /** Resolves every `unknown` order (start-up reconcile, issue 5). Returns the ids it settled. */
  async resolveUnknown(venue?: string): Promise<string[]> {
    const rows = listOrders(this.db, { venue, statuses: ["unknown", "pending"], limit: 10_000 }).filter(
      (o) => o.status === "unknown" || this.stalePending(o),
    );
    const out: string[] = [];
    for (const o of rows) {
      const r = await this.resolve(o.id);
      if (r.status !== "unknown" && r.status !== "pending") out.push(o.id);
    }
    return out;
  }

  /** Order view after resolving it with the venue; children included for parents. */
  async get(id: string): Promise<SubmitView> {
    const o = await this.resolve(id);
    for (const c of ordersOfIntent(this.db, o.intent_id ?? "").filter((x) => x.parent_id === o.id))
      await this.resolve(c.id);
    return this.submitView(getOrder(this.db, o.id)!, false);
  }

  /**
   * Cancels a resting order (and its waiting TP/SL children).
   * @throws TwError NOT_FOUND, INVALID_INPUT (order already final), EXCHANGE_REJECTED (venue refused).
   */
  async cancel(id: string): Promise<OrderView> {
    const o = await this.resolve(id);
    if (FINAL_STATUSES.has(o.status)) {
      throw new TwError("INVALID_INPUT", `Order ${id} is already ${o.status}; nothing to cancel.`);
    }
    if (o.status === "unknown" || o.status === "pending") {
      throw new TwError(
        "EXCHANGE_UNAVAILABLE",
        `Order ${id} has an unconfirmed outcome; it cannot be canceled until resolved.`,
        {
          hint: "Call order_get to resolve it, then cancel.",
        },
      );
    }
    const venue = this.d.venues.get(o.venue);
    const [res] = await venue.cancel([
      { symbol: o.symbol, client_order_id: o.client_order_id, venue_order_id: o.venue_order_id },
    ]);
    const now = this.d.clock.now();
    if (!res?.ok) {
      await this.resolve(id);
      throw new TwError(
        "EXCHANGE_REJECTED",
        `${o.venue} refused to cancel ${id}: ${res?.error ?? "no reason given"}.`,
        {
          details: { order_id: id, venue_reason: res?.error ?? null },
        },
      );
    }
    retryBusy(
      this.db.transaction(() => {
        // A cancel after a partial fill ends the order `partially_filled` (its filled size stays).
        const status = Number(o.filled_size) > 0 ? "partially_filled" : "canceled";
        updateOrder(this.db, o.id, { status, reason: "canceled by request" }, now);
        for (const c of ordersOfIntent(this.db, o.intent_id ?? "")) {
          if (c.parent_id === o.id && (c.status === "waiting_trigger" || c.status === "open")) {
            updateOrder(this.db, c.id, { status: "canceled", reason: "parent canceled" }, now);
          }
        }
      }),
    );
    return orderView(getOrder(this.db, o.id)!);
  }

  /**
   * Cancels every resting order of a venue (optionally one symbol, optionally one caller's).
   * Returns per-order outcomes.
   */
  async cancelAll(
    venue: string,
    symbol?: string,
    caller?: string,
  ): Promise<Array<{ order_id: string; ok: boolean; error: string | null }>> {
    const open = listOrders(this.db, {
      venue,
      symbol,
      caller,
      statuses: ["open", "waiting_trigger"],
      limit: 10_000,
    });
    const out: Array<{ order_id: string; ok: boolean; error: string | null }> = [];
    for (const o of open.filter((x) => x.parent_id === null || !open.some((p) => p.id === x.parent_id))) {
      try {
        await this.cancel(o.id);
        out.push({ order_id: o.id, ok: true, error: null });
      } catch (e) {
        out.push({ order_id: o.id, ok: false, error: toTwError(e).message });
      }
    }
    return out;
  }
}
