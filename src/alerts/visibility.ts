import type { AlertKind } from "./types.js";

/**
 * Which alerts a caller may see (per-caller isolation, docs/gate.md). Operators see every alert.
 * Agents and readonly callers see the account-wide ones — data, venues, reconciliation, the cycle,
 * the control mode, the breaker, divergences, channels — and, of the alerts about one caller's
 * records (approvals, orders, fills, refusals), only their own: an alert naming another caller's
 * intent or order is as invisible as the record itself. `rejection_rate` counts every caller's
 * refusals, so it is for operators only.
 */

const ACCOUNT_WIDE: ReadonlySet<AlertKind> = new Set([
  "stale_data",
  "venue_unavailable",
  "reconcile_failed",
  "reconcile_lag",
  "cycle_lag",
  "mode_change",
  "drawdown",
  "position_divergence",
  "channel_failing",
  "test",
]);

/** The caller an alert is about (its `details.caller`), if any. */
function ownerOf(details: Record<string, unknown>): string | undefined {
  return typeof details.caller === "string" ? details.caller : undefined;
}

/**
 * Whether `viewer` may see an alert of `kind` with `details`.
 * @param viewer the caller id and whether it sees every caller's records (operators).
 */
export function alertVisibleTo(
  alert: { kind: string; details: Record<string, unknown> },
  viewer: { id: string; seesAll: boolean },
): boolean {
  if (viewer.seesAll) return true;
  if (ACCOUNT_WIDE.has(alert.kind as AlertKind)) return true;
  if (alert.kind === "rejection_rate") return false;
  return ownerOf(alert.details) === viewer.id;
}
