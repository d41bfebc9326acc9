import type { Logger } from "../log.js";
import type { ConditionMonitor, EventMonitor } from "./monitors/types.js";
import type { AlertService } from "./service.js";

/** Delay of the first condition pass after {@link MonitorRunner.start}, ms (issue 15: start-up). */
export const FIRST_CONDITION_PASS_MS = 2_000;

/**
 * Runs the monitors: event monitors every `eventPollMs` (mode changes reach the channels within
 * about a second), condition monitors every `monitorIntervalMs` (default 15 s), the first pass
 * {@link FIRST_CONDITION_PASS_MS} after start. Monitors only read;
 * a monitor that throws is logged and skipped for that pass, so its alerts stay as they were and
 * the other monitors still run.
 */
export class MonitorRunner {
  private conditionPass: Promise<void> | null = null;

  constructor(
    private readonly deps: {
      alerts: AlertService;
      log: Logger;
      conditions: readonly ConditionMonitor[];
      events: readonly EventMonitor[];
      monitorIntervalMs: number;
      eventPollMs: number;
    },
  ) {}

  /** Polls every event monitor once. */
  pollEvents(): void {
    for (const m of this.deps.events) {
      try {
        m.poll();
      } catch (err) {
        this.deps.log.error({ err, monitor: m.name }, "alert monitor failed");
      }
    }
  }

  /** Runs every condition monitor once and syncs its alerts (a pass already running is joined). */
  runConditions(): Promise<void> {
    this.conditionPass ??= (async () => {
      for (const m of this.deps.conditions) {
        try {
          const firing = await m.check();
          this.deps.alerts.sync(m.kinds, firing);
        } catch (err) {
          this.deps.log.error({ err, monitor: m.name }, "alert monitor failed");
        }
      }
    })().finally(() => {
      this.conditionPass = null;
    });
    return this.conditionPass;
  }

  /** Both kinds once (tests, `tradewarden alerts check`). */
  async runOnce(): Promise<void> {
    this.pollEvents();
    await this.runConditions();
  }

  /** Starts both cadences; returns the stop function (waits for a condition pass in flight). */
  start(): () => Promise<void> {
    let stopped = false;
    const events = setInterval(() => {
      if (!stopped) this.pollEvents();
    }, this.deps.eventPollMs);
    const conditions = setInterval(() => {
      if (!stopped) void this.runConditions();
    }, this.deps.monitorIntervalMs);
    this.pollEvents();
    // The first condition pass waits a little: condition monitors read market data (a replay's CSVs,
    // a venue's HTTP API, its SDK's first load), and a server just spawned answers its client first.
    const first = setTimeout(
      () => {
        if (!stopped) void this.runConditions();
      },
      Math.min(FIRST_CONDITION_PASS_MS, this.deps.monitorIntervalMs),
    );
    return async () => {
      stopped = true;
      clearTimeout(first);
      clearInterval(events);
      clearInterval(conditions);
      await this.conditionPass;
    };
  }
}
