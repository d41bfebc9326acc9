/**
 * Where a replay's wall time goes, by tick kind (issue 15, src/bench/replay.ts "where 1 d goes"):
 * the ticks whose cycle sent no order against those that sent some, and what each order added.
 */

/** The split of a run's ticks (wall ms). */
export interface TickSplit {
  /** Median wall ms of the ticks whose cycle sent no order (NaN when every tick sent one). */
  no_order_median_ms: number;
  /** Ticks whose cycle sent at least one order. */
  order_ticks: number;
  /** Orders those ticks sent. */
  orders: number;
  /**
   * Wall ms each order added to its tick: Σ over the ticks with orders of (tick − the no-order
   * median) ÷ their orders. NaN when no tick sent an order.
   */
  ms_per_order: number;
}

/**
 * Orders per cycle id from client order ids (the cycle's are `<cycle id>:<symbol>:<slice>:<side>`,
 * src/engine/cycle.ts); ids without a `:` are not a cycle's and are left out.
 */
export function ordersPerCycle(clientOrderIds: Iterable<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of clientOrderIds) {
    const end = id.indexOf(":");
    if (end <= 0) continue;
    const cycle = id.slice(0, end);
    out.set(cycle, (out.get(cycle) ?? 0) + 1);
  }
  return out;
}

/**
 * Splits ticks `first`… of `tickMs` (wall ms each) by the orders `ordersAt(i)` says tick i sent.
 * @throws RangeError when `first` is outside the ticks.
 */
export function tickSplit(tickMs: readonly number[], ordersAt: (i: number) => number, first = 0): TickSplit {
  if (!Number.isInteger(first) || first < 0 || first > tickMs.length)
    throw new RangeError(`first tick ${first} is outside the ${tickMs.length} ticks`);
  const quiet: number[] = [];
  const busy: Array<{ ms: number; orders: number }> = [];
  for (let i = first; i < tickMs.length; i++) {
    const orders = ordersAt(i);
    if (orders === 0) quiet.push(tickMs[i]);
    else busy.push({ ms: tickMs[i], orders });
  }
  quiet.sort((a, b) => a - b);
  const median = quiet.length > 0 ? quiet[Math.floor(quiet.length / 2)] : Number.NaN;
  const orders = busy.reduce((n, b) => n + b.orders, 0);
  const extra = busy.reduce((n, b) => n + (b.ms - median), 0);
  return {
    no_order_median_ms: median,
    order_ticks: busy.length,
    orders,
    ms_per_order: orders > 0 ? extra / orders : Number.NaN,
  };
}
