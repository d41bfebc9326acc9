import { randomBytes } from "node:crypto";
import { E_TIMEOUT, Mutex, withTimeout, type MutexInterface } from "async-mutex";
import { TwError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Db } from "../store/db.js";
import { releaseLease, renewLease, SELF, tryAcquireLease } from "../store/leases.js";

/**
 * Execution lanes (DESIGN.md §10): one serial lane per venue account. Every order-affecting
 * operation — submit, cancel, the cycle's slices, flatten, guard exits — holds its account's lane
 * from its policy checks through the reservation, the venue call and the record of the outcome, so
 * no two checks ever see the same headroom (the first call's order is recorded, or filled, before
 * the second call looks).
 *
 * Within a process the lane is a FIFO async mutex. Across processes sharing one home it is also a
 * lease row `lane:<venue>` in SQLite (src/store/leases.ts), taken in a short BEGIN IMMEDIATE
 * transaction and renewed while held. The lease spans the venue's account read and the order call
 * because, on a live venue, the account state the risk check reads is remote: a transaction alone
 * could not make it consistent with another process's in-flight order.
 */

/** A held lane; `release` is idempotent. */
export interface LaneHold {
  readonly key: string;
  release(): void;
}

/** Options of {@link ExecutionLanes}. */
export interface LaneOptions {
  db: Db;
  log: Logger;
  /**
   * Also lock across processes (the default). Off only for a database no other process opens
   * (a replay's own file), where the in-process mutex is the whole story.
   */
  crossProcess?: boolean;
  /** Lease TTL, renewed every third of it while held (ms). Default 30 000: longer than a venue timeout. */
  ttlMs?: number;
  /** Longest wait for a busy lane before BUSY (ms). Default 60 000. */
  maxWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lanes of one process. */
export class ExecutionLanes {
  private readonly mutexes = new Map<string, MutexInterface>();
  private readonly holder = `${SELF.host}:${SELF.pid}:${randomBytes(4).toString("hex")}`;
  private readonly ttlMs: number;
  private readonly maxWaitMs: number;
  private readonly renewals = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly o: LaneOptions) {
    this.ttlMs = o.ttlMs ?? 30_000;
    this.maxWaitMs = o.maxWaitMs ?? 60_000;
  }

  private mutex(key: string): MutexInterface {
    let m = this.mutexes.get(key);
    if (!m) {
      m = withTimeout(new Mutex(), this.maxWaitMs, busy(key, this.maxWaitMs));
      this.mutexes.set(key, m);
    }
    return m;
  }

  /**
   * Waits for the lane of `key` (e.g. `paper`, `hyperliquid:testnet`) and holds it.
   * @throws TwError BUSY (retryable) when the lane stays busy longer than `maxWaitMs`.
   */
  async acquire(key: string): Promise<LaneHold> {
    const t0 = Date.now();
    let unlock: MutexInterface.Releaser;
    try {
      unlock = await this.mutex(key).acquire();
    } catch (e) {
      if (e === E_TIMEOUT || e instanceof TwError) throw busy(key, this.maxWaitMs);
      throw e;
    }
    let renew: NodeJS.Timeout | undefined;
    const name = `lane:${key}`;
    if (this.o.crossProcess !== false) {
      try {
        await this.lockAcrossProcesses(name, t0);
      } catch (e) {
        unlock();
        throw e;
      }
      renew = setInterval(() => {
        try {
          if (!renewLease(this.o.db, name, this.holder, this.ttlMs))
            this.o.log.error({ lane: key }, "execution lane lease lost while held");
        } catch (err) {
          this.o.log.warn({ err, lane: key }, "execution lane lease renewal failed; retrying");
        }
      }, this.ttlMs / 3);
      renew.unref();
      this.renewals.add(renew);
    }
    let released = false;
    return {
      key,
      release: () => {
        if (released) return;
        released = true;
        if (renew) {
          clearInterval(renew);
          this.renewals.delete(renew);
        }
        try {
          if (this.o.crossProcess !== false && !this.closed) releaseLease(this.o.db, name, this.holder);
        } finally {
          unlock();
        }
      },
    };
  }

  /**
   * Ends every hold of this process (it is shutting down): stops renewals and deletes its lane
   * leases, so other processes need not wait for them to expire. Call before closing the database.
   */
  close(): void {
    this.closed = true;
    for (const t of this.renewals) clearInterval(t);
    this.renewals.clear();
    if (this.o.crossProcess !== false && this.o.db.open)
      this.o.db.prepare("DELETE FROM leases WHERE holder = ?").run(this.holder);
  }

  /** Runs `fn` holding the lane of `key`. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const hold = await this.acquire(key);
    try {
      return await fn();
    } finally {
      hold.release();
    }
  }

  private async lockAcrossProcesses(name: string, t0: number): Promise<void> {
    let pause = 2;
    for (;;) {
      if (tryAcquireLease(this.o.db, name, this.holder, this.ttlMs)) return;
      if (Date.now() - t0 > this.maxWaitMs) throw busy(name.slice(5), this.maxWaitMs);
      await sleep(pause);
      pause = Math.min(50, pause * 2);
    }
  }
}

function busy(key: string, waited: number): TwError {
  return new TwError(
    "BUSY",
    `The execution lane of ${key} stayed busy for ${Math.round(waited / 1000)} s; nothing was sent.`,
    {
      hint: "Another order on this account is still in flight (or its venue is slow). Retry with the same key.",
      details: { lane: key, waited_ms: waited },
    },
  );
}
