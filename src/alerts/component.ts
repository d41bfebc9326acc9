import type { App } from "../app.js";
import type { Component } from "../components.js";
import { alertSecrets } from "../secrets.js";
import { lastCycle } from "../store/cycles.js";
import { buildChannels } from "./channels/index.js";
import type { Channel } from "./channels/types.js";
import { DeliveryWorker } from "./delivery.js";
import { readTradingGauges, type TradingGauges } from "./gauges.js";
import { VenueHealthStore } from "./health.js";
import { controlMonitor } from "./monitors/control.js";
import { cycleLagMonitor, reconcileMonitor } from "./monitors/engine.js";
import { divergenceMonitor, lifecycleMonitors } from "./monitors/events.js";
import { staleDataMonitor, venueMonitor } from "./monitors/market.js";
import { approvalMonitor, rejectionRateMonitor, unknownOrderMonitor } from "./monitors/orders.js";
import { MonitorRunner } from "./runner.js";
import { AlertService } from "./service.js";
import { SessionNotifiers } from "./sessions.js";

/** The alerting machinery of a process (monitors, delivery, channels), for serve, tests and the CLI. */
export interface AlertRuntime {
  runner: MonitorRunner;
  delivery: DeliveryWorker;
  channels: readonly Channel[];
  /** Half-configured channels, reported at start-up and in system_get_status. */
  problems: readonly string[];
  health: VenueHealthStore;
  /** Trading gauges for /metrics. */
  gauges(): TradingGauges;
}

declare module "../app.js" {
  interface App {
    /** Stored alerts: raise, resolve, list, acknowledge (src/alerts). */
    alerts: AlertService;
    /** Connected client sessions that hear warning/critical alerts; src/server registers into it. */
    alertSessions: SessionNotifiers;
    /** Monitors, delivery and channels of this process. */
    alerting: AlertRuntime;
  }
}

/**
 * Installs alerts after the engine (monitors read the reconciler and the cycle). Every process gets
 * the service, the session registry (its watcher runs while a client is connected) and the venue
 * health observer; `serve` starts two background jobs — `alert-delivery` (webhook, Telegram) and
 * `alert-monitors` — which, like the cycle and the reconciler, belong to the one process that runs
 * background jobs. Delivery is pushed first so channel queues start before the first raise.
 */
export const alertsComponent: Component = {
  name: "alerts",
  install(app: App) {
    const cfg = app.config.alerts;
    const { db, clock, log } = app;
    app.alerts = new AlertService({ db, clock, log, cooldownMs: cfg.cooldownMs });
    app.alertSessions = new SessionNotifiers({ db, log, alerts: app.alerts, pollMs: cfg.eventPollMs });
    app.onClose(() => app.alertSessions.close());

    const health = new VenueHealthStore(db, clock);
    app.gate.observe((o) => {
      if (!o.venue || (!o.ok && o.code !== "EXCHANGE_UNAVAILABLE")) return;
      try {
        health.record(o.venue, o.ok, o.ok ? undefined : "EXCHANGE_UNAVAILABLE from a tool call");
      } catch (err) {
        log.error({ err }, "venue health could not be recorded");
      }
    });

    let channels: Channel[] = [];
    let problems: string[] = [];
    try {
      ({ channels, problems } = buildChannels(cfg, alertSecrets(app.config), `tradewarden/${app.version}`));
    } catch (err) {
      problems = [`alert channels are off: ${(err as Error).message}`];
    }
    for (const p of problems) log.warn({ problem: p }, "alert channel configuration");

    const engine = app.engine;
    const reconciler = engine.reconciler;
    const engineClock = app.replayClock ?? clock;
    const runner = new MonitorRunner({
      alerts: app.alerts,
      log,
      monitorIntervalMs: cfg.monitorIntervalMs,
      eventPollMs: cfg.eventPollMs,
      events: [
        controlMonitor(db, app.alerts),
        divergenceMonitor(db, app.alerts, cfg.cooldownMs),
        ...lifecycleMonitors(db, app.alerts, cfg.lifecycle),
      ],
      conditions: [
        staleDataMonitor({
          market: app.market,
          universe: app.config.universe,
          staleAfterMs: app.config.staleAfterMs,
          health,
        }),
        venueMonitor({ health, threshold: cfg.venueFailures, clock }),
        reconcileMonitor({
          reconciler,
          clock,
          enabled: app.config.cycle.enabled,
          intervalMs: app.config.reconcile.intervalMs,
          lagIntervals: cfg.reconcileLagIntervals,
          maxFailures: app.config.reconcile.maxFailures,
        }),
        cycleLagMonitor({
          enabled: app.config.cycle.enabled,
          clock: engineClock,
          tickMs: engine.tickMs,
          lastTick: () => lastCycle(db)?.ts ?? null,
        }),
        approvalMonitor({ db, clock, minutes: cfg.approvalPendingMinutes }),
        rejectionRateMonitor({ db, clock, threshold: cfg.rejectionsPerHour }),
        unknownOrderMonitor({ db, clock }),
      ],
    });
    const delivery = new DeliveryWorker({
      db,
      clock,
      log,
      alerts: app.alerts,
      channels,
      pollMs: cfg.eventPollMs,
      ...cfg.delivery,
    });
    const startedAt = engineClock.now();
    app.alerting = {
      runner,
      delivery,
      channels,
      problems,
      health,
      gauges: () =>
        readTradingGauges({
          db,
          clock,
          engineClock,
          cycleEnabled: app.config.cycle.enabled,
          tickMs: engine.tickMs,
          startedAt,
          reconciler,
        }),
    };
    if (cfg.enabled) {
      app.background.push({ name: "alert-delivery", start: () => delivery.start() });
      app.background.push({ name: "alert-monitors", start: () => runner.start() });
    }
    app.statusProviders.set("alerts", () => ({
      enabled: cfg.enabled,
      open: app.alerts.openCounts(),
      channels: channels.map((c) => ({ id: c.id, kind: c.kind, min_severity: c.minSeverity })),
      problems,
    }));
  },
};
