import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import {
  claimDelivery,
  type DeliveryRow,
  failedAttempts,
  finishDelivery,
  markInterrupted,
  maxEventId,
  pushedEventsAfter,
  recentAttempts,
  sendingAttempts,
  skipDelivery,
} from "../store/alerts.js";
import type { Db } from "../store/db.js";
import { getMeta, setMeta } from "../store/meta.js";
import type { Channel } from "./channels/types.js";
import type { AlertService } from "./service.js";
import type { AlertEvent } from "./types.js";

/**
 * Delivery of alert events to push channels (webhook, Telegram), a background job of the process
 * that runs the monitors. Per channel, events go out in order; state lives in the database, so a
 * restart neither loses nor repeats anything:
 * - each attempt is a row in alert_deliveries, claimed (`sending`) before the request and completed
 *   after it; the schema allows one in-flight or final row per event and channel, so no two senders
 *   (or restarts) deliver the same event to the same channel twice;
 * - a failed attempt backs off the whole channel (order is kept): delay = min(maxDelayMs,
 *   baseDelayMs · 2^(n−1)) after the n-th consecutive failure, or the receiver's Retry-After when
 *   longer (at most 15 min);
 * - an event is given up (`abandoned`) after `maxAttempts` attempts or a final answer (4xx other than
 *   408/425/429);
 * - after `failingAfter` consecutive failures the channel raises its own `channel_failing` alert
 *   (warning; sent to the other channels, not to itself), resolved by its next success;
 * - an attempt whose process died mid-request (its owner process is gone, or it outlived its timeout
 *   by a minute) is marked `interrupted` and the event is sent again with the same
 *   `X-Tradewarden-Delivery` id. Its outcome is unknown: not re-sending could lose the alert, re-sending
 *   could repeat it; a lost alert is the worse failure, and webhook receivers can drop the repeat by
 *   its delivery id. This is the only path to a duplicate, and only for a crash inside a request.
 * Nothing here is on the trading path: a channel that hangs only delays its own queue.
 */

/** Constructor parameters of {@link DeliveryWorker}. */
export interface DeliveryDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  alerts: AlertService;
  channels: readonly Channel[];
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  failingAfter: number;
  /** Poll cadence (config `alerts.eventPollMs`); an in-process raise wakes the worker at once. */
  pollMs: number;
}

const RETRY_AFTER_CAP_MS = 15 * 60_000;

/** This process as the owner of its attempts: `host:pid:random`. */
const OWNER = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

/** Whether the process that owns an attempt is known to be gone (same host, pid not running or reused by us). */
export function ownerIsGone(owner: string | null): boolean {
  if (owner === null) return false;
  const [host, pidText] = owner.split(":");
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return owner !== OWNER;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}
const BATCH = 20;

/** See the module comment. */
export class DeliveryWorker {
  private readonly busy = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: DeliveryDeps) {}

  private sinceKey(ch: Channel): string {
    return `alerts.channel.${ch.id}.since`;
  }

  /**
   * Where a channel's queue starts: the newest event when the channel was first seen (a new channel
   * is not sent the history).
   */
  private since(ch: Channel): number {
    const { db } = this.deps;
    return db
      .transaction(() => {
        let s = getMeta<number>(db, this.sinceKey(ch));
        if (s === undefined) {
          s = maxEventId(db);
          setMeta(db, this.sinceKey(ch), s);
        }
        return s;
      })
      .immediate();
  }

  /** Consecutive failed attempts of a channel (since its last success) and the newest attempt. */
  private streak(ch: Channel): { failures: number; newest: DeliveryRow | undefined } {
    const rows = recentAttempts(this.deps.db, ch.id, 64);
    let failures = 0;
    for (const r of rows) {
      if (r.status === "failed" || r.status === "abandoned") failures++;
      else if (r.status === "ok") break;
    }
    return { failures, newest: rows[0] };
  }

  /** ms UTC before which the channel must not be tried again (0 = now). */
  nextDue(ch: Channel): number {
    const { failures, newest } = this.streak(ch);
    if (failures === 0 || !newest) return 0;
    const { baseDelayMs, maxDelayMs } = this.deps;
    const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (failures - 1));
    const wait = Math.max(backoff, Math.min(newest.retry_after_ms ?? 0, RETRY_AFTER_CAP_MS));
    return (newest.finished_at ?? newest.started_at) + wait;
  }

  /** Initialises every channel's queue start. Call before monitors start raising. */
  init(): void {
    for (const ch of this.deps.channels) this.since(ch);
  }

  /** Finds attempts a dead process left `sending` (at start, then once a minute). */
  private sweep(): void {
    const now = this.deps.clock.now();
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    let n = 0;
    for (const a of sendingAttempts(this.deps.db)) {
      // No attempt outlives its timeout; a same-host owner that is gone will never finish it.
      if (a.owner === OWNER) continue;
      if (a.started_at < now - this.deps.timeoutMs - 60_000 || ownerIsGone(a.owner)) {
        markInterrupted(this.deps.db, a.id, now);
        n++;
      }
    }
    if (n > 0)
      this.deps.log.warn({ attempts: n }, "alert deliveries interrupted by a stopped process; re-sending");
  }

  /** Starts a pass on every channel not already in one; resolves when those passes end. */
  private kick(): Promise<void> {
    this.sweep();
    const passes: Promise<void>[] = [];
    for (const ch of this.deps.channels) {
      if (this.busy.has(ch.id)) continue;
      const p = this.channelPass(ch);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
      passes.push(p);
    }
    return Promise.all(passes).then(() => undefined);
  }

  /** One pass over every channel (concurrently: a slow channel delays only its own queue). */
  async runOnce(): Promise<void> {
    await Promise.all([...this.inflight]);
    await this.kick();
  }

  private async channelPass(ch: Channel): Promise<void> {
    if (this.busy.has(ch.id)) return;
    this.busy.add(ch.id);
    try {
      const since = this.since(ch);
      for (;;) {
        if (this.deps.clock.now() < this.nextDue(ch)) return;
        const batch = pushedEventsAfter(this.deps.db, {
          afterId: since,
          minSeverity: ch.minSeverity,
          limit: BATCH,
          owedTo: ch.id,
        });
        if (batch.length === 0) return;
        for (const ev of batch) {
          if (!(await this.deliver(ch, ev))) return;
        }
      }
    } catch (err) {
      this.deps.log.error({ err, channel: ch.id }, "alert delivery pass failed");
    } finally {
      this.busy.delete(ch.id);
    }
  }

  /** Sends one event. @returns false when the channel failed (stop its pass and back off). */
  private async deliver(ch: Channel, ev: AlertEvent): Promise<boolean> {
    const { db, clock, log } = this.deps;
    if (ev.alert.kind === "channel_failing" && ev.alert.details.channel === ch.id) {
      skipDelivery(db, {
        eventId: ev.event_id,
        alertId: ev.alert.alert_id,
        channel: ch.id,
        now: clock.now(),
        reason: "a channel is not told about its own failure",
      });
      return true;
    }
    const attempt = failedAttempts(db, ev.event_id, ch.id) + 1;
    const claim = db
      .transaction(() =>
        claimDelivery(db, {
          eventId: ev.event_id,
          alertId: ev.alert.alert_id,
          channel: ch.id,
          attempt,
          now: clock.now(),
          owner: OWNER,
        }),
      )
      .immediate();
    if (claim === null) return true; // another sender holds or delivered it
    const r = await ch.send(ev);
    const now = clock.now();
    if (r.ok) {
      finishDelivery(db, claim, { status: "ok", now, httpStatus: r.status, error: null, retryAfterMs: null });
      log.info(
        { channel: ch.id, alert_id: ev.alert.alert_id, kind: ev.alert.kind, attempt },
        "alert delivered",
      );
      this.deps.alerts.resolve(`channel_failing:${ch.id}`, "delivered again");
      return true;
    }
    const final = !r.retryable || attempt >= this.deps.maxAttempts;
    finishDelivery(db, claim, {
      status: final ? "abandoned" : "failed",
      now,
      httpStatus: r.status,
      error: r.error,
      retryAfterMs: r.retryAfterMs,
    });
    log.warn(
      { channel: ch.id, alert_id: ev.alert.alert_id, attempt, status: r.status, error: r.error, final },
      final ? "alert delivery given up" : "alert delivery failed; will retry",
    );
    const { failures } = this.streak(ch);
    if (failures >= this.deps.failingAfter) {
      this.deps.alerts.raise({
        kind: "channel_failing",
        severity: "warning",
        key: `channel_failing:${ch.id}`,
        message: `Alert channel ${ch.id} failed ${failures} times in a row (${r.error}); its alerts are queued and retried with backoff.`,
        details: {
          channel: ch.id,
          consecutive_failures: failures,
          last_error: r.error,
          last_status: r.status,
        },
      });
    }
    return false;
  }

  /**
   * Starts the worker: initialises the queues, then runs a pass every `pollMs` and whenever an alert
   * is raised or resolved in this process. Returns the stop function (waits for passes in flight).
   */
  start(): () => Promise<void> {
    this.init();
    let stopped = false;
    const kick = () => {
      if (!stopped) void this.kick();
    };
    const timer = setInterval(kick, this.deps.pollMs);
    const off = this.deps.alerts.onChange(kick);
    kick();
    return async () => {
      stopped = true;
      clearInterval(timer);
      off();
      await Promise.all([...this.inflight]);
    };
  }
}
