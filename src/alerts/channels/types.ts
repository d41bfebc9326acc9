import type { AlertEvent, Severity } from "../types.js";

/** Outcome of one attempt. `error` never holds a secret or a channel URL. */
export type SendResult =
  | { ok: true; status: number }
  | { ok: false; status: number | null; error: string; retryable: boolean; retryAfterMs: number | null };

/**
 * A push channel (webhook, Telegram). `id` is what delivery records, logs and alert_list name: never
 * a URL or token (`webhook:env`, `webhook:<name>`, `telegram`).
 */
export interface Channel {
  id: string;
  kind: "webhook" | "telegram";
  /** Events of alerts below this severity are not sent. */
  minSeverity: Severity;
  /** Sends one event; resolves (never rejects) with the outcome. */
  send(event: AlertEvent): Promise<SendResult>;
}
