import type { App } from "../app.js";
import { waitUntil } from "../clock.js";
import { TwError } from "../errors.js";
import { getControl } from "../store/control.js";
import { appendEvent, type CycleRecord, insertTarget, lastCycle, recentEvents } from "../store/cycles.js";
import { getMeta } from "../store/meta.js";
import { currentPortfolioLimits } from "../store/portfolioLimits.js";
import { clipLimits, type CycleSettings, cycleSettings, MinuteCycle } from "./cycle.js";
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

  /** The clock cycles run on: the market's replay clock when it has one, else the app clock. */
  private get clock() {
    return this.app.replayClock ?? this.app.clock;
  }

  private async waitUntil(t: number): Promise<void> {
    await waitUntil(this.clock, t);
  }

  /**
   * Time per tick: the cycle length, except that over a moving replay clock a tick is at least one
   * bar (60 s of replay time): the data has 1m bars, so a shorter tick would re-decide on the same bar.
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
   * approve for it now (weights and every rejection), so the agent sees the clip immediately, plus
   * whether anything will trade on it: `cycle_enabled` (the operator's `cycle.enabled`) and a
   * warning when the cycle is off or the control mode blocks new exposure. The target is stored
   * either way (it applies once the cycle runs within its TTL).
   * @throws TwError INVALID_INPUT for unknown symbols or duplicates.
   */
  async setTarget(
    caller: string,
    target: TargetPortfolio,
    key?: string,
  ): Promise<{
    target_id: number;
    expires_at: number;
    approved: Omit<ApprovedTarget, "smoothed">;
    next_cycle_at: number;
    cycle_enabled: boolean;
    decision_source: string;
    warnings: string[];
  }> {
    const seen = new Set<string>();
    for (const t of target.targets) {
      if (seen.has(t.symbol)) throw new TwError("INVALID_INPUT", `${t.symbol} appears twice in targets.`);
      seen.add(t.symbol);
    }
    const now = this.clock.now();
    const { weights } = await this.currentWeights();
    const approved = clipTarget({
      target,
      current: weights,
      universe: this.app.config.universe,
      mode: getControl(this.app.db).mode,
      limits: clipLimits(currentPortfolioLimits(this.app.db, this.app.config)),
    });
    const expiresAt = now + this.settings.targetTtlCycles * this.tickMs;
    const id = insertTarget(this.app.db, { ts: now, caller, target, expiresAt, key });
    const { smoothed: _s, base: _b, ...rest } = approved;
    const enabled = this.app.config.cycle.enabled;
    const warnings: string[] = [];
    if (!enabled) {
      warnings.push(
        "The minute cycle is disabled on this server: the target is stored, but nothing will trade until the operator enables the cycle (cycle.enabled / TW_CYCLE_ENABLED=true) while it is still valid.",
      );
    }
    if (approved.mode !== "NORMAL") {
      warnings.push(
        `The control mode is ${approved.mode}: the cycle only reduces exposure until an operator resumes trading.`,
      );
    }
    if (this.app.decisions.kind !== "agent") {
      warnings.push(
        `The operator set the cycle's decision source to ${this.app.decisions.kind}: this target is stored, but the cycle trades what that source decides.`,
      );
    }
    return {
      target_id: id,
      expires_at: expiresAt,
      approved: rest,
      next_cycle_at: this.nextTick(now),
      cycle_enabled: enabled,
      decision_source: this.app.decisions.kind,
      warnings,
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
      limits: currentPortfolioLimits(this.app.db, this.app.config),
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
   * every `reconcile.intervalMs` (wall time) and run the cycle of each tick when the cycle's clock
   * reaches it — the wall clock live, the replay clock over replay data (so TW_REPLAY_SPEED=60 runs
   * a one-minute cycle every wall second). Ticks that passed while a cycle was still running are
   * skipped, not run late, and recorded as a `ticks_skipped` event. Returns the stop function.
   */
  start(): () => Promise<void> {
    const stop = new AbortController();
    let running: Promise<unknown> = Promise.resolve();
    const log = this.app.log;
    const guard = (name: string, fn: () => Promise<unknown>) => {
      running = running.then(fn).catch((err) => log.error({ err, job: name }, "engine job failed"));
      return running;
    };
    void guard("startup-reconcile", () => this.reconciler.reconcile());
    const recon = setInterval(() => {
      if (!stop.signal.aborted) void guard("reconcile", () => this.reconciler.reconcile());
    }, this.app.config.reconcile.intervalMs);
    const loop = (async () => {
      let t = this.nextTick();
      while (await waitUntil(this.clock, t, stop.signal)) {
        await guard("cycle", () => this.tick(t));
        const next = this.nextTick();
        if (next - t > this.tickMs) {
          appendEvent(this.app.db, {
            ts: next - this.tickMs,
            kind: "ticks_skipped",
            cycleId: null,
            detail: {
              after: t,
              skipped: (next - t) / this.tickMs - 1,
              reason: "the cycle took longer than a tick",
            },
          });
        }
        t = next;
      }
    })();
    return async () => {
      stop.abort();
      clearInterval(recon);
      await loop;
      await running;
    };
  }
}
