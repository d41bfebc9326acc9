import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { TradingGauges } from "../alerts/gauges.js";
import type { App } from "../app.js";

/**
 * Prometheus metrics for `/metrics` (DESIGN.md §8): tool calls by outcome, errors by code, and a
 * latency histogram per tool, fed by the gate's call observations; open alerts by kind and severity
 * and the trading gauges (control mode, equity, drawdown, last-reconcile age, cycle lag), read from
 * the shared database at scrape time. One registry per App, so tests that build several apps do not
 * share counters.
 */
export interface Metrics {
  registry: Registry;
}

/** Creates the registry and subscribes it to the app's gate. */
export function createMetrics(app: App): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tradewarden_process_" });
  const calls = new Counter({
    name: "tradewarden_tool_calls_total",
    help: "Tool calls by tool and outcome (ok | error).",
    labelNames: ["tool", "outcome"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "tradewarden_tool_errors_total",
    help: "Refused or failed tool calls by tool and error code.",
    labelNames: ["tool", "code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "tradewarden_tool_call_duration_seconds",
    help: "Tool call latency in seconds, gate included.",
    labelNames: ["tool"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "tradewarden_alerts_active",
    help: "Open (unresolved) alerts by kind and severity.",
    labelNames: ["kind", "severity"],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of app.alerts.openCounts()) this.set({ kind: c.kind, severity: c.severity }, c.n);
    },
  });
  // Labelled by the cycle venue so an unknown value is absent rather than a misleading 0.
  const venue = app.config.cycle.venue;
  const gauge = (name: string, help: string, pick: (g: TradingGauges) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["venue"],
      registers: [registry],
      collect() {
        const v = pick(app.alerting.gauges());
        this.reset();
        if (v !== null && Number.isFinite(v)) this.set({ venue }, v);
      },
    });
  new Gauge({
    name: "tradewarden_control_mode",
    help: "Control mode: 1 for the current mode (NORMAL, REDUCE_ONLY, HALT), 0 for the others.",
    labelNames: ["mode"],
    registers: [registry],
    collect() {
      const mode = app.alerting.gauges().mode;
      for (const m of ["NORMAL", "REDUCE_ONLY", "HALT"]) this.set({ mode: m }, mode === m ? 1 : 0);
    },
  });
  gauge(
    "tradewarden_equity",
    "Equity of the cycle venue (quote currency), from the last reconcile or cycle.",
    (g) => g.equity,
  );
  gauge(
    "tradewarden_drawdown",
    "Drawdown of the cycle venue from its peak equity (fraction, 0.02 = 2%).",
    (g) => g.drawdown,
  );
  gauge(
    "tradewarden_reconcile_age_seconds",
    "Seconds since the last successful reconciliation.",
    (g) => g.reconcile_age_seconds,
  );
  gauge(
    "tradewarden_cycle_lag_seconds",
    "How late the minute cycle is: seconds past the tick after the last cycle (0 = on time).",
    (g) => g.cycle_lag_seconds,
  );
  app.gate.observe((o) => {
    calls.inc({ tool: o.tool, outcome: o.ok ? "ok" : "error" });
    if (!o.ok) errors.inc({ tool: o.tool, code: o.code ?? "INTERNAL" });
    latency.observe({ tool: o.tool }, o.durationMs / 1000);
  });
  return { registry };
}
