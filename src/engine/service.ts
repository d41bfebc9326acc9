import type { App } from "../app.js";
import { SimClock } from "../clock.js";
import { TwError } from "../errors.js";
import { getControl } from "../store/control.js";
import { type CycleRecord, insertTarget, lastCycle, recentEvents } from "../store/cycles.js";
import { getMeta } from "../store/meta.js";
import { type CycleSettings, cycleSettings, MinuteCycle } from "./cycle.js";
import { Reconciler } from "./reconciler.js";
import { clipTarget, gross, net } from "./riskClip.js";
import type { ApprovedTarget, TargetPortfolio, Weights } from "./types.js";

/** How many decisions portfolio_get_status shows. */
const LAST_DECISIONS = 5;

/**
 * The engine as the rest of the app sees it: set a target (with the risk layer's answer at once),
 * read the portfolio status, run one tick (cycle + reconcile), and the serve-mode loop.
 */
export class EngineService {
  readonly settings: CycleSettings;
  readonly cycle: MinuteCycle;
  readonly reconciler: Reconciler;

  constructor(private readonly app: App) {
    this.settings = cycleSettings(app);
    this.reconciler = new Reconciler(app, this.settings.venue, app.config.reconcile.maxFailures);
    this.cycle = new MinuteCycle(app, this.settings, (t) => this.waitUntil(t));
  }

  /** The clock cycles run on: the replay clock in serve + replay, else the app clock. */
  private get clock() {
    return this.app.replayClock ?? this.app.clock;
  }

  private async waitUntil(t: number): Promise<void> {
    const c = this.clock;
    if (c instanceof SimClock) {
      if (t > c.now()) c.set(t);
      if (this.app.replayClock === c && this.app.clock instanceof SimClock && t > this.app.clock.now()) {
        this.app.clock.set(t);
      }
      return;
    }
    const ms = t - c.now();
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  /**
   * Simulated time per tick: the cycle length, except that `serve` over a replay source moves at least
   * one bar (60 s) per tick — a time-lapse — so targets' TTL and the next tick are in that time.
   */
  get tickMs(): number {
    return this.app.replayClock ? Math.max(this.settings.cycleMs, 60_000) : this.settings.cycleMs;
  }

  /** Start of the next tick after `now` (ticks are aligned to multiples of the tick length). */
  nextTick(now = this.clock.now()): number {
    return Math.floor(now / this.tickMs) * this.tickMs + this.tickMs;
  }

  /** Current weights (position × mid / equity) from the last reconcile's mirror or the venue. */
  private async currentWeights(): Promise<{ weights: Weights; equity: number }> {
    const venue = this.app.venues.get(this.settings.venue);
    const account = await venue.accountState();
    const equity = Number(account.equity);
    const weights: Weights = {};
    for (const s of this.app.config.universe) weights[s] = 0;
    for (const p of account.positions)
      weights[p.symbol] = equity > 0 ? (Number(p.size) * Number(p.mark_px)) / equity : 0;
    return { weights, equity };
  }

  /**
   * Stores an agent target valid for `targetTtlCycles` cycles and returns what the risk layer would
   * approve for it now (weights and every rejection), so the agent sees the clip immediately.
   * @throws TwError INVALID_INPUT for unknown symbols or duplicates.
   */
  async setTarget(
    caller: string,
    target: TargetPortfolio,
    key?: string,
  ): Promise<{
    target_id: number;
    expires_at: number;
    approved: ApprovedTarget;
    next_cycle_at: number;
    decision_source: string;
  }> {
    const seen = new Set<string>();
    for (const t of target.targets) {
      if (seen.has(t.symbol)) throw new TwError("INVALID_INPUT", `${t.symbol} appears twice in targets.`);
      seen.add(t.symbol);
    }
    const now = this.clock.now();
    const { weights } = await this.currentWeights();
    const previous = getMeta<Weights>(this.app.db, "engine.prev_approved") ?? weights;
    const approved = clipTarget({
      target,
      previous,
      current: weights,
      universe: this.app.config.universe,
      mode: getControl(this.app.db).mode,
      limits: this.settings.limits,
    });
    const expiresAt = now + this.settings.targetTtlCycles * this.tickMs;
    const id = insertTarget(this.app.db, { ts: now, caller, target, expiresAt, key });
    const { smoothed: _s, ...rest } = approved;
    return {
      target_id: id,
      expires_at: expiresAt,
      approved: rest,
      next_cycle_at: this.nextTick(now),
      decision_source: this.app.decisions.kind,
    };
  }

  /**
   * portfolio_get_status: mode, last cycle and stages, next tick, current vs target, drawdown, reconcile,
   * events, the decision source and its last decisions (newest first).
   */
  async status(): Promise<Record<string, unknown>> {
    const control = getControl(this.app.db);
    const last: CycleRecord | undefined = lastCycle(this.app.db);
    const { weights, equity } = await this.currentWeights();
    const peak = getMeta<number>(this.app.db, "engine.peak_equity") ?? equity;
    return {
      enabled: this.app.config.cycle.enabled,
      venue: this.settings.venue,
      mode: control.mode,
      mode_reason: control.reason,
      now: this.clock.now(),
      next_tick: this.nextTick(),
      equity,
      peak_equity: peak,
      drawdown: peak > 0 ? Math.max(0, 1 - equity / peak) : 0,
      current_weights: weights,
      current_gross: gross(weights),
      current_net: net(weights),
      target_weights: last?.approved.weights ?? null,
      last_cycle: last
        ? {
            cycle_id: last.id,
            ts: last.ts,
            status: last.status,
            mode: last.mode,
            target_used: last.target.used,
            target_reason: last.target.reason,
            approved: {
              gross: last.approved.gross,
              net: last.approved.net,
              turnover: last.approved.turnover,
            },
            rejections: last.approved.rejections,
            slices: last.plan.slices.length,
            skipped: last.plan.skipped,
            report: last.report,
          }
        : null,
      last_reconcile: this.reconciler.last(),
      recent_events: recentEvents(this.app.db, 20).map((e) => ({
        ts: e.ts,
        kind: e.kind,
        cycle_id: e.cycle_id,
        detail: e.detail,
      })),
      decision: this.app.decisions.settings(),
      last_decisions: this.app.decisions.recentView(LAST_DECISIONS),
    };
  }

  /** One tick: reconcile, then run the cycle of tick `t`. */
  async tick(t: number): Promise<CycleRecord> {
    await this.waitUntil(t);
    await this.reconciler.reconcile();
    return this.cycle.run(t);
  }

  /**
   * Serve-mode loop: reconcile (and resolve unknown orders) before the first cycle, then reconcile
   * every `reconcile.intervalMs` and run a cycle every tick. With a replay source the replay clock
   * advances one cycle per tick (time-lapse at the configured cadence). Returns the stop function.
   */
  start(): () => Promise<void> {
    let stopped = false;
    let running: Promise<unknown> = Promise.resolve();
    const log = this.app.log;
    const guard = (name: string, fn: () => Promise<unknown>) => {
      running = running.then(fn).catch((err) => log.error({ err, job: name }, "engine job failed"));
      return running;
    };
    void guard("startup-reconcile", () => this.reconciler.reconcile());
    const recon = setInterval(() => {
      if (!stopped) void guard("reconcile", () => this.reconciler.reconcile());
    }, this.app.config.reconcile.intervalMs);
    const cyc = setInterval(() => {
      if (stopped) return;
      void guard("cycle", async () => {
        const now = this.clock.now();
        // Replay in serve: a time-lapse of one tick (≥ one bar) per wall-clock cycle.
        const t = this.app.replayClock ? this.nextTick(now) : Math.floor(now / this.tickMs) * this.tickMs;
        return this.tick(t);
      });
    }, this.settings.cycleMs);
    return async () => {
      stopped = true;
      clearInterval(recon);
      clearInterval(cyc);
      await running;
    };
  }
}
