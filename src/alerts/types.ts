/**
 * Alert vocabulary (issue 16, docs/alerts.md). An alert has a kind, a severity, a message, JSON
 * details and a dedupe key: while an alert with a key is open, raising the same key again only counts
 * another occurrence. Notices are one-shot events (a fill, a resume): stored raised and resolved at
 * once. Times are ms UTC.
 */

/** Severities in increasing order. */
export const SEVERITIES = ["info", "warning", "critical"] as const;
/** How urgent an alert is. */
export type Severity = (typeof SEVERITIES)[number];

/** Rank of a severity (info 0 < warning 1 < critical 2), for minimum-severity filters. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/**
 * Every kind an alert may have. Conditions (raised while true, resolved when false): stale_data,
 * venue_unavailable, reconcile_failed, reconcile_lag, cycle_lag, approval_pending, rejection_rate,
 * order_unknown, channel_failing. State changes: mode_change, drawdown (open until trading resumes).
 * Notices: position_divergence and the order-lifecycle kinds (fill, order_canceled, risk_refusal,
 * approval_requested, approval_decided), and `test` (`tradewarden alerts test`).
 */
export const ALERT_KINDS = [
  "stale_data",
  "venue_unavailable",
  "reconcile_failed",
  "reconcile_lag",
  "cycle_lag",
  "mode_change",
  "drawdown",
  "approval_pending",
  "rejection_rate",
  "position_divergence",
  "order_unknown",
  "channel_failing",
  "fill",
  "order_canceled",
  "risk_refusal",
  "approval_requested",
  "approval_decided",
  "test",
] as const;
/** An alert kind. */
export type AlertKind = (typeof ALERT_KINDS)[number];

/** What a monitor asks for: raise (or keep open) an alert. */
export interface AlertInput {
  kind: AlertKind;
  severity: Severity;
  /** Dedupe key, e.g. `stale_data:BTC`; at most one open alert per key. */
  key: string;
  /** One line for a human (Slack/Telegram text, MCP message). */
  message: string;
  /** JSON details (snake_case); never a secret. */
  details: Record<string, unknown>;
  /** The row that caused it (`control_state:12`), so a cause raises one alert even across processes. */
  source?: string;
  /** Cooldown override (ms); default config `alerts.cooldownMs` for conditions, 0 for state changes and notices. */
  cooldownMs?: number;
}

/** A stored alert (snake_case: it is what alert_list returns). */
export interface AlertRecord {
  alert_id: number;
  kind: AlertKind;
  severity: Severity;
  dedupe_key: string;
  message: string;
  details: Record<string, unknown>;
  /** One-shot event: raised and resolved at the same time. */
  notice: boolean;
  /** Why it is not pushed to channels (`cooldown`), or null when it is. */
  muted: string | null;
  raised_at: number;
  last_seen_at: number;
  occurrences: number;
  resolved_at: number | null;
  resolution: string | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  ack_note: string | null;
}

/** One deliverable event: an alert raised or resolved. */
export interface AlertEvent {
  event_id: number;
  phase: "raised" | "resolved";
  ts: number;
  /** False when the event is stored only (muted by cooldown, or a resolution nobody needs to hear). */
  push: boolean;
  alert: AlertRecord;
}
