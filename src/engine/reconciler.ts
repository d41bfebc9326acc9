import { Decimal } from "decimal.js";
import type { App } from "../app.js";
import { toTwError } from "../errors.js";
import { appendAudit } from "../store/audit.js";
import { getControl, setControl } from "../store/control.js";
import { appendEvent } from "../store/cycles.js";
import { getMeta, setMeta } from "../store/meta.js";
import { adoptMirror, readMirror } from "../store/mirror.js";
import { isOwnFill } from "../store/monitoring.js";
import { listOrders } from "../store/orders.js";

/**
 * Reconciliation (DESIGN.md §5): the exchange is the source of truth; the local state is a mirror.
 * Each pass fetches account state, open orders and fills since the last cursor (paging at 500),
 * compares them with the mirror, records every difference as an engine event, and adopts the
 * venue's view. A position difference carries `own_fills` (signed coins our own orders filled since
 * the previous pass) and `unexplained` (venue − mirror − own_fills): non-zero means the position
 * changed by something other than our orders (alerts raise `position_divergence` on it). Local orders that the venue no longer lists as open are settled by an order-status
 * query (never re-sent). `maxFailures` consecutive failed passes switch the control mode to HALT.
 */

/** One difference found by a pass. Sizes in coins as decimal strings. */
export interface ReconcileDiff {
  kind: "position" | "order" | "fill";
  symbol: string;
  local: string | null;
  venue: string | null;
  detail?: string;
}

/** Result of one pass. */
export interface ReconcileReport {
  ok: boolean;
  venue: string;
  at: number;
  diffs: ReconcileDiff[];
  fills_seen: number;
  orders_settled: string[];
  equity: string | null;
  /** Set when the pass failed. */
  error?: string;
  consecutive_failures: number;
  halted: boolean;
}

const FILL_PAGE = 500;

/** Reconciles one venue. One instance per venue; state (cursor, failures) lives in `meta`. */
export class Reconciler {
  constructor(
    private readonly app: App,
    readonly venueId: string,
    private readonly maxFailures: number,
  ) {}

  private key(k: string): string {
    return `reconcile.${this.venueId}.${k}`;
  }

  /** Runs one pass. Never throws: a failure is counted, recorded and reported. */
  async reconcile(): Promise<ReconcileReport> {
    const { app, venueId } = this;
    const at = app.clock.now();
    try {
      const venue = app.venues.get(venueId);
      const settled = await app.orders.resolveUnknown(venueId);
      const [account, open] = await Promise.all([venue.accountState(), venue.openOrders()]);
      const diffs: ReconcileDiff[] = [];

      // Positions: venue vs mirror, exact decimal comparison.
      const read = readMirror(app.db, venueId);
      const mirror = read.rows;
      const venuePos = new Map(account.positions.map((p) => [p.symbol, p]));
      for (const sym of new Set([...mirror.keys(), ...venuePos.keys()])) {
        const local = mirror.get(sym)?.size ?? "0";
        const remote = venuePos.get(sym)?.size ?? "0";
        if (!new Decimal(local).equals(remote))
          diffs.push({ kind: "position", symbol: sym, local, venue: remote });
      }

      // Orders: local open orders the venue no longer lists are settled by order status.
      const openIds = new Set(open.map((o) => o.client_order_id).filter((x): x is string => x !== null));
      for (const o of listOrders(app.db, { venue: venueId, statuses: ["open"], limit: 10_000 })) {
        if (openIds.has(o.client_order_id)) continue;
        const r = await app.orders.resolve(o.id);
        diffs.push({
          kind: "order",
          symbol: o.symbol,
          local: "open",
          venue: r.status,
          detail: o.client_order_id,
        });
        settled.push(o.id);
      }
      const known = new Set(
        listOrders(app.db, { venue: venueId, statuses: ["open", "waiting_trigger"], limit: 10_000 }).map(
          (o) => o.client_order_id,
        ),
      );
      for (const o of open) {
        if (o.client_order_id === null || !known.has(o.client_order_id)) {
          diffs.push({
            kind: "order",
            symbol: o.symbol,
            local: null,
            venue: o.status,
            detail: o.venue_order_id,
          });
        }
      }

      // Fills since the cursor, paged. Our own fills since the previous pass explain position
      // changes; what they do not explain is a divergence (recorded with each position diff).
      let since = getMeta<number>(app.db, this.key("fills_since")) ?? 0;
      const prevAt = getMeta<number>(app.db, this.key("last_at"));
      const ownFills = new Map<string, Decimal>();
      let cursor: string | undefined;
      let fillsSeen = 0;
      let newest = since;
      for (;;) {
        const page = await venue.fills({ since, limit: FILL_PAGE, cursor });
        fillsSeen += page.fills.length;
        for (const f of page.fills) {
          newest = Math.max(newest, f.time);
          if (prevAt !== undefined && f.time <= prevAt) continue;
          if (!isOwnFill(app.db, venueId, f.venue_order_id, f.client_order_id)) continue;
          const signed = new Decimal(f.size).times(f.side === "buy" ? 1 : -1);
          ownFills.set(f.symbol, (ownFills.get(f.symbol) ?? new Decimal(0)).plus(signed));
        }
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      // Fills at `newest` may still be arriving at the same millisecond; re-read from there next time.
      since = newest;

      app.db.transaction(() => {
        for (const d of diffs) {
          const extra: Record<string, string> = {};
          if (d.kind === "position") {
            const own = ownFills.get(d.symbol) ?? new Decimal(0);
            extra.own_fills = own.toFixed();
            extra.unexplained = new Decimal(d.venue ?? "0")
              .minus(d.local ?? "0")
              .minus(own)
              .toFixed();
          }
          appendEvent(app.db, {
            ts: at,
            kind: "reconcile_diff",
            detail: { ...d, ...extra, venue_id: venueId },
          });
        }
        adoptMirror(
          app.db,
          venueId,
          account.positions.map((p) => ({ symbol: p.symbol, size: p.size, entry_px: p.entry_px })),
          { equity: account.equity, cash: account.cash, open_orders: open.length },
          at,
          read,
        );
        setMeta(app.db, this.key("fills_since"), since);
        setMeta(app.db, this.key("failures"), 0);
        setMeta(app.db, this.key("last"), { at, ok: true, diffs: diffs.length });
        setMeta(app.db, this.key("last_at"), at);
      })();
      return {
        ok: true,
        venue: venueId,
        at,
        diffs,
        fills_seen: fillsSeen,
        orders_settled: settled,
        equity: account.equity,
        consecutive_failures: 0,
        halted: false,
      };
    } catch (err) {
      return this.fail(at, err);
    }
  }

  private fail(at: number, err: unknown): ReconcileReport {
    const { app, venueId } = this;
    const e = toTwError(err);
    const message = e.code === "INTERNAL" ? String((err as Error)?.message ?? err) : e.message;
    const failures = (getMeta<number>(app.db, this.key("failures")) ?? 0) + 1;
    let halted = false;
    app.db.transaction(() => {
      setMeta(app.db, this.key("failures"), failures);
      setMeta(app.db, this.key("last"), { at, ok: false, error: message });
      appendEvent(app.db, {
        ts: at,
        kind: "reconcile_failure",
        detail: { venue: venueId, failures, error: message },
      });
      if (failures >= this.maxFailures && getControl(app.db).mode !== "HALT") {
        const reason = `reconciliation with ${venueId} failed ${failures} times in a row: ${message}`;
        setControl(app.db, "HALT", reason, "system:reconciler", at);
        appendEvent(app.db, { ts: at, kind: "mode_change", detail: { from: "any", to: "HALT", reason } });
        appendAudit(app.db, {
          ts: at,
          caller: "system:reconciler",
          tool: "control.halt",
          args: { venue: venueId },
          decision: "allowed",
          result: { mode: "HALT", reason },
          durationMs: 0,
        });
        halted = true;
      }
    })();
    app.log.warn({ venue: venueId, failures, err: message }, "reconciliation failed");
    return {
      ok: false,
      venue: venueId,
      at,
      diffs: [],
      fills_seen: 0,
      orders_settled: [],
      equity: null,
      error: message,
      consecutive_failures: failures,
      halted,
    };
  }

  /**
   * Health for monitors and metrics: the last pass, the last successful pass (ms UTC, null when none
   * yet) and the current streak of failed passes.
   */
  health(): {
    last: { at: number; ok: boolean; diffs?: number; error?: string } | null;
    last_ok_at: number | null;
    consecutive_failures: number;
  } {
    return {
      last: this.last(),
      last_ok_at: getMeta<number>(this.app.db, this.key("last_at")) ?? null,
      consecutive_failures: getMeta<number>(this.app.db, this.key("failures")) ?? 0,
    };
  }

  /** Last pass summary (for portfolio_get_status). */
  last(): { at: number; ok: boolean; diffs?: number; error?: string } | null {
    return getMeta(this.app.db, this.key("last")) ?? null;
  }
}
