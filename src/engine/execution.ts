import { Decimal } from "decimal.js";
import type { App } from "../app.js";
import type { Clock } from "../clock.js";
import { cancelThroughGate, submitThroughGate } from "../orders/ops.js";
import type { SubmitView } from "../orders/views.js";
import type { Caller } from "../policy/scopes.js";
import { appendAudit } from "../store/audit.js";
import { appendEvent, type CycleRecord, type CycleReport } from "../store/cycles.js";
import { getOrder, listOrders, sentNotionalSince } from "../store/orders.js";
import { currentLimits } from "../store/riskLimits.js";
import { TokenBucket } from "./buckets.js";
import { breaches, type PortfolioLimits, reduceBreaches } from "./limits.js";
import { guardPrice } from "./planner.js";
import type { PlannedSlice, Weights } from "./types.js";

/**
 * Stage 5 of the minute cycle: executes a stored plan (issue 13). Every order goes through
 * {@link submitThroughGate} (the same gate as order_submit) and every cancel through the order
 * service, never to the venue directly. Within the cycle window `[t, t + cycle − 1 ms]`:
 *
 * - each slice is sent when due. `gtc` slices rest at the guard price; after `sliceTimeoutMs` (capped
 *   at the window's end) a slice still resting is canceled and, once per slice, its remainder is
 *   replaced at `mid × (1 ± guard/2)` — closer to mid — with the id `cycle:SYM:<slice>r:side`; the
 *   replace rests until its own timeout and is then canceled. `ioc` slices fill or cancel at once;
 * - per-minute order and cancel budgets (token buckets, src/engine/buckets.ts): a placement or
 *   replace that finds the order bucket empty is skipped (report `rate_limited`, audit row
 *   `cycle.slice` refused `RATE_LIMITED`, engine event `rate_limited`); a cancel that finds the
 *   cancel bucket empty is retried at the window's end, then left to the next cycle's sweep.
 *   Close-first slices and limit corrections are never skipped for the budgets;
 * - an increasing slice that would take the rolling-24h notional past `max_daily_notional` is skipped
 *   (`skipped_budget`, event `budget_skip`); pacing at planning makes this rare;
 * - at the start, resting orders of earlier cycles are canceled (sweep); at the end, the ACTUAL book is
 *   checked against the limits (beyond one lot): a breach (a partial fill, a skipped slice, a move in
 *   prices) is reduced at once with reduce-only IOC orders `cycle:SYM:x:side` (`corrections`).
 */

/** Settings of execution (from config.cycle). */
export interface ExecutionSettings {
  venue: string;
  cycleMs: number;
  sliceOrderType: "gtc" | "ioc";
  sliceTimeoutMs: number;
  guardBps: number;
  maxOrdersPerMinute: number;
  maxCancelsPerMinute: number;
}

/** Waits until `t` on the clock: sets a simulated clock, sleeps on the wall clock. */
export type WaitUntil = (t: number) => Promise<void>;

type PlaceItem = { at: number; kind: "place"; slice: PlannedSlice; replace: boolean };
type TimeoutItem = { at: number; kind: "timeout"; slice: PlannedSlice; orderId: string; replaced: boolean };
type Item = (PlaceItem | TimeoutItem) & { seq: number };

/** What one execution pass needs. */
export interface ExecutionContext {
  app: App;
  caller: Caller;
  clock: Clock;
  waitUntil: WaitUntil;
  settings: ExecutionSettings;
  limits: PortfolioLimits;
  /** Lot per symbol (coins), for rounding and the one-lot tolerance. */
  lots: Record<string, number>;
  ticks: Record<string, number | null>;
}

/** Executes a stored plan and fills in the report's execution fields. */
export class PlanExecution {
  private readonly items: Item[] = [];
  private seq = 0;
  private readonly orders: TokenBucket;
  private readonly cancels: TokenBucket;
  private budget: Decimal;
  private readonly end: number;

  constructor(
    private readonly x: ExecutionContext,
    private readonly rec: CycleRecord,
    private readonly report: CycleReport,
  ) {
    const { app, settings, clock } = x;
    const now = clock.now();
    this.orders = TokenBucket.perMinute(
      app.db,
      `engine.bucket.orders.${settings.venue}`,
      settings.maxOrdersPerMinute,
      now,
    );
    this.cancels = TokenBucket.perMinute(
      app.db,
      `engine.bucket.cancels.${settings.venue}`,
      settings.maxCancelsPerMinute,
      now,
    );
    const limits = currentLimits(app.db, app.config);
    this.budget = new Decimal(limits.max_daily_notional).minus(
      sentNotionalSince(app.db, settings.venue, now - 86_400_000),
    );
    this.end = rec.ts + settings.cycleMs - 1;
  }

  private push(item: PlaceItem | TimeoutItem): void {
    this.items.push({ ...item, seq: this.seq++ });
    this.items.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  /** Runs the whole window: sweep, slices, timeouts, replaces, limit corrections. */
  async run(): Promise<void> {
    await this.sweep();
    for (const s of this.rec.plan.slices)
      this.push({ at: s.due_at, kind: "place", slice: s, replace: false });
    while (this.items.length > 0) {
      const it = this.items.shift()!;
      if (it.at > this.x.clock.now()) await this.x.waitUntil(it.at);
      if (it.kind === "place") await this.place(it.slice, it.replace);
      else await this.timeout(it);
    }
    await this.correct();
    this.orders.save(this.x.app.db);
    this.cancels.save(this.x.app.db);
  }

  private rateLimited(clientOrderId: string, bucket: "orders" | "cancels"): void {
    const { app, caller, clock } = this.x;
    const now = clock.now();
    this.report.rate_limited = (this.report.rate_limited ?? 0) + 1;
    const detail = {
      client_order_id: clientOrderId,
      bucket,
      per_minute:
        bucket === "orders" ? this.x.settings.maxOrdersPerMinute : this.x.settings.maxCancelsPerMinute,
    };
    appendEvent(app.db, { ts: now, kind: "rate_limited", cycleId: this.rec.id, detail });
    appendAudit(app.db, {
      ts: now,
      caller: caller.id,
      tool: "cycle.slice",
      args: { client_order_id: clientOrderId },
      decision: "refused",
      code: "RATE_LIMITED",
      result: { reason: "rate_limited", ...detail },
      durationMs: 0,
    });
  }

  private async place(s: PlannedSlice, replace: boolean): Promise<void> {
    const { app, caller, settings, clock } = this.x;
    const now = clock.now();
    if (!s.reduce_only) {
      const notional = new Decimal(s.qty).times(s.limit_px);
      if (notional.greaterThan(this.budget)) {
        this.report.skipped_budget++;
        appendEvent(app.db, {
          ts: now,
          kind: "budget_skip",
          cycleId: this.rec.id,
          detail: {
            client_order_id: s.client_order_id,
            notional: notional.toFixed(),
            left: this.budget.toFixed(),
          },
        });
        return;
      }
      if (!this.orders.take(1, now)) {
        this.rateLimited(s.client_order_id, "orders");
        return;
      }
      this.budget = this.budget.minus(notional);
    } else this.orders.force(1, now);
    const gtc = settings.sliceOrderType === "gtc";
    const out = await submitThroughGate(app, caller, {
      venue: settings.venue,
      symbol: s.symbol,
      side: s.side,
      type: "limit",
      size: Number(s.qty),
      price: Number(s.limit_px),
      tif: gtc ? "GTC" : "IOC",
      reduce_only: s.reduce_only,
      client_order_id: s.client_order_id,
    });
    if (!out.ok) {
      this.report.refused.push({
        client_order_id: s.client_order_id,
        code: out.error.code,
        message: out.error.message,
      });
      return;
    }
    const v = out.result as SubmitView;
    if (!v.replayed) this.report.sent++;
    if (replace) this.report.replaced = (this.report.replaced ?? 0) + 1;
    this.count(v.status);
    if (v.status === "open") {
      const at = Math.min(now + settings.sliceTimeoutMs, this.end);
      this.push({ at, kind: "timeout", slice: s, orderId: v.order_id, replaced: replace });
    }
  }

  private count(status: string): void {
    if (status === "filled") this.report.filled++;
    else if (status === "partially_filled")
      this.report.partially_filled = (this.report.partially_filled ?? 0) + 1;
    else if (status === "rejected") this.report.rejected++;
  }

  private async timeout(it: TimeoutItem): Promise<void> {
    const { app, caller, clock, settings } = this.x;
    const now = clock.now();
    const o = await app.orders.get(it.orderId);
    if (o.status !== "open") {
      this.count(o.status);
      return;
    }
    if (!this.cancels.take(1, now)) {
      this.rateLimited(o.client_order_id, "cancels");
      if (now < this.end) this.push({ ...it, at: this.end });
      return;
    }
    // Through the gate: audited, and inside the account's execution lane like every cancel.
    const out = await cancelThroughGate(app, caller, it.orderId);
    if (out.ok) this.report.canceled = (this.report.canceled ?? 0) + 1;
    else
      this.report.refused.push({
        client_order_id: o.client_order_id,
        code: out.error.code,
        message: out.error.message,
      });
    const after = getOrder(app.db, it.orderId)!;
    this.count(after.status);
    const left = new Decimal(after.size).minus(after.filled_size);
    if (it.replaced || !left.greaterThan(0) || now >= this.end) return;
    const s = it.slice;
    const mid = (await app.market.ticker(s.symbol)).mid;
    const minNotional = currentLimits(app.db, app.config).min_notional;
    if (left.times(mid).lessThan(minNotional) && !s.reduce_only) return;
    const replacement: PlannedSlice = {
      ...s,
      client_order_id: `${this.rec.id}:${s.symbol}:${s.slice}r:${s.side}`,
      qty: left.toFixed(),
      limit_px: guardPrice(s.side, mid, settings.guardBps / 2, this.x.ticks[s.symbol] ?? null),
    };
    await this.place(replacement, true);
  }

  /** Cancels resting orders left by earlier cycles of this venue (their windows are over). */
  private async sweep(): Promise<void> {
    const { app, caller, settings, clock } = this.x;
    const open = listOrders(app.db, { venue: settings.venue, statuses: ["open"], limit: 1_000 }).filter(
      (o) => o.caller === caller.id && !o.client_order_id.startsWith(`${this.rec.id}:`),
    );
    for (const o of open) {
      this.cancels.force(1, clock.now());
      const out = await cancelThroughGate(app, caller, o.id);
      if (!out.ok) app.log.warn({ order_id: o.id, err: out.error.message }, "cycle sweep: cancel failed");
    }
  }

  /**
   * Checks the actual book against the limits after execution and reduces a breach at once
   * (reduce-only IOC at the guard price, rounded up to the lot so the book ends inside).
   */
  private async correct(): Promise<void> {
    const { app, caller, settings, clock, limits } = this.x;
    const venue = app.venues.get(settings.venue);
    const acct = await venue.accountState();
    const equity = Number(acct.equity);
    if (!(equity > 0)) return;
    const w: Weights = {};
    const size: Record<string, Decimal> = {};
    const mark: Record<string, number> = {};
    for (const p of acct.positions) {
      mark[p.symbol] = Number(p.mark_px);
      size[p.symbol] = new Decimal(p.size);
      w[p.symbol] = (Number(p.size) * mark[p.symbol]) / equity;
    }
    const tol = Object.keys(w).reduce((a, s) => a + ((this.x.lots[s] ?? 0) * mark[s]) / equity, 0);
    if (breaches(w, limits, tol).length === 0) return;
    const target = reduceBreaches(w, limits);
    for (const s of Object.keys(w).sort()) {
      const cut = Math.abs(w[s]) - Math.abs(target[s]);
      if (!(cut > 0)) continue;
      const lot = new Decimal(this.x.lots[s] ?? 0);
      let qty = new Decimal(cut).times(equity).dividedBy(mark[s]);
      qty = lot.isZero() ? qty : qty.dividedBy(lot).ceil().times(lot);
      qty = Decimal.min(qty, size[s].abs());
      if (!qty.greaterThan(0)) continue;
      const side = size[s].isPositive() ? "sell" : "buy";
      const id = `${this.rec.id}:${s}:x:${side}`;
      this.orders.force(1, clock.now());
      appendEvent(app.db, {
        ts: clock.now(),
        kind: "limit_correction",
        cycleId: this.rec.id,
        detail: {
          symbol: s,
          weight: w[s],
          target: target[s],
          qty: qty.toFixed(),
          breaches: breaches(w, limits, tol),
        },
      });
      const out = await submitThroughGate(app, caller, {
        venue: settings.venue,
        symbol: s,
        side,
        type: "limit",
        size: qty.toNumber(),
        price: Number(guardPrice(side, mark[s], settings.guardBps, this.x.ticks[s] ?? null)),
        tif: "IOC",
        reduce_only: true,
        client_order_id: id,
      });
      this.report.corrections = (this.report.corrections ?? 0) + 1;
      if (!out.ok) {
        this.report.refused.push({ client_order_id: id, code: out.error.code, message: out.error.message });
        continue;
      }
      const v = out.result as SubmitView;
      if (!v.replayed) this.report.sent++;
      this.count(v.status);
    }
  }
}

/**
 * Fills of a cycle: client ids `cycle_id:…`, all inside the cycle window `[ts, ts + cycleMs)` (a
 * time-range scan on the fills index, then the prefix).
 */
export function cycleFills(
  app: App,
  venue: string,
  rec: CycleRecord,
  cycleMs: number,
): Array<{ symbol: string; size: string; fee: string }> {
  const rows = app.db
    .prepare("SELECT symbol, size, fee, client_order_id FROM fills WHERE venue = ? AND ts >= ? AND ts < ?")
    .all(venue, rec.ts, rec.ts + cycleMs) as Array<{
    symbol: string;
    size: string;
    fee: string;
    client_order_id: string | null;
  }>;
  return rows.filter((r) => r.client_order_id?.startsWith(`${rec.id}:`));
}

/** Σ |filled coins| × cycle mid / cycle start equity over a cycle's fills. */
export function executedTurnover(rec: CycleRecord, fills: Array<{ symbol: string; size: string }>): number {
  const mids = new Map(rec.features.map((f) => [f.symbol, f.mid]));
  const equity = Number(rec.equity);
  if (!(equity > 0)) return 0;
  return fills.reduce((a, r) => a + (Math.abs(Number(r.size)) * (mids.get(r.symbol) ?? 0)) / equity, 0);
}
