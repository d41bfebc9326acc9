/**
 * Time source for everything time-dependent (DESIGN.md §5): the wall clock in `serve`, a simulated
 * clock in replay, backtests and evals. All times are epoch milliseconds UTC.
 */
export interface Clock {
  /** Current time, ms UTC. */
  now(): number;
}

/** The real wall clock. */
export const wallClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to. Used for replay and deterministic tests: nothing after
 * `now()` is ever visible to a market-data source reading this clock.
 */
export class SimClock implements Clock {
  private t: number;

  /** @param startMs initial time, ms UTC. */
  constructor(startMs: number) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  /** Sets the time. Throws RangeError when moving backwards: simulated time never rewinds. */
  set(ms: number): void {
    if (ms < this.t) throw new RangeError(`SimClock cannot move backwards (${ms} < ${this.t})`);
    this.t = ms;
  }

  /** Advances by `ms` milliseconds (≥ 0). */
  advance(ms: number): void {
    this.set(this.t + ms);
  }
}

/**
 * The replay clock of `serve` over replay data: a simulated time that moves with wall time ×
 * `speed` (TW_REPLAY_SPEED; 1 = real time, 60 = one 1m bar per wall second), whether or not the
 * cycle runs, so a replay source behaves like a market. Its start (TW_REPLAY_START, or a default
 * computed from the data) is resolved on the first `now()`, so commands that never read market
 * data never load the files to find it. Never moves backwards.
 */
export class ReplayClock implements Clock {
  private origin: { replay: number; wall: number } | null = null;

  /**
   * @param speed replay ms per wall ms (> 0).
   * @param startAt the replay start, ms UTC, called once on the first `now()`; may be supplied
   *   later with {@link startFrom} (the app creates its clock before the data source exists).
   * @param wall the wall clock (tests pass a fake).
   */
  constructor(
    readonly speed: number,
    private startAt: (() => number) | null = null,
    private readonly wall: () => number = Date.now,
  ) {
    if (!(speed > 0)) throw new RangeError(`replay speed must be > 0, got ${speed}`);
  }

  /** Whether the clock has been read (and so has its start). */
  get started(): boolean {
    return this.origin !== null;
  }

  /** Supplies the start (see the constructor). No effect once the clock has started. */
  startFrom(startAt: () => number): void {
    if (!this.origin) this.startAt = startAt;
  }

  /** @throws Error when read before a start was supplied. */
  now(): number {
    if (!this.origin) {
      if (!this.startAt) throw new Error("the replay clock was read before its start was known");
      this.origin = { replay: this.startAt(), wall: this.wall() };
    }
    return Math.floor(this.origin.replay + (this.wall() - this.origin.wall) * this.speed);
  }

  /** Wall milliseconds until this clock reaches `t` (ms UTC, replay time); 0 when it has. */
  wallMsUntil(t: number): number {
    return Math.max(0, Math.ceil((t - this.now()) / this.speed));
  }
}

/**
 * Waits until `clock` reads at least `t` (ms UTC): sets a {@link SimClock}, sleeps the scaled wall
 * time on a {@link ReplayClock}, sleeps on the wall clock. Resolves early (false) when `signal` aborts.
 */
export async function waitUntil(clock: Clock, t: number, signal?: AbortSignal): Promise<boolean> {
  if (clock instanceof SimClock) {
    if (t > clock.now()) clock.set(t);
    return true;
  }
  const ms = clock instanceof ReplayClock ? clock.wallMsUntil(t) : t - clock.now();
  if (ms <= 0) return !signal?.aborted;
  return new Promise<boolean>((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
