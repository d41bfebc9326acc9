import { Decimal } from "decimal.js";
import type { App } from "../app.js";
import type { Clock } from "../clock.js";
import { TwError, toTwError } from "../errors.js";
import type { Caller } from "../policy/scopes.js";
import { type AuditEntry, appendAudit } from "../store/audit.js";
import {
  appendEvent,
  appendFallbackEvent,
  type CycleRecord,
  type CycleReport,
  finishCycle,
  getCycle,
  insertCompactedCycle,
  insertCycle,
} from "../store/cycles.js";
import { setMeta } from "../store/meta.js";
import { sentNotionalSince } from "../store/orders.js";
import { currentPortfolioLimits, type PortfolioLimitSet } from "../store/portfolioLimits.js";
import { currentLimits } from "../store/riskLimits.js";
import { evaluateBreakers } from "./breakers.js";
import { TokenBucket } from "./buckets.js";
import {
  cycleFills,
  type ExecutionSettings,
  executedTurnover,
  PlanExecution,
  type WaitUntil,
} from "./execution.js";
import { gross, net, type PortfolioLimits } from "./limits.js";
import { type PlanMarket, planExecution } from "./planner.js";
import { clipTarget } from "./riskClip.js";
import type { FeatureSnapshot, Weights } from "./types.js";

/**
 * The minute cycle (DESIGN.md §5), one pass per tick:
 *   1 features (FeatureSnapshot1m per universe coin) → 2 target (the `cycle.decision` source: the
 *   agent's latest within TTL, a model, or the baseline; every fallback recorded) → 3 risk clip from the ACTUAL book, paced to the rolling
 *   notional budget (+ drawdown and daily-loss breakers) → 4 plan (close-first TWAP; the rebalance
 *   band yields to the limits) → persisted as a `planned` cycle → 5 execution (src/engine/execution.ts:
 *   GTC slices with timeout → cancel → one replace, order/cancel budgets, a post-execution limit
 *   check on the actual book) through the same gate as order_submit with client ids
 *   `cycle_id:symbol:slice:side` → 6 report (executed turnover, end gross/net).
 * A restart finds its `planned` cycle and resumes the stored plan: slices already sent come back from
 * the idempotency store and are not sent again.
 */

/** Settings of the cycle (from config.cycle); limits are read per cycle (operator overrides). */
export interface CycleSettings extends ExecutionSettings {
  targetTtlCycles: number;
  twapSlices: number;
  twapIntervalMs: number;
  minTradeWeight: number;
  /** Minutes of `max_daily_notional / 24 h` the notional pace bucket may bank. */
  budgetPaceMinutes: number;
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
    sliceOrderType: c.sliceOrderType,
    sliceTimeoutMs: c.sliceTimeoutSeconds * 1000,
    maxOrdersPerMinute: c.maxOrdersPerMinute,
    maxCancelsPerMinute: c.maxCancelsPerMinute,
    budgetPaceMinutes: c.budgetPaceMinutes,
  };
}

/** The clip's view of the effective portfolio limits (config + operator overrides). */
export function clipLimits(l: PortfolioLimitSet): PortfolioLimits {
  return {
    maxGross: l.maxGross,
    maxNet: l.maxNet,
    caps: l.caps,
    defaultCap: l.defaultCap,
    lowConfidenceThreshold: l.lowConfidenceThreshold,
    lowConfidenceScale: l.lowConfidenceScale,
    ewmaAlpha: l.ewmaAlpha,
    turnoverCap: l.turnoverCap,
    headroom: l.headroom,
  };
}

/**
 * Cycle id of a tick: `cyc-YYYYMMDDTHHMMSS` (UTC), so client ids are deterministic, unique for any
 * cycle length of a second or more, and ≤ 64 chars (`cyc-20250526T001500:DOGE:3r:sell` is 33).
 */
export function cycleIdAt(t: number): string {
  // A tick asks for its own id several times (plan, execution, compaction): the last one is kept.
  if (t !== lastIdAt.t) {
    const d = new Date(t).toISOString().replace(/[-:]/g, "");
    lastIdAt.t = t;
    lastIdAt.id = `cyc-${d.slice(0, 15)}`;
  }
  return lastIdAt.id;
}

const lastIdAt = { t: Number.NaN, id: "" };

export type { WaitUntil };

const DAY = 86_400_000;

/**
 * How a cycle is stored (see {@link MinuteCycle.storage}): `compact` — no `planned` row, the finished
 * cycle written once in its compacted form (`insertCompactedCycle`); `decisionRow` — whether its
 * `cycle_decisions` row is written.
 */
export interface CycleStorage {
  compact: boolean;
  decisionRow: boolean;
}

/** Live storage: the plan stored whole before any order, with its decision. */
export const WHOLE_CYCLE: CycleStorage = { compact: false, decisionRow: true };

/** Runs cycles for one venue. */
export class MinuteCycle {
  readonly caller: Caller;
  /**
   * Where a finished cycle's `cycle.run` audit entry goes: appended to the audit chain at once
   * (default, live). A replay collects them into grouped rows written before each commit
   * (src/engine/replayRunAudit.ts).
   */
  recordRun: (entry: AuditEntry) => void = (entry) => appendAudit(this.app.db, entry);

  /**
   * How the cycle of tick `t` (ms UTC) is stored. Default (live): whole, its plan written before any
   * order so that a restart resumes it. A replay compacts most cycles in the tick that finishes them;
   * inside its batch a planned row is never committed (a failed tick rolls back to its savepoint, a
   * kill to the last commit), so it has those cycles written once, compacted, when they finish, and
   * skips the decision rows it would delete in the same tick (src/engine/replay.ts).
   */
  storage: (t: number) => CycleStorage = () => WHOLE_CYCLE;

  /** Planned cycles not written yet (storage `compact`): written when they finish. */
  private readonly unwritten = new WeakSet<object>();

  constructor(
    private readonly app: App,
    readonly settings: CycleSettings,
    private readonly waitUntil: WaitUntil,
    private readonly clock: Clock = app.clock,
  ) {
    this.caller = {
      id: CYCLE_CALLER,
      profile: "agent",
      scopes: new Set(["orders:propose", "orders:submit"]),
      transport: "system",
    };
  }

  /** Resets the drawdown peak (after an operator resume). */
  resetPeak(equity: number): void {
    setMeta(this.app.db, "engine.peak_equity", equity);
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

  /**
   * The notional pace bucket of the venue, refilled to `t` (quote currency): the rolling-24h budget is
   * min(`max_daily_notional`, `dailyTurnoverCap` × equity), refilled evenly over 24 h. The caller passes
   * the limits it read for this cycle stage.
   */
  private paceBucket(
    t: number,
    equity: number,
    maxDailyNotional: number,
    portfolio: Pick<PortfolioLimitSet, "dailyTurnoverCap">,
  ): TokenBucket {
    const maxDaily = Math.min(maxDailyNotional, portfolio.dailyTurnoverCap * Math.max(0, equity));
    return TokenBucket.load(
      this.app.db,
      `engine.bucket.notional.${this.settings.venue}`,
      (maxDaily * this.settings.budgetPaceMinutes) / 1_440,
      maxDaily / DAY,
      t,
    );
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

    // Limits are read every cycle: an operator's change takes effect at the next cycle.
    const limitSet = currentPortfolioLimits(app.db, app.config);
    const limits = clipLimits(limitSet);
    const control = evaluateBreakers(app.db, id, t, equity, limitSet);

    // Stage 2: the configured decision source (docs/cycle.md "Who decides"); src/engine/decision.
    const decision = await app.decisions.decide({
      cycleId: id,
      t,
      features,
      stale,
      current,
      mode: control.mode,
      universe: app.config.universe,
      limits,
    });
    const choice = decision.choice;
    if (choice.reason !== null) {
      appendFallbackEvent(app.db, {
        ts: t,
        cycleId: id,
        prevCycleId: cycleIdAt(t - settings.cycleMs),
        used: choice.used,
        reason: choice.reason,
      });
    }
    // Pacing: what the cycle may add to exposure is what the pace bucket and the rolling-24h budget
    // both allow, at the guard price (the notional the risk check counts).
    const riskLimits = currentLimits(app.db, app.config);
    const spent = sentNotionalSince(app.db, settings.venue, t - DAY).toNumber();
    const allowance = Math.max(
      0,
      Math.min(
        this.paceBucket(t, equity, riskLimits.max_daily_notional, limitSet).available(t),
        riskLimits.max_daily_notional - spent,
      ),
    );
    const maxIncrease = equity > 0 ? allowance / (equity * (1 + settings.guardBps / 10_000)) : 0;
    // Coins without fresh data keep their current weight: no trading on stale data.
    const universe = app.config.universe.filter((s) => !stale.includes(s));
    const approved = clipTarget({
      target: choice.target,
      current,
      universe,
      mode: control.mode,
      limits,
      maxIncrease,
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
        minNotional: inst.min_notional ?? riskLimits.min_notional,
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
      limits,
    });
    const { smoothed: _s, base: _b, ...approvedRecord } = approved;
    const rec: Omit<CycleRecord, "status" | "report" | "finished_at"> = {
      id,
      ts: t,
      venue: settings.venue,
      mode: control.mode,
      equity: account.equity,
      features,
      target: choice,
      approved: approvedRecord,
      plan: planned,
      current_weights: current,
    };
    const storage = this.storage(t);
    app.db.transaction(() => {
      if (!storage.compact) insertCycle(app.db, rec);
      app.decisions.record(id, t, decision, approved, storage.decisionRow);
    })();
    const out: CycleRecord = { ...rec, status: "planned", report: null, finished_at: null };
    if (storage.compact) this.unwritten.add(out);
    return out;
  }

  private async execute(rec: CycleRecord): Promise<CycleRecord> {
    const { app, settings } = this;
    const report: CycleReport = {
      sent: 0,
      filled: 0,
      rejected: 0,
      refused: [],
      skipped_budget: 0,
      rate_limited: 0,
      canceled: 0,
      replaced: 0,
      partially_filled: 0,
      corrections: 0,
      fees: "0",
      end_equity: rec.equity,
      end_cash: "0",
      end_positions: [],
    };
    const t0 = performance.now();
    const venue = app.venues.get(settings.venue);
    const instruments = await venue.instruments();
    const limitSet = currentPortfolioLimits(app.db, app.config);
    const run = new PlanExecution(
      {
        app,
        caller: this.caller,
        clock: this.clock,
        waitUntil: this.waitUntil,
        settings,
        limits: clipLimits(limitSet),
        lots: Object.fromEntries(instruments.map((i) => [i.symbol, i.lot_size])),
        ticks: Object.fromEntries(instruments.map((i) => [i.symbol, i.tick_size])),
      },
      rec,
      report,
    );
    await run.run();
    const end = await venue.accountState();
    const endEquity = Number(end.equity);
    report.end_equity = end.equity;
    report.end_cash = end.cash;
    report.end_positions = end.positions.map((p) => ({
      symbol: p.symbol,
      size: p.size,
      entry_px: p.entry_px,
      mark_px: p.mark_px,
      unrealized_pnl: p.unrealized_pnl,
    }));
    const endW: Weights = {};
    for (const p of end.positions)
      endW[p.symbol] = endEquity > 0 ? (Number(p.size) * Number(p.mark_px)) / endEquity : 0;
    report.end_gross = gross(endW);
    report.end_net = net(endW);
    const fills = cycleFills(app, settings.venue, rec, settings.cycleMs);
    report.executed_turnover = executedTurnover(rec, fills);
    report.fees = fills.reduce((a, f) => a.plus(f.fee), new Decimal(0)).toFixed();
    // The pace bucket pays for what the cycle sent (the notional the rolling-24h check counts).
    const sent = app.db
      .prepare(
        "SELECT notional FROM orders WHERE venue = ? AND client_order_id >= ? AND client_order_id < ? AND parent_id IS NULL AND status NOT IN ('rejected','not_found')",
      )
      .all(settings.venue, `${rec.id}:`, `${rec.id};`) as Array<{ notional: string }>;
    const pace = this.paceBucket(
      this.clock.now(),
      Number(rec.equity),
      currentLimits(app.db, app.config).max_daily_notional,
      // Read again after execution (which takes up to a cycle): the bucket is paid at today's limits.
      currentPortfolioLimits(app.db, app.config),
    );
    pace.force(
      sent.reduce((a, o) => a + Number(o.notional), 0),
      this.clock.now(),
    );
    const finishedAt = this.clock.now();
    app.db.transaction(() => {
      pace.save(app.db);
      if (this.unwritten.has(rec)) insertCompactedCycle(app.db, rec, "done", report, finishedAt);
      else finishCycle(app.db, rec.id, "done", report, finishedAt);
    })();
    this.recordRun({
      ts: rec.ts,
      caller: this.caller.id,
      tool: "cycle.run",
      args: { cycle_id: rec.id, venue: settings.venue },
      decision: "allowed",
      result: cycleRunResult(rec, report),
      durationMs: performance.now() - t0,
      keys: null,
    });
    // What was just written, without reading and re-parsing the row (issue 15).
    return { ...rec, status: "done", report, finished_at: finishedAt };
  }
}

/**
 * The `cycle.run` audit row's result: what an auditor needs to follow the cycle, not a copy of its
 * row (issue 15: the copy, with gross/net/turnover and the end figures as 17-digit floats, was most
 * of a replay's ≈ 470-byte audit row a cycle). Where the target came from and why (`used`,
 * `reason`), how many weights the risk clip cut (`clips`), slices planned, sent and refused, and the
 * rate-limited slices and limit corrections only when non-zero. The cycle id is in the row's args;
 * the figures are in its `cycles` row, every order decision in its own `order_propose` /
 * `order_submit` rows.
 */
export function cycleRunResult(rec: CycleRecord, report: CycleReport): Record<string, unknown> {
  const out: Record<string, unknown> = {
    used: rec.target.used,
    reason: rec.target.reason,
    clips: rec.approved.rejections.length,
    slices: rec.plan.slices.length,
    sent: report.sent,
    refused: report.refused.length,
  };
  if (report.rate_limited) out.rate_limited = report.rate_limited;
  if (report.corrections) out.corrections = report.corrections;
  return out;
}

/** Caller id of the cycle's own calls (audit rows, intents, orders, idempotency keys). */
export const CYCLE_CALLER = "system:cycle";

/** Refusal used by tools when the cycle is not configured. */
export function cycleDisabled(): TwError {
  return new TwError("NOT_FOUND", "The portfolio cycle is not enabled on this server.", {
    hint: "An operator enables it with cycle.enabled (TW_CYCLE_ENABLED=1); targets set now are stored and used once it runs.",
  });
}
