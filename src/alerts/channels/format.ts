import type { AlertEvent } from "../types.js";

/**
 * What channels say about an event. The webhook body is the JSON of {@link alertPayload}; Slack's
 * incoming webhooks read its `text`; Telegram gets {@link telegramText}.
 */

/**
 * Webhook body: `{kind, severity, message, details, ts, alert_id, resolved, notice, event_id, text}`.
 * `ts` is the event's time (raise or resolution, ms UTC); `resolved` is true for a resolution event;
 * `notice` marks one-shot events (fills, resumes) that have no resolution to wait for.
 */
export function alertPayload(ev: AlertEvent): Record<string, unknown> {
  const a = ev.alert;
  return {
    kind: a.kind,
    severity: a.severity,
    message: a.message,
    details: a.details,
    ts: ev.ts,
    alert_id: a.alert_id,
    resolved: ev.phase === "resolved",
    notice: a.notice,
    event_id: ev.event_id,
    text: alertText(ev),
  };
}

/** One line for Slack-compatible receivers: `[CRITICAL] mode_change: ...` or `[RESOLVED] ...`. */
export function alertText(ev: AlertEvent): string {
  const a = ev.alert;
  if (ev.phase === "resolved") {
    return `[RESOLVED] ${a.kind}: ${a.message} (${a.resolution ?? "resolved"})`;
  }
  return `[${a.severity.toUpperCase()}] ${a.kind}: ${a.message}`;
}

const ICON: Record<string, string> = { info: "🔵", warning: "🟠", critical: "🔴" };
const TELEGRAM_MAX = 3_500;

/** Escapes text for Telegram's HTML parse mode (&, <, >). */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Short HTML message for Telegram: icon, severity and kind in bold, the message, alert id and time. */
export function telegramText(ev: AlertEvent): string {
  const a = ev.alert;
  const head =
    ev.phase === "resolved"
      ? `✅ <b>RESOLVED · ${escapeHtml(a.kind)}</b>`
      : `${ICON[a.severity] ?? ""} <b>${a.severity.toUpperCase()} · ${escapeHtml(a.kind)}</b>`;
  const body = ev.phase === "resolved" ? `${a.message}\n(${a.resolution ?? "resolved"})` : a.message;
  const trimmed = body.length > TELEGRAM_MAX ? `${body.slice(0, TELEGRAM_MAX)}…` : body;
  return `${head}\n${escapeHtml(trimmed)}\n<i>alert ${a.alert_id} · ${new Date(ev.ts).toISOString()}</i>`;
}
