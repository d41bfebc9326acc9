import type { Clock } from "../../clock.js";
import type { AlertInput } from "../types.js";
import { type ConditionMonitor, formatAge } from "./types.js";

/** What the reconcile monitor reads of the reconciler (src/engine/reconciler.ts `health()`). */
export interface ReconcileHealth {
  venueId: string;
  health(): {
    last: { at: number; ok: boolean; error?: string } | null;
    last_ok_at: number | null;
    consecutive_failures: number;
  };
}

/**
 * `reconcile_failed` (key `reconcile_failed:<venue>`): the last reconcile pass failed — warning, or
 * critical once the failures reached `maxFailures` (the reconciler has then switched to HALT).
 * `reconcile_lag` (warning, key `reconcile_lag:<venue>`): the cycle is enabled and no pass succeeded
 * for `lagIntervals` × `intervalMs` (counted from the monitor's start when there was none yet).
 * Both resolve with the next successful pass. Times on the app clock, like the reconciler's.
 */
export function reconcileMonitor(deps: {
  reconciler: ReconcileHealth;
  clock: Clock;
  enabled: boolean;
  intervalMs: number;
  lagIntervals: number;
  maxFailures: number;
}): ConditionMonitor {
  const startedAt = deps.clock.now();
  return {
    name: "reconcile",
    kinds: ["reconcile_failed", "reconcile_lag"],
    check() {
      const venue = deps.reconciler.venueId;
      const h = deps.reconciler.health();
      const now = deps.clock.now();
      const out: AlertInput[] = [];
      if (h.last && !h.last.ok) {
        const halted = h.consecutive_failures >= deps.maxFailures;
        out.push({
          kind: "reconcile_failed",
          severity: halted ? "critical" : "warning",
          key: `reconcile_failed:${venue}`,
          message: `Reconciliation with ${venue} failed ${h.consecutive_failures} time(s) in a row${halted ? " (trading halted)" : ""}: ${h.last.error ?? "unknown error"}.`,
          details: {
            venue,
            consecutive_failures: h.consecutive_failures,
            max_failures: deps.maxFailures,
            last_error: h.last.error ?? null,
            last_ok_at: h.last_ok_at,
          },
        });
      }
      const limit = deps.lagIntervals * deps.intervalMs;
      const since = h.last_ok_at ?? startedAt;
      if (deps.enabled && now - since > limit) {
        out.push({
          kind: "reconcile_lag",
          severity: "warning",
          key: `reconcile_lag:${venue}`,
          message: `No successful reconciliation with ${venue} for ${formatAge(now - since)} (expected every ${formatAge(deps.intervalMs)}).`,
          details: { venue, last_ok_at: h.last_ok_at, age_ms: now - since, limit_ms: limit },
        });
      }
      return out;
    },
  };
}

/**
 * How late the minute cycle is: `now − (last cycle's tick + tick length)` on the engine clock, ≥ 0
 * (from `since` when no cycle ran yet). Under replay the cycle drives the clock, so this stays 0.
 */
export function cycleLagMs(now: number, lastTick: number | null, tickMs: number, since: number): number {
  return Math.max(0, now - ((lastTick ?? since) + tickMs));
}

/**
 * `cycle_lag` (warning, key `cycle_lag`): the cycle is enabled and a whole tick was missed — the tick
 * after the last cycle is more than one tick length overdue.
 */
export function cycleLagMonitor(deps: {
  enabled: boolean;
  clock: Clock;
  tickMs: number;
  lastTick: () => number | null;
}): ConditionMonitor {
  const startedAt = deps.clock.now();
  return {
    name: "cycle_lag",
    kinds: ["cycle_lag"],
    check() {
      if (!deps.enabled) return [];
      const last = deps.lastTick();
      const lag = cycleLagMs(deps.clock.now(), last, deps.tickMs, startedAt);
      if (lag < deps.tickMs) return [];
      return [
        {
          kind: "cycle_lag",
          severity: "warning",
          key: "cycle_lag",
          message: `The minute cycle missed ${Math.floor(lag / deps.tickMs)} tick(s): ${last === null ? "no cycle has run yet" : `last tick ${new Date(last).toISOString()}`}.`,
          details: { last_tick: last, lag_ms: lag, tick_ms: deps.tickMs },
        },
      ];
    },
  };
}
