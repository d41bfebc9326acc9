import type { AlertEvent, AlertKind, AlertRecord, Severity } from "../alerts/types.js";
import type { Db } from "./db.js";

/**
 * Persistence of alerts (migration 010): alerts, their raised/resolved events and delivery attempts.
 * Callers wrap multi-statement changes in one transaction (src/alerts/service.ts does).
 */

interface RawAlert {
  id: number;
  kind: AlertKind;
  severity: Severity;
  dedupe_key: string;
  message: string;
  details: string;
  source: string | null;
  notice: number;
  muted: string | null;
  raised_at: number;
  last_seen_at: number;
  occurrences: number;
  resolved_at: number | null;
  resolution: string | null;
  acked_at: number | null;
  acked_by: string | null;
  ack_note: string | null;
}

function parseAlert(r: RawAlert): AlertRecord {
  return {
    alert_id: r.id,
    kind: r.kind,
    severity: r.severity,
    dedupe_key: r.dedupe_key,
    message: r.message,
    details: JSON.parse(r.details) as Record<string, unknown>,
    notice: r.notice === 1,
    muted: r.muted,
    raised_at: r.raised_at,
    last_seen_at: r.last_seen_at,
    occurrences: r.occurrences,
    resolved_at: r.resolved_at,
    resolution: r.resolution,
    acknowledged_at: r.acked_at,
    acknowledged_by: r.acked_by,
    ack_note: r.ack_note,
  };
}

/** SQL rank of a severity column (info 0, warning 1, critical 2). */
const RANK_SQL = "(CASE a.severity WHEN 'info' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END)";

/** The open alert of a dedupe key, if any. */
export function openAlertByKey(db: Db, key: string): AlertRecord | undefined {
  const r = db.prepare("SELECT * FROM alerts WHERE dedupe_key = ? AND resolved_at IS NULL").get(key) as
    | RawAlert
    | undefined;
  return r ? parseAlert(r) : undefined;
}

/** Open alerts whose kind is one of `kinds`. */
export function openAlertsOfKinds(db: Db, kinds: readonly string[]): AlertRecord[] {
  if (kinds.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT * FROM alerts WHERE resolved_at IS NULL AND kind IN (${kinds.map(() => "?").join(",")}) ORDER BY id`,
    )
    .all(...kinds) as RawAlert[];
  return rows.map(parseAlert);
}

/** Whether an alert already exists for a cause (`source`). */
export function alertBySource(db: Db, source: string): AlertRecord | undefined {
  const r = db.prepare("SELECT * FROM alerts WHERE source = ?").get(source) as RawAlert | undefined;
  return r ? parseAlert(r) : undefined;
}

/** An alert by id. */
export function getAlert(db: Db, id: number): AlertRecord | undefined {
  const r = db.prepare("SELECT * FROM alerts WHERE id = ?").get(id) as RawAlert | undefined;
  return r ? parseAlert(r) : undefined;
}

/** ms UTC of the newest pushed (not muted) alert of a key raised at or after `since`, if any. */
export function lastPushedRaise(db: Db, key: string, since: number): number | undefined {
  const r = db
    .prepare(
      "SELECT MAX(raised_at) AS t FROM alerts WHERE dedupe_key = ? AND muted IS NULL AND raised_at >= ?",
    )
    .get(key, since) as { t: number | null };
  return r.t ?? undefined;
}

/** Inserts an alert (open, or resolved at once for a notice); returns its id. */
export function insertAlert(
  db: Db,
  a: {
    kind: string;
    severity: Severity;
    key: string;
    message: string;
    details: unknown;
    source: string | null;
    notice: boolean;
    muted: string | null;
    now: number;
    resolution: string | null;
  },
): number {
  return Number(
    db
      .prepare(
        `INSERT INTO alerts (kind, severity, dedupe_key, message, details, source, notice, muted, raised_at,
           last_seen_at, resolved_at, resolution)
         VALUES (@kind, @severity, @key, @message, @details, @source, @notice, @muted, @now, @now, @resolved_at,
           @resolution)`,
      )
      .run({
        kind: a.kind,
        severity: a.severity,
        key: a.key,
        message: a.message,
        details: JSON.stringify(a.details),
        source: a.source,
        notice: a.notice ? 1 : 0,
        muted: a.muted,
        now: a.now,
        resolved_at: a.notice ? a.now : null,
        resolution: a.resolution,
      }).lastInsertRowid,
  );
}

/** Counts one more occurrence of an open alert and keeps its latest message and details. */
export function touchAlert(db: Db, id: number, message: string, details: unknown, now: number): void {
  db.prepare(
    "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = ?, message = ?, details = ? WHERE id = ?",
  ).run(now, message, JSON.stringify(details), id);
}

/** Marks an open alert resolved. @returns false when it was not open. */
export function markResolved(db: Db, id: number, now: number, resolution: string): boolean {
  return (
    db
      .prepare("UPDATE alerts SET resolved_at = ?, resolution = ? WHERE id = ? AND resolved_at IS NULL")
      .run(now, resolution, id).changes === 1
  );
}

/** Records an acknowledgement unless one exists. @returns false when it was already acknowledged. */
export function markAcked(db: Db, id: number, by: string, note: string | null, now: number): boolean {
  return (
    db
      .prepare("UPDATE alerts SET acked_at = ?, acked_by = ?, ack_note = ? WHERE id = ? AND acked_at IS NULL")
      .run(now, by, note, id).changes === 1
  );
}

/** Appends a raised/resolved event; returns its id. */
export function insertEvent(
  db: Db,
  alertId: number,
  phase: "raised" | "resolved",
  ts: number,
  push: boolean,
): number {
  return Number(
    db
      .prepare("INSERT INTO alert_events (alert_id, phase, ts, push) VALUES (?, ?, ?, ?)")
      .run(alertId, phase, ts, push ? 1 : 0).lastInsertRowid,
  );
}

/** Highest event id (0 when none). */
export function maxEventId(db: Db): number {
  return (db.prepare("SELECT COALESCE(MAX(id), 0) AS m FROM alert_events").get() as { m: number }).m;
}

interface RawEventJoin extends RawAlert {
  event_id: number;
  phase: "raised" | "resolved";
  ts: number;
  push: number;
}

function parseEvent(r: RawEventJoin): AlertEvent {
  return { event_id: r.event_id, phase: r.phase, ts: r.ts, push: r.push === 1, alert: parseAlert(r) };
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/**
 * Pushed events after `afterId` whose alert is at least `minSeverity`, oldest first. With `owedTo`,
 * only those that channel still owes: without an in-flight or final delivery record on it.
 */
export function pushedEventsAfter(
  db: Db,
  q: { afterId: number; minSeverity: Severity; limit: number; owedTo?: string },
): AlertEvent[] {
  const owed =
    q.owedTo === undefined
      ? ""
      : `AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.event_id = e.id AND d.channel = ?
           AND d.status IN ('sending','ok','abandoned','skipped'))`;
  const rows = db
    .prepare(
      `SELECT a.*, e.id AS event_id, e.phase, e.ts, e.push FROM alert_events e JOIN alerts a ON a.id = e.alert_id
       WHERE e.id > ? AND e.push = 1 AND ${RANK_SQL} >= ? ${owed} ORDER BY e.id LIMIT ?`,
    )
    .all(
      q.afterId,
      SEVERITY_RANK[q.minSeverity],
      ...(q.owedTo === undefined ? [] : [q.owedTo]),
      q.limit,
    ) as RawEventJoin[];
  return rows.map(parseEvent);
}

/** Delivery outcome of one attempt. */
export type DeliveryStatus = "sending" | "ok" | "failed" | "abandoned" | "interrupted" | "skipped";

/** One delivery attempt (alert_list shows them; secrets never appear in `error`). */
export interface DeliveryRow {
  id: number;
  event_id: number;
  alert_id: number;
  channel: string;
  attempt: number;
  status: DeliveryStatus;
  started_at: number;
  finished_at: number | null;
  http_status: number | null;
  error: string | null;
  retry_after_ms: number | null;
  /** Process that made the attempt (`host:pid:token`). */
  owner: string | null;
}

/** Attempts of an event on a channel that did not deliver (failed or interrupted) so far. */
export function failedAttempts(db: Db, eventId: number, channel: string): number {
  return (
    db
      .prepare(
        "SELECT COUNT(*) AS n FROM alert_deliveries WHERE event_id = ? AND channel = ? AND status IN ('failed','interrupted')",
      )
      .get(eventId, channel) as { n: number }
  ).n;
}

/**
 * Claims an event for sending on a channel: inserts a `sending` attempt. The partial unique index
 * refuses the claim when another sender holds or finished it.
 * @returns the attempt row id, or null when the event is already claimed or delivered.
 */
export function claimDelivery(
  db: Db,
  d: { eventId: number; alertId: number; channel: string; attempt: number; now: number; owner: string },
): number | null {
  const r = db
    .prepare(
      `INSERT INTO alert_deliveries (event_id, alert_id, channel, attempt, status, started_at, owner)
       VALUES (?, ?, ?, ?, 'sending', ?, ?) ON CONFLICT DO NOTHING`,
    )
    .run(d.eventId, d.alertId, d.channel, d.attempt, d.now, d.owner);
  return r.changes === 1 ? Number(r.lastInsertRowid) : null;
}

/** Records a final row without sending (an event a channel must not get, e.g. its own failure). */
export function skipDelivery(
  db: Db,
  d: { eventId: number; alertId: number; channel: string; now: number; reason: string },
): void {
  db.prepare(
    `INSERT INTO alert_deliveries (event_id, alert_id, channel, attempt, status, started_at, finished_at, error)
     VALUES (?, ?, ?, 0, 'skipped', ?, ?, ?) ON CONFLICT DO NOTHING`,
  ).run(d.eventId, d.alertId, d.channel, d.now, d.now, d.reason);
}

/** Completes a claimed attempt. */
export function finishDelivery(
  db: Db,
  id: number,
  r: {
    status: Exclude<DeliveryStatus, "sending">;
    now: number;
    httpStatus: number | null;
    error: string | null;
    retryAfterMs: number | null;
  },
): void {
  db.prepare(
    `UPDATE alert_deliveries SET status = ?, finished_at = ?, http_status = ?, error = ?, retry_after_ms = ?
     WHERE id = ? AND status = 'sending'`,
  ).run(r.status, r.now, r.httpStatus, r.error, r.retryAfterMs, id);
}

/** Attempts still `sending` (in flight here or elsewhere, or left by a process that died). */
export function sendingAttempts(db: Db): Array<{ id: number; started_at: number; owner: string | null }> {
  return db
    .prepare("SELECT id, started_at, owner FROM alert_deliveries WHERE status = 'sending' ORDER BY id")
    .all() as Array<{ id: number; started_at: number; owner: string | null }>;
}

/**
 * Marks an attempt whose process died mid-request as `interrupted`: its outcome is unknown, so the
 * event is owed again and re-sent with the same delivery id.
 */
export function markInterrupted(db: Db, id: number, now: number): void {
  db.prepare(
    `UPDATE alert_deliveries SET status = 'interrupted', finished_at = ?,
       error = 'the sending process stopped before the answer; sent again with the same X-Tradewarden-Delivery id'
     WHERE id = ? AND status = 'sending'`,
  ).run(now, id);
}

/** The newest attempts of a channel (newest first), for its backoff. */
export function recentAttempts(db: Db, channel: string, limit: number): DeliveryRow[] {
  return db
    .prepare(
      "SELECT * FROM alert_deliveries WHERE channel = ? AND status != 'skipped' ORDER BY id DESC LIMIT ?",
    )
    .all(channel, limit) as DeliveryRow[];
}

/** Every attempt of some alerts, oldest first. */
export function deliveriesOf(db: Db, alertIds: readonly number[]): DeliveryRow[] {
  if (alertIds.length === 0) return [];
  return db
    .prepare(
      `SELECT * FROM alert_deliveries WHERE alert_id IN (${alertIds.map(() => "?").join(",")}) ORDER BY id`,
    )
    .all(...alertIds) as DeliveryRow[];
}

/** Filters of {@link listAlerts}. */
export interface AlertFilter {
  status: "open" | "resolved" | "all";
  kind?: string;
  minSeverity?: Severity;
  since?: number;
  unacknowledged?: boolean;
  /** Return alerts with id below this (paging, newest first). */
  beforeId?: number;
  limit: number;
}

/** Alerts newest first, `limit + 1` rows at most (the caller detects truncation). */
export function listAlerts(db: Db, f: AlertFilter): AlertRecord[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.status === "open") where.push("a.resolved_at IS NULL");
  if (f.status === "resolved") where.push("a.resolved_at IS NOT NULL");
  if (f.kind !== undefined) {
    where.push("a.kind = ?");
    args.push(f.kind);
  }
  if (f.minSeverity !== undefined) {
    where.push(`${RANK_SQL} >= ?`);
    args.push(SEVERITY_RANK[f.minSeverity]);
  }
  if (f.since !== undefined) {
    where.push("a.raised_at >= ?");
    args.push(f.since);
  }
  if (f.unacknowledged) where.push("a.acked_at IS NULL");
  if (f.beforeId !== undefined) {
    where.push("a.id < ?");
    args.push(f.beforeId);
  }
  const sql = `SELECT a.* FROM alerts a ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY a.id DESC LIMIT ?`;
  return (db.prepare(sql).all(...args, f.limit + 1) as RawAlert[]).map(parseAlert);
}

/** Open alerts counted by kind and severity (for /metrics). */
export function openCounts(db: Db): Array<{ kind: string; severity: Severity; n: number }> {
  return db
    .prepare(
      "SELECT kind, severity, COUNT(*) AS n FROM alerts WHERE resolved_at IS NULL GROUP BY kind, severity",
    )
    .all() as Array<{ kind: string; severity: Severity; n: number }>;
}

/** Phase of each event of some alerts, by event id. */
export function eventPhases(db: Db, alertIds: readonly number[]): Map<number, "raised" | "resolved"> {
  if (alertIds.length === 0) return new Map();
  const rows = db
    .prepare(`SELECT id, phase FROM alert_events WHERE alert_id IN (${alertIds.map(() => "?").join(",")})`)
    .all(...alertIds) as Array<{ id: number; phase: "raised" | "resolved" }>;
  return new Map(rows.map((r) => [r.id, r.phase]));
}
