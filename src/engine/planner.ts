import { Decimal } from "decimal.js";
import { breaches, type PortfolioLimits } from "./limits.js";
import type { ExecutionPlan, PlannedSlice, Weights } from "./types.js";

/**
 * Stage 4 of the minute cycle: turn approved weights into child orders (DESIGN.md §5).
 *
 *   Δw_s   = approved_s − current_s
 *   qty_s  = Δw_s × equity / mid_s, rounded toward zero to the lot size
 *
 * Quantities and prices are exact: whole lots of 10^-k in integers where doubles provably give the
 * same answer, decimal.js everywhere else (`fastChange`, `decimalChange`); the slices' quantities
 * and limit prices are decimal strings. Weights (Δw, the book checked against the limits) are doubles.
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

/** A change's exact quantities (coins), built for the changes that trade (see {@link exactOf}). */
interface Exact {
  cur: Decimal;
  targetQty: Decimal;
  delta: Decimal;
}

/** One symbol's change before slicing. */
interface Change {
  symbol: string;
  m: PlanMarket;
  /** Current position (coins). */
  pos: number;
  /** The lot-rounded target (coins), as the double nearest its exact decimal value. */
  tq: number;
  /** Exact quantities: set by the decimal path, built on demand for a change the fast path kept. */
  exact: Exact | null;
  /**
   * The change as a weight: (the double nearest the exact change in coins) × mid / equity, in
   * doubles (a weight, not an amount sent to a venue). For a change below the lot size, the change
   * of the unrounded target.
   */
  deltaW: number;
  /** Why the change is not traded; `band` can be overridden to keep the book inside the limits. */
  skip: { reason: string; band: boolean } | null;
}

/** Weights of the book if every non-skipped change executes (position × mid / equity, doubles). */
function bookAfter(changes: Change[], equity: number): Weights {
  const w: Weights = {};
  for (const c of changes) w[c.symbol] = ((c.skip ? c.pos : c.tq) * c.m.mid) / equity;
  return w;
}

function exactOf(c: Change): Exact {
  if (c.exact === null) {
    // The fast path kept |target| below 10^15 lots of 10^-k: at most 15 significant digits, so the
    // double's shortest decimal form is the exact lot-rounded target.
    const cur = new Decimal(c.pos);
    const targetQty = new Decimal(c.tq);
    c.exact = { cur, targetQty, delta: targetQty.minus(cur) };
  }
  return c.exact;
}

/**
 * |target| < |position|. A fast-path target (≤ 15 significant digits) is the shortest form of its
 * double, so comparing the doubles gives the exact answer; a decimal-path one is compared exactly.
 */
function shrinks(c: Change): boolean {
  if (c.exact) return c.exact.targetQty.abs().lessThan(c.exact.cur.abs());
  return Math.abs(c.tq) < Math.abs(c.pos);
}

/**
 * Relative distance within which a double computation is not trusted to decide a rounding or a
 * comparison the way exact decimal arithmetic would. The doubles here are within ≈ 7 × 10^-16
 * (relative) of the decimals they stand for (three inputs, each within half an ulp of its shortest
 * decimal form, and three roundings), the decimal path's own 20-digit rounding within 10^-19: 10^-12
 * leaves a margin of over a thousand. Inside it, the decimal path decides.
 */
const NEAR = 1e-12;

/**
 * The change of one symbol in scaled integers (lots of 10^-k), when that gives exactly what the
 * decimal path would: the target rounded toward zero (`Math.trunc` of qty × 10^k, trusted only away
 * from an integer), the change as a whole number of lots from a position on the lot grid, the
 * minimum notional trusted only away from the threshold. Null sends the symbol to the decimal path:
 * a lot that is not a power of ten, 10^15 lots or more, a position off the lot grid, no change, or a
 * value within {@link NEAR} of a rounding or threshold. Issue 15: decimal.js was most of the
 * planner's time, itself ≈ 10 % of a replay tick.
 */
function fastChange(symbol: string, m: PlanMarket, w: number, pos: number, p: PlanInput): Change | null {
  const st = stepOf(m.lot);
  if (st.places === null) return null;
  const scale = 10 ** st.places;
  const x = ((w * p.equity) / m.mid) * scale;
  const n = Math.trunc(x);
  if (!(Math.abs(n) < 1e15) || Math.abs(x - Math.round(x)) <= NEAR * Math.max(1, Math.abs(x))) return null;
  // The position in lots; on the grid exactly when that many lots is the position's own double.
  const held = Math.round(pos * scale);
  if (!(Math.abs(held) < 1e15) || held / scale !== pos) return null;
  const lots = n - held;
  if (lots === 0) return null;
  // A whole number of lots over a power of ten: the double nearest the exact change.
  const delta = lots / scale;
  const notional = Math.abs(delta) * m.mid;
  if (Math.abs(notional - m.minNotional) <= NEAR * Math.max(1, m.minNotional)) return null;
  const deltaW = (delta * m.mid) / p.equity;
  const skip = tradeSkip(notional < m.minNotional, deltaW, n === 0 && pos !== 0, m, p);
  return { symbol, m, pos, tq: n / scale, exact: null, deltaW, skip };
}

/**
 * Why a change of at least one lot is not traded, decided the same way on both paths: below the
 * minimum notional, or inside the rebalance band unless it closes the whole position; null to trade.
 */
function tradeSkip(
  belowMinNotional: boolean,
  deltaW: number,
  closesPosition: boolean,
  m: PlanMarket,
  p: PlanInput,
): Change["skip"] {
  if (belowMinNotional) return { reason: `below min notional ${m.minNotional}`, band: false };
  if (Math.abs(deltaW) < (p.minTradeWeight ?? 0) && !closesPosition)
    return { reason: `inside rebalance band ${p.minTradeWeight}`, band: true };
  return null;
}

/** The change of one symbol in exact decimals (the rule in the module comment); null when none. */
function decimalChange(symbol: string, m: PlanMarket, w: number, pos: number, p: PlanInput): Change | null {
  const cur = new Decimal(pos);
  const rawQty = new Decimal(w).times(p.equity).dividedBy(m.mid);
  const targetQty = roundToStep(rawQty, m.lot, Decimal.ROUND_DOWN);
  const delta = targetQty.minus(cur);
  let deltaW = (delta.toNumber() * m.mid) / p.equity;
  let skip: Change["skip"];
  if (delta.isZero()) {
    const below = rawQty.minus(cur);
    if (below.isZero()) return null;
    deltaW = (below.toNumber() * m.mid) / p.equity;
    skip = { reason: `change below lot size ${m.lot}`, band: false };
  } else {
    const belowMin = delta.abs().times(m.mid).lessThan(m.minNotional);
    skip = tradeSkip(belowMin, deltaW, targetQty.isZero() && !cur.isZero(), m, p);
  }
  return { symbol, m, pos, tq: targetQty.toNumber(), exact: { cur, targetQty, delta }, deltaW, skip };
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
    const w = p.approved[symbol];
    const pos = p.positions[symbol] ?? 0;
    const c = fastChange(symbol, m, w, pos, p) ?? decimalChange(symbol, m, w, pos, p);
    if (c) changes.push(c);
  }
  if (p.limits) {
    const tol = lotTolerance(p.markets, p.equity);
    const banded = changes.filter((c) => c.skip?.band);
    const outside = () => breaches(bookAfter(changes, p.equity), p.limits!, tol).length > 0;
    if (banded.length > 0 && outside()) {
      for (const c of banded) if (shrinks(c)) c.skip = null;
      if (outside()) for (const c of banded) c.skip = null;
    }
  }
  for (const c of changes) {
    const { symbol, m, deltaW } = c;
    if (c.skip) {
      skipped.push({ symbol, reason: c.skip.reason, delta_weight: deltaW });
      continue;
    }
    const { cur, delta } = exactOf(c);
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
