import type { Logger } from "../log.js";
import { maxEventId, pushedEventsAfter } from "../store/alerts.js";
import type { Db } from "../store/db.js";
import type { AlertService } from "./service.js";
import type { AlertEvent } from "./types.js";

/**
 * Alerts for connected clients. The domain knows nothing of MCP: the server registers one
 * {@link AlertSession} per connected client session (an McpServer), and this registry pushes every
 * new warning/critical alert to all of them. It watches the alerts table by event id, so a client
 * connected to ANY process sharing the home hears alerts raised by the process that runs the
 * monitors. The watcher runs while at least one session is registered (per process; not a
 * background-lease job).
 *
 * Levels (MCP `notifications/message`, RFC 5424 names): a warning alert → `warning`, a critical one
 * → `error`; the resolution of either → `notice`. Each session filters by the level its client set
 * with `logging/setLevel` (the SDK does this per session).
 */

/** The logging levels this registry uses. */
export type SessionLevel = "notice" | "warning" | "error";

/** One message for a session: MCP `notifications/message` params. */
export interface SessionMessage {
  level: SessionLevel;
  logger: "tradewarden.alerts";
  data: {
    alert_id: number;
    kind: string;
    severity: string;
    message: string;
    details: Record<string, unknown>;
    ts: number;
    resolved: boolean;
  };
}

/** A connected client session as the registry sees it. `notify` must not throw for a closed session. */
export interface AlertSession {
  notify(m: SessionMessage): Promise<void>;
  /** Whether this session's caller may see the alert (src/alerts/visibility.ts); default all. */
  sees?(m: SessionMessage): boolean;
}

/** Maps an event to its session message. */
export function sessionMessage(ev: AlertEvent): SessionMessage {
  const a = ev.alert;
  return {
    level: ev.phase === "resolved" ? "notice" : a.severity === "critical" ? "error" : "warning",
    logger: "tradewarden.alerts",
    data: {
      alert_id: a.alert_id,
      kind: a.kind,
      severity: a.severity,
      message: ev.phase === "resolved" ? `Resolved: ${a.message} (${a.resolution ?? "resolved"})` : a.message,
      details: a.details,
      ts: ev.ts,
      resolved: ev.phase === "resolved",
    },
  };
}

/** See the module comment. One per App. */
export class SessionNotifiers {
  private readonly sessions = new Set<AlertSession>();
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private offChange: (() => void) | null = null;

  constructor(private readonly deps: { db: Db; log: Logger; alerts: AlertService; pollMs: number }) {}

  /** Number of registered sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Registers a session; the first one starts the watcher at the newest event (history is not
   * replayed). @returns the function that unregisters it (the last one stops the watcher).
   */
  register(s: AlertSession): () => void {
    this.sessions.add(s);
    if (this.sessions.size === 1) this.startWatcher();
    return () => {
      if (!this.sessions.delete(s)) return;
      if (this.sessions.size === 0) this.stopWatcher();
    };
  }

  private startWatcher(): void {
    this.cursor = maxEventId(this.deps.db);
    this.timer = setInterval(() => this.poll(), this.deps.pollMs);
    this.timer.unref();
    this.offChange = this.deps.alerts.onChange(() => this.poll());
  }

  private stopWatcher(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.offChange?.();
    this.offChange = null;
  }

  /** Pushes events newer than the cursor to every session (warning and critical alerts only). */
  poll(): void {
    if (this.sessions.size === 0 || !this.deps.db.open) return;
    let events: AlertEvent[];
    try {
      events = pushedEventsAfter(this.deps.db, { afterId: this.cursor, minSeverity: "warning", limit: 200 });
    } catch (err) {
      this.deps.log.error({ err }, "alert session watcher could not read alerts");
      return;
    }
    for (const ev of events) {
      this.cursor = ev.event_id;
      const m = sessionMessage(ev);
      for (const s of this.sessions) {
        if (s.sees && !s.sees(m)) continue;
        s.notify(m).catch((err) => this.deps.log.debug({ err }, "alert notification to a session failed"));
      }
    }
  }

  /** Unregisters everything and stops the watcher (app close). */
  close(): void {
    this.sessions.clear();
    this.stopWatcher();
  }
}
