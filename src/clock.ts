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
