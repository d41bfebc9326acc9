import type { Clock } from "../clock.js";
import { type ControlMode, getControl } from "../store/control.js";
import { lastCycle } from "../store/cycles.js";
import type { Db } from "../store/db.js";
import { getMeta } from "../store/meta.js";
import { mirrorEquity } from "../store/monitoring.js";
import { cycleLagMs, type ReconcileHealth } from "./monitors/engine.js";

/**
 * Trading gauges for `/metrics`, read from the shared database at scrape time (so every serving
 * process reports the same numbers): control mode, equity (quote) and drawdown (fraction) of the
 * cycle venue, seconds since the last successful reconcile, and how late the minute cycle is.
 * Null when unknown (the gauge is then left out).
 */
export interface TradingGauges {
  mode: ControlMode;
  equity: number | null;
  peak_equity: number | null;
  drawdown: number | null;
  reconcile_age_seconds: number | null;
  cycle_lag_seconds: number | null;
}

/** Reads the gauges. Equity: the reconciler's mirror, else the last cycle's end equity. */
export function readTradingGauges(deps: {
  db: Db;
  clock: Clock;
  engineClock: Clock;
  cycleEnabled: boolean;
  tickMs: number;
  startedAt: number;
  reconciler: ReconcileHealth;
}): TradingGauges {
  const { db } = deps;
  const last = lastCycle(db);
  const eqText =
    mirrorEquity(db, deps.reconciler.venueId)?.equity ?? last?.report?.end_equity ?? last?.equity;
  const equity = eqText !== undefined ? Number(eqText) : null;
  const peak = getMeta<number>(db, "engine.peak_equity") ?? null;
  const lastOk = deps.reconciler.health().last_ok_at;
  return {
    mode: getControl(db).mode,
    equity,
    peak_equity: peak,
    drawdown: equity !== null && peak !== null && peak > 0 ? Math.max(0, 1 - equity / peak) : null,
    reconcile_age_seconds: lastOk === null ? null : Math.max(0, deps.clock.now() - lastOk) / 1000,
    cycle_lag_seconds: deps.cycleEnabled
      ? cycleLagMs(deps.engineClock.now(), last?.ts ?? null, deps.tickMs, deps.startedAt) / 1000
      : null,
  };
}
