import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  type AlertFilter,
  alertBySource,
  deliveriesOf,
  type DeliveryRow,
  eventPhases,
  getAlert,
  insertAlert,
  insertEvent,
  lastPushedRaise,
  listAlerts,
  markAcked,
  markResolved,
  openAlertByKey,
  openAlertsOfKinds,
  openCounts,
  touchAlert,
} from "../store/alerts.js";
import type { Db } from "../store/db.js";
import { type AlertInput, type AlertKind, type AlertRecord, severityRank } from "./types.js";

/**
 * The alert store as the rest of the app sees it: raise, resolve, notices, condition sync,
 * acknowledge, list. Every change runs in one IMMEDIATE transaction, so processes sharing a home
 * serialise on it; the schema (migration 010) keeps one open alert per dedupe key and one alert per
 * cause. Each raise or resolution appends an event that channels deliver; `push` is false when the
 * event is stored only:
 * - cooldown: a raise of a key within `cooldownMs` after a pushed raise of the same key is stored
 *   (and counted) but muted, and so is its resolution, so a flapping condition notifies at most once
 *   per cooldown;
 * - a resolution the caller marks silent (a mode_change superseded by the next mode change, whose own
 *   alert tells the story).
 * A raise at a higher severity than the open alert of its key (warning → critical) resolves the open
 * one silently and raises a new, pushed alert (escalations ignore the cooldown).
 */

/** Constructor parameters of {@link AlertService}. */
export interface AlertServiceDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  /** Default cooldown of conditions (config `alerts.cooldownMs`). */
  cooldownMs: number;
}

/** An alert with its delivery attempts (alert_list). */
export interface AlertView extends AlertRecord {
  deliveries: Array<{
    channel: string;
    phase: "raised" | "resolved";
    status: DeliveryRow["status"];
    attempts: number;
    last_attempt_at: number;
    http_status: number | null;
    error: string | null;
  }>;
}

/** See the module comment. One per App. */
export class AlertService {
  private readonly listeners = new Set<() => void>();

  constructor(private readonly deps: AlertServiceDeps) {}

  private get db(): Db {
    return this.deps.db;
  }

  /** Subscribes to "something was raised or resolved" (delivery and session watchers wake on it). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    // After the caller's transaction commits: listeners read what was written.
    setImmediate(() => {
      for (const fn of this.listeners) {
        try {
          fn();
        } catch (err) {
          this.deps.log.error({ err }, "alert listener failed");
        }
      }
    });
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Inserts an alert (a notice is resolved at once) and its raised event, muted when a pushed alert
   * of the same key was raised within `cooldownMs`. Runs inside the caller's transaction.
   */
  private insert(input: AlertInput, now: number, notice: boolean, cooldownMs: number): AlertRecord {
    const muted =
      cooldownMs > 0 && lastPushedRaise(this.db, input.key, now - cooldownMs) !== undefined
        ? "cooldown"
        : null;
    const id = insertAlert(this.db, {
      kind: input.kind,
      severity: input.severity,
      key: input.key,
      message: input.message,
      details: input.details,
      source: input.source ?? null,
      notice,
      muted,
      now,
      resolution: notice ? "notice" : null,
    });
    insertEvent(this.db, id, "raised", now, muted === null);
    return getAlert(this.db, id) as AlertRecord;
  }

  /**
   * Raises an alert, or counts another occurrence of the open alert of its key.
   * @param cooldownDefault cooldown used when `input.cooldownMs` is unset (conditions pass the
   *   configured one; state changes 0).
   * @returns the alert and whether a new one was created.
   */
  raise(input: AlertInput, cooldownDefault = this.deps.cooldownMs): { alert: AlertRecord; created: boolean } {
    const now = this.deps.clock.now();
    const out = this.tx(() => {
      if (input.source !== undefined) {
        const prior = alertBySource(this.db, input.source);
        if (prior) return { alert: prior, created: false };
      }
      const open = openAlertByKey(this.db, input.key);
      let escalated = false;
      if (open) {
        if (severityRank(input.severity) <= severityRank(open.severity)) {
          touchAlert(this.db, open.alert_id, input.message, input.details, now);
          return { alert: getAlert(this.db, open.alert_id) as AlertRecord, created: false };
        }
        markResolved(this.db, open.alert_id, now, `escalated to ${input.severity}`);
        insertEvent(this.db, open.alert_id, "resolved", now, false);
        escalated = true;
      }
      const cooldown = escalated ? 0 : (input.cooldownMs ?? cooldownDefault);
      return { alert: this.insert(input, now, false, cooldown), created: true };
    });
    if (out.created) this.changed();
    return out;
  }

  /**
   * Records a one-shot notice (raised and resolved at once). With a `source`, the same cause is
   * recorded once. Default cooldown 0.
   * @returns the notice, or undefined when its source was already recorded.
   */
  notice(input: AlertInput): AlertRecord | undefined {
    const now = this.deps.clock.now();
    const out = this.tx(() => {
      if (input.source !== undefined && alertBySource(this.db, input.source)) return undefined;
      return this.insert(input, now, true, input.cooldownMs ?? 0);
    });
    if (out) this.changed();
    return out;
  }

  /**
   * Resolves the open alert of a key. `push: false` stores the resolution without telling channels.
   * @returns the resolved alert, or undefined when none was open.
   */
  resolve(key: string, resolution: string, opts: { push?: boolean } = {}): AlertRecord | undefined {
    const now = this.deps.clock.now();
    const out = this.tx(() => {
      const open = openAlertByKey(this.db, key);
      if (!open || !markResolved(this.db, open.alert_id, now, resolution)) return undefined;
      insertEvent(this.db, open.alert_id, "resolved", now, (opts.push ?? true) && open.muted === null);
      return getAlert(this.db, open.alert_id);
    });
    if (out) this.changed();
    return out;
  }

  /**
   * Condition sync for one monitor: raises (or keeps open) every firing alert and resolves the open
   * alerts of `kinds` whose key is no longer firing, in one transaction.
   * @returns counts of new and resolved alerts.
   */
  sync(kinds: readonly AlertKind[], firing: readonly AlertInput[]): { raised: number; resolved: number } {
    let raised = 0;
    let resolved = 0;
    this.tx(() => {
      const keys = new Set(firing.map((f) => f.key));
      for (const f of firing) if (this.raise(f).created) raised++;
      for (const a of openAlertsOfKinds(this.db, kinds)) {
        if (!keys.has(a.dedupe_key) && this.resolve(a.dedupe_key, "condition cleared")) resolved++;
      }
    });
    return { raised, resolved };
  }

  /**
   * Acknowledges an alert (an operator has seen it). Acknowledging twice keeps the first record.
   * @throws TwError NOT_FOUND for an unknown id.
   */
  ack(id: number, by: string, note: string | null): { alert: AlertView; already: boolean } {
    const now = this.deps.clock.now();
    const changed = this.tx(() => {
      if (!getAlert(this.db, id)) {
        throw new TwError("NOT_FOUND", `No alert ${id}.`, { hint: "List alerts with alert_list." });
      }
      return markAcked(this.db, id, by, note, now);
    });
    return { alert: this.view([getAlert(this.db, id) as AlertRecord])[0], already: !changed };
  }

  /** Alerts newest first with their deliveries; `truncated` when more match. */
  list(f: AlertFilter): { alerts: AlertView[]; truncated: boolean } {
    const rows = listAlerts(this.db, f);
    const truncated = rows.length > f.limit;
    return { alerts: this.view(rows.slice(0, f.limit)), truncated };
  }

  /** Open alerts by kind and severity. */
  openCounts(): Array<{ kind: string; severity: string; n: number }> {
    return openCounts(this.db);
  }

  private view(rows: AlertRecord[]): AlertView[] {
    const ids = rows.map((r) => r.alert_id);
    const phases = eventPhases(this.db, ids);
    // Attempts grouped by (alert, channel, event), in attempt order.
    const groups = new Map<number, Map<string, DeliveryRow[]>>();
    for (const d of deliveriesOf(this.db, ids)) {
      const byKey = groups.get(d.alert_id) ?? new Map<string, DeliveryRow[]>();
      const k = `${d.channel}\u0000${d.event_id}`;
      byKey.set(k, [...(byKey.get(k) ?? []), d]);
      groups.set(d.alert_id, byKey);
    }
    return rows.map((r) => ({
      ...r,
      deliveries: [...(groups.get(r.alert_id)?.values() ?? [])].map((ds) => {
        const last = ds[ds.length - 1];
        return {
          channel: last.channel,
          phase: phases.get(last.event_id) ?? "raised",
          status: last.status,
          attempts: ds.filter((d) => d.status !== "skipped").length,
          last_attempt_at: last.finished_at ?? last.started_at,
          http_status: last.http_status,
          error: last.error,
        };
      }),
    }));
  }
}
