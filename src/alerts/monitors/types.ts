import type { AlertInput, AlertKind } from "../types.js";

/**
 * A condition monitor: a read-only check that says which alerts of its kinds are firing now. The
 * runner raises those (or keeps them open) and resolves the open alerts of its kinds that no longer
 * fire. A check that throws leaves its alerts as they are (the failure is logged).
 */
export interface ConditionMonitor {
  name: string;
  kinds: readonly AlertKind[];
  check(): AlertInput[] | Promise<AlertInput[]>;
}

/**
 * An event monitor: follows a table by row id from a cursor stored in `meta`, turning new rows into
 * alerts, all in one transaction with the cursor move (so a row is handled once, also when several
 * processes run monitors).
 */
export interface EventMonitor {
  name: string;
  poll(): void;
}

/** "3m 20s", "2h 5m", "45s" for a duration in ms. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}
