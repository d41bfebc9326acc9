import { randomBytes } from "node:crypto";
import type { Logger } from "./log.js";
import type { Db } from "./store/db.js";
import { getLease, releaseLease, renewLease, SELF, tryAcquireLease } from "./store/leases.js";

/**
 * The background-job lease (DESIGN.md §10). Any number of `serve` processes and CLI commands may
 * share one home; exactly one of them — the holder of the `background` lease — runs the background
 * jobs (minute cycle, reconciler, monitors, position guard). The others serve tools only and keep
 * trying, so when the holder stops or dies (its lease lapses, or its pid is gone on this host) one of
 * them takes over within a renewal interval. A holder that finds its lease taken (it stalled past
 * the TTL) stops its jobs at once.
 */

/** A background job as components register it (`app.background`). */
export interface BackgroundJob {
  name: string;
  /** Starts the job; returns its stop function. */
  start: () => () => void | Promise<void>;
}

/** Options of {@link BackgroundRunner}. Times in ms (wall clock). */
export interface BackgroundOptions {
  db: Db;
  log: Logger;
  jobs: readonly BackgroundJob[];
  /** The database is this process's alone: hold the lease without asking. */
  exclusive?: boolean;
  /** Lease lifetime; default 15 000. */
  ttlMs?: number;
  /** How often the holder renews and the others retry; default 5 000. */
  renewMs?: number;
}

/** What `system_get_status` shows about the lease. */
export interface LeaseStatus {
  /** This process holds the lease and runs the background jobs. */
  held: boolean;
  /** Jobs this process runs now. */
  jobs: string[];
  /** The current holder (any process), when there is one. */
  holder: { host: string; pid: number; since: number; expires_at: number } | null;
}

const LEASE = "background";

/** Runs the background jobs while this process holds the lease. */
export class BackgroundRunner {
  private readonly holder = `${SELF.host}:${SELF.pid}:${randomBytes(4).toString("hex")}`;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stops: Array<{ name: string; stop: () => void | Promise<void> }> = [];
  private held = false;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly o: BackgroundOptions) {
    this.ttlMs = o.ttlMs ?? 15_000;
    this.renewMs = o.renewMs ?? 5_000;
  }

  /** Starts competing for the lease (and running the jobs while held). */
  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.renewMs);
    this.timer.unref();
  }

  private tick(): void {
    let holds: boolean;
    try {
      holds = this.o.exclusive
        ? true
        : this.held
          ? renewLease(this.o.db, LEASE, this.holder, this.ttlMs)
          : tryAcquireLease(this.o.db, LEASE, this.holder, this.ttlMs);
    } catch (err) {
      // A busy store is not a lost lease: keep the current state and try again next tick.
      this.o.log.warn({ err }, "background lease check failed; retrying");
      return;
    }
    if (holds && !this.held) {
      this.held = true;
      this.transition = this.transition.then(() => this.startJobs());
    } else if (!holds && this.held) {
      this.held = false;
      this.o.log.warn("background lease lost to another process; stopping background jobs");
      this.transition = this.transition.then(() => this.stopJobs());
    }
  }

  private async startJobs(): Promise<void> {
    this.o.log.info({ jobs: this.o.jobs.map((j) => j.name) }, "background lease acquired; starting jobs");
    for (const job of this.o.jobs) {
      try {
        this.stops.push({ name: job.name, stop: job.start() });
      } catch (err) {
        this.o.log.error({ err, job: job.name }, "background job failed to start");
      }
    }
  }

  private async stopJobs(): Promise<void> {
    for (const s of this.stops.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        this.o.log.error({ err, job: s.name }, "background job failed to stop");
      }
    }
    this.stops = [];
  }

  /** This process's view of the lease. */
  status(): LeaseStatus {
    const row = this.o.exclusive ? undefined : getLease(this.o.db, LEASE);
    return {
      held: this.held,
      jobs: this.stops.map((s) => s.name),
      holder:
        row && row.expires_at > Date.now()
          ? { host: row.host, pid: row.pid, since: row.acquired_at, expires_at: row.expires_at }
          : this.o.exclusive
            ? { host: SELF.host, pid: SELF.pid, since: 0, expires_at: Number.MAX_SAFE_INTEGER }
            : null,
    };
  }

  /** Stops the jobs and gives the lease up (so another process takes over at once). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.held = false;
    await this.transition;
    await this.stopJobs();
    if (!this.o.exclusive && this.o.db.open) releaseLease(this.o.db, LEASE, this.holder);
  }
}
