import { Decimal } from "decimal.js";
import type { App } from "../app.js";
import type { Clock } from "../clock.js";
import { TwError, toTwError } from "../errors.js";
import type { Caller } from "../policy/scopes.js";
import { submitThroughGate } from "../orders/ops.js";
import type { SubmitView } from "../orders/views.js";
import { appendAudit } from "../store/audit.js";
import { getControl, setControl } from "../store/control.js";
import {
  appendEvent,
  type CycleRecord,
  type CycleReport,
  finishCycle,
  getCycle,
  insertCycle,
} from "../store/cycles.js";
import { getMeta, setMeta } from "../store/meta.js";
import { sentNotionalSince } from "../store/orders.js";
import { currentLimits } from "../store/riskLimits.js";
import { evaluateDrawdown } from "./drawdown.js";
import { planExecution, type PlanMarket } from "./planner.js";
import { clipTarget, DEFAULT_LIMITS, type PortfolioLimits } from "./riskClip.js";
import type { FeatureSnapshot, Weights } from "./types.js";

/**
 * The minute cycle (DESIGN.md §5), one pass per tick:
 *   1 features (FeatureSnapshot1m per universe coin) → 2 target (the `cycle.decision` source: the
 *   agent's latest within TTL, a model, or the baseline; every fallback recorded) → 3 risk clip (+ drawdown breaker) → 4 plan (close-first
 *   TWAP) → persisted as a `planned` cycle → 5 execution of each slice through the same gate as
 *   order_submit (control, rate limit, idempotency, venue guard, risk, approval) with client ids
 *   `cycle_id:symbol:slice:side` → 6 report.
 * A restart finds its `planned` cycle and resumes the stored plan: slices already sent come back from
 * the idempotency store and are not sent again.
 */

/** Settings of the cycle (from config.cycle). */
export interface CycleSettings {
  venue: string;
  cycleMs: number;
  targetTtlCycles: number;
  twapSlices: number;
  twapIntervalMs: number;
  guardBps: number;
  minTradeWeight: number;
  drawdownReduceOnly: number;
  drawdownHalt: number;
  limits: PortfolioLimits;
}

/** Settings from the app config. */
export function cycleSettings(app: App): CycleSettings {
  const c = app.config.cycle;
  return {
    venue: c.venue,
    cycleMs: c.seconds * 1000,
    targetTtlCycles: c.targetTtlCycles,
    twapSlices: c.twapSlices,
    twapIntervalMs: c.twapIntervalSeconds * 1000,
    guardBps: c.priceGuardBps,
    minTradeWeight: c.minTradeWeight,
    drawdownReduceOnly: c.drawdownReduceOnly,
    drawdownHalt: c.drawdownHalt,
    limits: DEFAULT_LIMITS,
  };
}

/**
 * Cycle id of a tick: `cyc-YYYYMMDDTHHMMSS` (UTC), so client ids are deterministic, unique for any
 * cycle length of a second or more, and ≤ 64 chars (`cyc-20250526T001500:DOGE:3:sell` is 32).
 */
export function cycleIdAt(t: number): string {
  const d = new Date(t).toISOString().replace(/[-:]/g, "");
  return `cyc-${d.slice(0, 15)}`;
}

/** Waits until `t` on the clock: sets a simulated clock, sleeps on the wall clock. */
export type WaitUntil = (t: number) => Promise<void>;

const META_PEAK = "engine.peak_equity";
const META_PREV = "engine.prev_approved";

/** Runs cycles for one venue. */
export class MinuteCycle {
  readonly caller: Caller;

  constructor(
    private readonly app: App,
    readonly settings: CycleSettings,
    private readonly waitUntil: WaitUntil,
    private readonly clock: Clock = app.clock,
  ) {
    this.caller = {
      id: "system:cycle",
      profile: "agent",
      scopes: new Set(["orders:propose", "orders:submit"]),
      transport: "system",
    };
  }

  /** Resets the drawdown peak (after an operator resume). */
  resetPeak(equity: number): void {
    setMeta(this.app.db, META_PEAK, equity);
  }

  /**
   * Runs (or resumes) the cycle of tick `t` (ms UTC, the cycle start).
   * @throws nothing for market/venue problems (recorded as a failed cycle); TwError INTERNAL only on
   *   storage failure.
   */
  async run(t: number): Promise<CycleRecord> {
    const id = cycleIdAt(t);
    const existing = getCycle(this.app.db, id);
    if (existing && existing.status !== "planned") return existing;
    const rec = existing ?? (await this.plan(id, t));
    if (!rec) return getCycle(this.app.db, id) as CycleRecord;
    return this.execute(rec);
  }

  private async features(t: number): Promise<{ features: FeatureSnapshot[]; stale: string[] }> {
    const features: FeatureSnapshot[] = [];
    const stale: string[] = [];
    for (const s of this.app.config.universe) {
      try {
        features.push(await this.app.market.features(s));
      } catch (e) {
        const err = toTwError(e);
        if (err.code !== "STALE_DATA" && err.code !== "NOT_FOUND") throw e;
        stale.push(s);
        appendEvent(this.app.db, {
          ts: t,
          kind: "stale_data",
          cycleId: cycleIdAt(t),
          detail: { symbol: s, message: err.message },
        });
      }
    }
    return { features, stale };
  }

  private async plan(id: string, t: number): Promise<CycleRecord | null> {
    const { app, settings } = this;
    const venue = app.venues.get(settings.venue);
    const { features, stale } = await this.features(t);
    const account = await venue.accountState();
    const equity = Number(account.equity);
    const mids = new Map(features.map((f) => [f.symbol, f.mid]));
    const positions: Record<string, number> = {};
    const current: Weights = {};
    for (const s of app.config.universe) current[s] = 0;
    for (const p of account.positions) {
      positions[p.symbol] = Number(p.size);
      const mid = mids.get(p.symbol) ?? Number(p.mark_px);
      current[p.symbol] = equity > 0 ? (Number(p.size) * mid) / equity : 0;
    }

    // Drawdown breaker: tightens the control mode, never loosens it.
    let control = getControl(app.db);
    const peak = getMeta<number>(app.db, META_PEAK) ?? equity;
    const dd = evaluateDrawdown(peak, equity, control.mode, {
      reduceOnlyAt: settings.drawdownReduceOnly,
      haltAt: settings.drawdownHalt,
    });
    setMeta(app.db, META_PEAK, dd.peak);
    if (dd.trip) {
      control = setControl(app.db, dd.trip.to, dd.trip.reason, "system:drawdown", t);
      appendEvent(app.db, { ts: t, kind: "mode_change", cycleId: id, detail: dd.trip });
      appendAudit(app.db, {
        ts: t,
        caller: "system:drawdown",
        tool: dd.trip.to === "HALT" ? "control.halt" : "control.reduce_only",
        args: { drawdown: dd.drawdown },
        decision: "allowed",
        result: dd.trip,
        durationMs: 0,
      });
    }

    // Stage 2: the configured decision source (docs/cycle.md "Who decides"); src/engine/decision.
    const decision = await app.decisions.decide({
      cycleId: id,
      t,
      features,
      stale,
      current,
      mode: control.mode,
      universe: app.config.universe,
      limits: settings.limits,
    });
    const choice = decision.choice;
    if (choice.reason !== null) {
      appendEvent(app.db, {
        ts: t,
        kind: "target_fallback",
        cycleId: id,
        detail: { used: choice.used, reason: choice.reason },
      });
    }
    const previous = getMeta<Weights>(app.db, META_PREV) ?? current;
    // Coins without fresh data keep their current weight: no trading on stale data.
    const universe = app.config.universe.filter((s) => !stale.includes(s));
    const approved = clipTarget({
      target: choice.target,
      previous,
      current,
      universe,
      mode: control.mode,
      limits: settings.limits,
    });
    for (const s of stale) approved.weights[s] = current[s] ?? 0;

    const markets: Record<string, PlanMarket> = {};
    const instruments = await venue.instruments();
    for (const f of features) {
      const inst = instruments.find((i) => i.symbol === f.symbol);
      if (!inst) continue;
      markets[f.symbol] = {
        mid: f.mid,
        lot: inst.lot_size,
        tick: inst.tick_size,
        minNotional: inst.min_notional ?? app.config.risk.minNotional,
      };
    }
    const planned = planExecution({
      cycleId: id,
      now: t,
      equity,
      approved: Object.fromEntries(Object.entries(approved.weights).filter(([s]) => !stale.includes(s))),
      positions,
      markets,
      twapSlices: settings.twapSlices,
      twapIntervalMs: settings.twapIntervalMs,
      guardBps: settings.guardBps,
      minTradeWeight: settings.minTradeWeight,
    });
    const rec: Omit<CycleRecord, "status" | "report" | "finished_at"> = {
      id,
      ts: t,
      venue: settings.venue,
      mode: control.mode,
      equity: account.equity,
      features,
      target: choice,
      approved,
      plan: planned,
      current_weights: current,
    };
    app.db.transaction(() => {
      insertCycle(app.db, rec);
      setMeta(app.db, META_PREV, approved.weights);
      app.decisions.record(id, t, decision, approved);
    })();
    return { ...rec, status: "planned", report: null, finished_at: null };
  }

  private async execute(rec: CycleRecord): Promise<CycleRecord> {
    const { app, settings } = this;
    const report: CycleReport = {
      sent: 0,
      filled: 0,
      rejected: 0,
      refused: [],
      skipped_budget: 0,
      fees: "0",
      end_equity: rec.equity,
      end_cash: "0",
      end_positions: [],
    };
    const t0 = performance.now();
    // The cycle never plans past the rolling-24h notional cap: increasing slices that would exceed the
    // remaining budget are skipped here (the risk step would refuse them anyway); closes always go.
    const limits = currentLimits(app.db, app.config);
    let budget = new Decimal(limits.max_daily_notional).minus(
      sentNotionalSince(app.db, settings.venue, this.clock.now() - 86_400_000),
    );
    for (const s of rec.plan.slices) {
      if (s.due_at > this.clock.now()) await this.waitUntil(s.due_at);
      if (!s.reduce_only) {
        const notional = new Decimal(s.qty).times(s.limit_px);
        if (notional.greaterThan(budget)) {
          report.skipped_budget++;
          continue;
        }
        budget = budget.minus(notional);
      }
      const out = await submitThroughGate(app, this.caller, {
        venue: settings.venue,
        symbol: s.symbol,
        side: s.side,
        type: "limit",
        size: Number(s.qty),
        price: Number(s.limit_px),
        tif: "IOC",
        reduce_only: s.reduce_only,
        client_order_id: s.client_order_id,
      });
      if (!out.ok) {
        report.refused.push({
          client_order_id: s.client_order_id,
          code: out.error.code,
          message: out.error.message,
        });
        continue;
      }
      const v = out.result as SubmitView;
      if (!v.replayed) report.sent++;
      if (v.status === "filled") report.filled++;
      if (v.status === "rejected") report.rejected++;
    }
    const venue = app.venues.get(settings.venue);
    const end = await venue.accountState();
    report.end_equity = end.equity;
    report.end_cash = end.cash;
    report.end_positions = end.positions.map((p) => ({
      symbol: p.symbol,
      size: p.size,
      entry_px: p.entry_px,
      mark_px: p.mark_px,
      unrealized_pnl: p.unrealized_pnl,
    }));
    const fees = app.db
      .prepare("SELECT fee FROM fills WHERE venue = ? AND client_order_id LIKE ?")
      .all(settings.venue, `${rec.id}:%`) as Array<{ fee: string }>;
    report.fees = fees.reduce((a, f) => a.plus(f.fee), new Decimal(0)).toFixed();
    finishCycle(app.db, rec.id, "done", report, this.clock.now());
    appendAudit(app.db, {
      ts: rec.ts,
      caller: this.caller.id,
      tool: "cycle.run",
      args: { cycle_id: rec.id, venue: settings.venue },
      decision: "allowed",
      result: {
        used: rec.target.used,
        reason: rec.target.reason,
        gross: rec.approved.gross,
        net: rec.approved.net,
        turnover: rec.approved.turnover,
        rejections: rec.approved.rejections.length,
        slices: rec.plan.slices.length,
        sent: report.sent,
        refused: report.refused.length,
      },
      durationMs: performance.now() - t0,
      keys: null,
    });
    return getCycle(app.db, rec.id) as CycleRecord;
  }
}

/** Refusal used by tools when the cycle is not configured. */
export function cycleDisabled(): TwError {
  return new TwError("NOT_FOUND", "The portfolio cycle is not enabled on this server.", {
    hint: "An operator enables it with cycle.enabled (TW_CYCLE_ENABLED=1); targets set now are stored and used once it runs.",
  });
}
