import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { App } from "../app.js";

/**
 * Prometheus metrics for `/metrics` (DESIGN.md §8): tool calls by outcome, errors by code, and a
 * latency histogram per tool, fed by the gate's call observations. One registry per App, so tests
 * that build several apps do not share counters.
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
  app.gate.observe((o) => {
    calls.inc({ tool: o.tool, outcome: o.ok ? "ok" : "error" });
    if (!o.ok) errors.inc({ tool: o.tool, code: o.code ?? "INTERNAL" });
    latency.observe({ tool: o.tool }, o.durationMs / 1000);
  });
  return { registry };
}
