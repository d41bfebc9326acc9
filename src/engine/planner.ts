import { Decimal } from "decimal.js";
import { breaches, type PortfolioLimits } from "./limits.js";
import type { ExecutionPlan, PlannedSlice, Weights } from "./types.js";

/**
 * Stage 4 of the minute cycle: turn approved weights into child orders (DESIGN.md §5).
 *
 *   Δw_s   = approved_s − current_s
 *   qty_s  = Δw_s × equity / mid_s, rounded toward zero to the lot size (decimal.js)
 *
 * Close-first: the part of a change that reduces the current position (down to zero) is one
 * reduce-only slice per symbol, due immediately, and every such slice precedes every increasing
 * slice in the plan. The increasing part (including the new side of a flip) is split into
 * `twapSlices` TWAP slices due `twapIntervalMs` apart from the cycle start. Each slice carries a
 * price guard: limit = mid × (1 ± guardBps/10⁴) rounded to the tick (buy up, sell down, i.e. never
 * worse than the guard), and the deterministic client order id `cycle_id:symbol:slice:side`.
 * Changes below the minimum notional, the lot size or the rebalance band (`minTradeWeight`, except a
 * full close) are skipped (listed in `skipped`); a reducing slice below the minimum notional goes
 * when it closes the whole position (dust stays closable).
 */

/** Precision and price data per symbol. */
export interface PlanMarket {
  mid: number;
  /** Lot size in coins (e.g. 0.001). */
  lot: number;
  /** Tick size in quote; null = no rounding beyond 8 decimals. */
  tick: number | null;
  /** Minimum order notional in quote (0 = none). */
  minNotional: number;
}

/** Input of {@link planExecution}. */
export interface PlanInput {
  cycleId: string;
  /** Cycle start, ms UTC. */
  now: number;
  equity: number;
  approved: Weights;
  /** Current position sizes in coins (signed). */
  positions: Record<string, number>;
  markets: Record<string, PlanMarket>;
  twapSlices: number;
  twapIntervalMs: number;
  guardBps: number;
  /** Rebalance band: |Δw| below this is not traded (default 0). */
  minTradeWeight?: number;
  /** Portfolio limits the resulting book must respect (the band yields to them); none = no check. */
  limits?: PortfolioLimits;
}

function roundToStep(x: Decimal, step: number, mode: Decimal.Rounding): Decimal {
  const st = stepOf(step);
  // A step of 10^-k rounds to k decimal places: the same value as dividing by the step, rounding to
  // an integer and multiplying back (each exact at 20 digits, the quotient having x's digits),
  // without the division (issue 15: lot and tick sizes are powers of ten on every venue we read).
  if (st.places !== null) return x.toDecimalPlaces(st.places, mode);
  return x.dividedBy(st.d).toDecimalPlaces(0, mode).times(st.d);
}

/** A lot or tick size as a Decimal, and k when it is exactly 10^-k (k ≥ 0), else null. */
interface Step {
  d: Decimal;
  places: number | null;
}

// Lot and tick sizes are a handful of values asked for every symbol every cycle: their Decimal is
// built once (the same value, so the same results; issue 15).
const steps = new Map<number, Step>();
function stepOf(step: number): Step {
  let st = steps.get(step);
  if (st === undefined) {
    const d = new Decimal(step);
    const k = d.decimalPlaces();
    st = { d, places: d.times(new Decimal(10).pow(k)).equals(1) ? k : null };
    steps.set(step, st);
  }
  return st;
}

/**
 * Price guard of a slice: `mid × (1 ± guardBps/10⁴)` rounded to the tick against the trader (buy
 * down, sell up), so the limit is never worse than the guard. Decimal string.
 */
export function guardPrice(side: "buy" | "sell", mid: number, guardBps: number, tick: number | null): string {
  const raw = new Decimal(mid).times(side === "buy" ? 1 + guardBps / 10_000 : 1 - guardBps / 10_000);
  const px = tick
    ? roundToStep(raw, tick, side === "buy" ? Decimal.ROUND_DOWN : Decimal.ROUND_UP)
    : raw.toDecimalPlaces(8);
  return px.toFixed();
}

/** One symbol's change before slicing. */
interface Change {
  symbol: string;
  m: PlanMarket;
  cur: Decimal;
  targetQty: Decimal;
  delta: Decimal;
  deltaW: number;
  /** Why the change is not traded; `band` can be overridden to keep the book inside the limits. */
  skip: { reason: string; band: boolean } | null;
  /** Weight of the book in this coin when skipped / when traded, computed on first use. */
  wSkip?: number;
  wTrade?: number;
}

/** Weights of the book if every non-skipped change executes (position × mid / equity). */
function bookAfter(changes: Change[], equity: number): Weights {
  const w: Weights = {};
  // The band check asks up to three times with only some `skip`s changed: each weight is worked out
  // once per state.
  for (const c of changes) {
    if (c.skip) w[c.symbol] = c.wSkip ??= c.cur.times(c.m.mid).dividedBy(equity).toNumber();
    else w[c.symbol] = c.wTrade ??= c.targetQty.times(c.m.mid).dividedBy(equity).toNumber();
  }
  return w;
}

/** One lot of every symbol, as a weight: the rounding the book may be off the approved vector by. */
export function lotTolerance(markets: Record<string, PlanMarket>, equity: number): number {
  return Object.values(markets).reduce((a, m) => a + (m.lot * m.mid) / equity, 0);
}

/**
 * Builds the plan. Pure; throws RangeError on a non-positive equity or mid. With `limits`, the
 * rebalance band never leaves the book outside a limit: when skipping the changes inside the band would
 * leave the resulting book outside a cap, gross or net (beyond one lot), the skipped changes that
 * shrink a position are traded, then — if that is not enough — every skipped change.
 */
export function planExecution(p: PlanInput): ExecutionPlan {
  if (!(p.equity > 0)) throw new RangeError(`equity must be positive, got ${p.equity}`);
  const reducing: PlannedSlice[] = [];
  const increasing: PlannedSlice[] = [];
  const skipped: ExecutionPlan["skipped"] = [];
  const changes: Change[] = [];
  for (const symbol of Object.keys(p.approved).sort()) {
    const m = p.markets[symbol];
    if (!m) {
      skipped.push({ symbol, reason: "no market data", delta_weight: p.approved[symbol] });
      continue;
    }
    if (!(m.mid > 0)) throw new RangeError(`mid of ${symbol} must be positive, got ${m.mid}`);
    // No weight and no position (and a real lot): the decimal path below would reach `continue` with
    // every quantity zero; most symbols of a quiet book are here every cycle.
    if (p.approved[symbol] === 0 && (p.positions[symbol] ?? 0) === 0 && m.lot > 0) continue;
    const cur = new Decimal(p.positions[symbol] ?? 0);
    const rawQty = new Decimal(p.approved[symbol]).times(p.equity).dividedBy(m.mid);
    const targetQty = roundToStep(rawQty, m.lot, Decimal.ROUND_DOWN);
    const delta = targetQty.minus(cur);
    let deltaW = delta.times(m.mid).dividedBy(p.equity).toNumber();
    let skip: Change["skip"] = null;
    if (delta.isZero()) {
      if (rawQty.minus(cur).isZero()) continue;
      deltaW = rawQty.minus(cur).times(m.mid).dividedBy(p.equity).toNumber();
      skip = { reason: `change below lot size ${m.lot}`, band: false };
    } else if (delta.abs().times(m.mid).lessThan(m.minNotional)) {
      skip = { reason: `below min notional ${m.minNotional}`, band: false };
    } else if (Math.abs(deltaW) < (p.minTradeWeight ?? 0) && !(targetQty.isZero() && !cur.isZero())) {
      skip = { reason: `inside rebalance band ${p.minTradeWeight}`, band: true };
    }
    changes.push({ symbol, m, cur, targetQty, delta, deltaW, skip });
  }
  if (p.limits) {
    const tol = lotTolerance(p.markets, p.equity);
    const banded = changes.filter((c) => c.skip?.band);
    const outside = () => breaches(bookAfter(changes, p.equity), p.limits!, tol).length > 0;
    if (banded.length > 0 && outside()) {
      for (const c of banded) if (c.targetQty.abs().lessThan(c.cur.abs())) c.skip = null;
      if (outside()) for (const c of banded) c.skip = null;
    }
  }
  for (const c of changes) {
    const { symbol, m, cur, delta, deltaW } = c;
    if (c.skip) {
      skipped.push({ symbol, reason: c.skip.reason, delta_weight: deltaW });
      continue;
    }
    const side: "buy" | "sell" = delta.isPositive() ? "buy" : "sell";
    // Reducing part: towards zero, at most the current position.
    let reduce = new Decimal(0);
    if (!cur.isZero() && cur.isPositive() !== delta.isPositive())
      reduce = Decimal.min(delta.abs(), cur.abs());
    const increase = delta.abs().minus(reduce);
    const px = guardPrice(side, m.mid, p.guardBps, m.tick);
    if (reduce.greaterThan(0)) {
      if (reduce.times(m.mid).lessThan(m.minNotional) && !reduce.eq(cur.abs())) {
        skipped.push({
          symbol,
          reason: `reducing slice below min notional ${m.minNotional}`,
          delta_weight: deltaW,
        });
      } else {
        reducing.push({
          client_order_id: `${p.cycleId}:${symbol}:0:${side}`,
          symbol,
          side,
          qty: reduce.toFixed(),
          reduce_only: true,
          slice: 0,
          due_at: p.now,
          limit_px: px,
        });
      }
    }
    if (increase.greaterThan(0)) {
      // Fewer slices when splitting would put a slice below the minimum notional.
      const fit =
        m.minNotional > 0 ? increase.times(m.mid).dividedBy(m.minNotional).floor().toNumber() : p.twapSlices;
      let n = Math.min(Math.max(1, p.twapSlices), fit);
      while (
        n > 1 &&
        roundToStep(increase.dividedBy(n), m.lot, Decimal.ROUND_DOWN).times(m.mid).lessThan(m.minNotional)
      )
        n--;
      if (n < 1) {
        skipped.push({
          symbol,
          reason: `increase below min notional ${m.minNotional}`,
          delta_weight: deltaW,
        });
        continue;
      }
      const each = roundToStep(increase.dividedBy(n), m.lot, Decimal.ROUND_DOWN);
      let left = increase;
      for (let k = 0; k < n && left.greaterThan(0); k++) {
        const q = k === n - 1 || each.isZero() ? left : each;
        left = left.minus(q);
        // Slice numbers of increasing slices start at 1 so ids never collide with the reduce slice.
        increasing.push({
          client_order_id: `${p.cycleId}:${symbol}:${k + 1}:${side}`,
          symbol,
          side,
          qty: q.toFixed(),
          reduce_only: false,
          slice: k + 1,
          due_at: p.now + k * p.twapIntervalMs,
          limit_px: px,
        });
      }
    }
  }
  increasing.sort((a, b) => a.due_at - b.due_at || a.symbol.localeCompare(b.symbol));
  return { cycle_id: p.cycleId, equity: p.equity, slices: [...reducing, ...increasing], skipped };
}
