import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";

/**
 * Weight-based rate limiting (DESIGN.md §3 step 4). One {@link WeightLimiter} per venue (exchange
 * weight) and per caller (tool budget).
 *
 * Guarantee: the total weight recorded in ANY window of `windowMs` never exceeds `budget`. A plain
 * token bucket refilled continuously can spend 2× its budget inside one window (a full bucket, then
 * the refill), which a venue such as Hyperliquid (1200 weight per minute per IP) would punish, so
 * this is a sliding-window log: every accepted request is stored as (time, weight) until it leaves
 * the window.
 */

/** Options of a {@link WeightLimiter}. */
export interface WeightLimiterOptions {
  /** Maximum total weight in any window (e.g. 1200 for Hyperliquid REST). */
  budget: number;
  /** Window length in ms (60_000 for "per minute"). */
  windowMs: number;
  /** Time source (SimClock in tests). */
  clock: Clock;
  /** How `acquire` waits; default a real timer. Tests pass one that advances a SimClock. */
  sleep?: (ms: number) => Promise<void>;
}

/** Result of {@link WeightLimiter.check}. `retryAfterMs` is the wait until `weight` fits. */
export type LimitCheck = { ok: true } | { ok: false; retryAfterMs: number };

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sliding-window-log limiter over request weight. Not shared across processes. */
export class WeightLimiter {
  readonly budget: number;
  readonly windowMs: number;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Accepted requests, oldest first: [time ms UTC, weight]. */
  private readonly log: Array<[number, number]> = [];
  private used = 0;

  constructor(opts: WeightLimiterOptions) {
    if (!(opts.budget > 0) || !(opts.windowMs > 0)) throw new RangeError("budget and windowMs must be > 0");
    this.budget = opts.budget;
    this.windowMs = opts.windowMs;
    this.clock = opts.clock;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Drops entries that left the window (an entry at t counts while now < t + windowMs). */
  private prune(now: number): void {
    while (this.log.length > 0 && this.log[0][0] + this.windowMs <= now) {
      this.used -= this.log[0][1];
      this.log.shift();
    }
  }

  /** Weight used in the window ending now. */
  usedWeight(): number {
    this.prune(this.clock.now());
    return this.used;
  }

  /**
   * Whether `weight` fits now. When it does not, `retryAfterMs` is the time until enough old
   * entries leave the window. A weight above the whole budget can never fit: retryAfterMs is the
   * window length and {@link acquire} refuses it at once.
   */
  check(weight: number): LimitCheck {
    const now = this.clock.now();
    this.prune(now);
    if (this.used + weight <= this.budget) return { ok: true };
    if (weight > this.budget) return { ok: false, retryAfterMs: this.windowMs };
    let freed = 0;
    const need = this.used + weight - this.budget;
    for (const [t, w] of this.log) {
      freed += w;
      if (freed >= need) return { ok: false, retryAfterMs: Math.max(1, t + this.windowMs - now) };
    }
    return { ok: false, retryAfterMs: this.windowMs };
  }

  /** Records `weight` at the current time (no check; call {@link check} first or use {@link acquire}). */
  take(weight: number): void {
    if (weight <= 0) return;
    this.log.push([this.clock.now(), weight]);
    this.used += weight;
  }

  /**
   * Waits (via `sleep`) until `weight` fits, then records it. Gives up when the total wait would
   * exceed `maxWaitMs`.
   * @throws TwError RATE_LIMITED (retryable) with `details.retry_after_ms` when it cannot fit in time.
   */
  async acquire(weight: number, maxWaitMs: number): Promise<void> {
    let waited = 0;
    for (;;) {
      const c = this.check(weight);
      if (c.ok) {
        this.take(weight);
        return;
      }
      if (weight > this.budget || waited + c.retryAfterMs > maxWaitMs) {
        throw new TwError("RATE_LIMITED", `Rate limit reached; retry in ${c.retryAfterMs} ms.`, {
          hint: "Wait retry_after_ms, or ask for less data per call.",
          details: { retry_after_ms: c.retryAfterMs, budget: this.budget, window_ms: this.windowMs },
        });
      }
      await this.sleep(c.retryAfterMs);
      waited += c.retryAfterMs;
    }
  }
}

/** Hyperliquid REST budget: 1200 weight per minute per IP (Hyperliquid docs, "Rate limits and user limits"). */
export const HL_BUDGET_PER_MIN = 1200;

const HL_WEIGHT_2 = new Set([
  "l2Book",
  "allMids",
  "clearinghouseState",
  "orderStatus",
  "spotClearinghouseState",
  "exchangeStatus",
]);
const HL_PER_20_ITEMS = new Set([
  "recentTrades",
  "historicalOrders",
  "userFills",
  "userFillsByTime",
  "fundingHistory",
  "userFunding",
  "nonUserFundingUpdates",
  "twapHistory",
  "userTwapSliceFills",
  "userTwapSliceFillsByTime",
  "delegatorHistory",
  "delegatorRewards",
  "validatorStats",
]);

/**
 * Base weight of a Hyperliquid `/info` request, charged before sending (Hyperliquid docs "Rate
 * limits and user limits"): 2 for l2Book, allMids, clearinghouseState, orderStatus,
 * spotClearinghouseState, exchangeStatus; 60 for userRole; 20 for every other info type.
 */
export function hlInfoWeight(type: string): number {
  if (HL_WEIGHT_2.has(type)) return 2;
  if (type === "userRole") return 60;
  return 20;
}

/**
 * Extra weight of a Hyperliquid `/info` response, charged after it arrives (same source):
 * candleSnapshot adds 1 per 60 items returned; the time-range endpoints (fundingHistory, userFills,
 * userFunding, ...) add 1 per 20 items. We charge `floor(items / per)`, the documented reading.
 */
export function hlInfoExtraWeight(type: string, items: number): number {
  if (type === "candleSnapshot") return Math.floor(items / 60);
  if (HL_PER_20_ITEMS.has(type)) return Math.floor(items / 20);
  return 0;
}

/** Weight of a Hyperliquid `/exchange` action: `1 + floor(batchLength / 40)` (same source). */
export function hlExchangeWeight(batchLength: number): number {
  return 1 + Math.floor(Math.max(0, batchLength) / 40);
}

/** Per-venue limiter registry (one per venue id, created on first use). */
export class LimiterRegistry {
  private readonly map = new Map<string, WeightLimiter>();

  constructor(private readonly make: (venue: string) => WeightLimiterOptions) {}

  /** The limiter of a venue id (`hyperliquid`, `ccxt:okx`, ...), created on first use. */
  for(venue: string): WeightLimiter {
    let l = this.map.get(venue);
    if (!l) {
      l = new WeightLimiter(this.make(venue));
      this.map.set(venue, l);
    }
    return l;
  }
}
