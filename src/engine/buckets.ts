import type { Db } from "../store/db.js";
import { getMeta, setMeta } from "../store/meta.js";

/**
 * Token buckets of the minute cycle (issue 13), persisted in `meta` so a restart keeps what was
 * spent: a bucket holds at most `capacity` tokens and refills continuously at `ratePerMs`.
 * - orders / cancels: `cycle.maxOrdersPerMinute` / `cycle.maxCancelsPerMinute` (capacity = the
 *   per-minute budget, refilled over a minute). An empty bucket skips the slice (audited
 *   `rate_limited`); risk-reducing sends (close-first slices, limit corrections, sweeps) go anyway
 *   and may take the bucket below zero, which delays the next increases.
 * - notional pace: the rolling-24h notional budget `max_daily_notional` refilled at
 *   `max_daily_notional / 24 h`, banking at most `cycle.budgetPaceMinutes` of it, so the cycle
 *   spreads its spend over the window instead of exhausting it in a few hours.
 */
export class TokenBucket {
  private constructor(
    private readonly key: string,
    readonly capacity: number,
    readonly ratePerMs: number,
    private tokens: number,
    private at: number,
  ) {}

  /**
   * Loads the bucket stored under `key` (full when none is stored), refilled to `now` (ms UTC).
   * Capacity and rate may change between loads (an operator changed a limit); tokens are capped.
   */
  static load(db: Db, key: string, capacity: number, ratePerMs: number, now: number): TokenBucket {
    const s = getMeta<{ tokens: number; at: number }>(db, key);
    const b = new TokenBucket(key, capacity, ratePerMs, s?.tokens ?? capacity, s?.at ?? now);
    b.refill(now);
    return b;
  }

  /** A bucket of `perMinute` tokens refilled over a minute (the order and cancel budgets). */
  static perMinute(db: Db, key: string, perMinute: number, now: number): TokenBucket {
    return TokenBucket.load(db, key, perMinute, perMinute / 60_000, now);
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.ratePerMs);
      this.at = now;
    }
    this.tokens = Math.min(this.capacity, this.tokens);
  }

  /** Tokens available at `now` (may be negative after forced spends). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Takes `n` tokens when available; false (nothing taken) otherwise. */
  take(n: number, now: number): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Takes `n` tokens even below zero (risk-reducing sends). */
  force(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  /** Persists the state. */
  save(db: Db): void {
    setMeta(db, this.key, { tokens: this.tokens, at: this.at });
  }
}
