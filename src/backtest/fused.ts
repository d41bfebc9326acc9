import { allInQty, fee, fundingPayment, marketFillPrice } from "../exchange/fillModel.js";
import {
  C_DAYS,
  C_EQ_SUM,
  C_MDD,
  C_NEXT_DAY,
  C_PEAK,
  C_PREV,
  C_TROUGH,
  type CurveStats,
  DAY_MS,
  newCurve,
} from "./curve.js";
import type { Trade } from "./types.js";

/**
 * The engine's single-symbol hot path (one symbol, no participation cap): the general loop of
 * engine.ts with k = 1, the same operations in the same order (bit-identical results,
 * test/backtest/fused.test.ts), written so V8 optimises it early and keeps it optimised:
 * - the per-bar loop ({@link stepBars}) is small and touches only locals and typed arrays: no
 *   property access, no allocation, no object whose layout a GC could collect (V8 discards
 *   optimised code whose embedded maps die, which is what happened to the EngineRun methods between
 *   the bench's repetitions) and no object whose field representation could change under it;
 * - a rebalance (≈ 3 % of bars for a fast EMA cross) is a separate function working on the state
 *   array, so the loop's on-stack replacement compiles in a few milliseconds;
 * - closed round trips go to a growable Float64Array log; {@link Trade} objects are built from it
 *   only when read ({@link SingleRun.trades}): the metrics need only the closed PnLs, so a run whose
 *   trade records nobody reads (a grid variant, `backtest --json` without `--save`) allocates
 *   nothing per round trip, and 17 k records do not churn the young generation mid-run.
 */

// Slots of the state array: cash (quote), signed qty (coins), target held (after leverage), bars
// with a position, fees paid, net funding paid, Σ |traded notional| (quote), closed round trips, and
// the round trip in progress (entry bar, cash flow, fees, funding, entry/exit qty and value, max |qty|).
const CASH = 0;
const QTY = 1;
const HELD = 2;
const EXPOSURE = 3;
const FEES = 4;
const FUNDING = 5;
const TRADED = 6;
const N_TRADES = 7;
const T_BAR = 8;
const T_CASH = 9;
const T_FEES = 10;
const T_FUND = 11;
const T_IN_QTY = 12;
const T_IN_VAL = 13;
const T_OUT_QTY = 14;
const T_OUT_VAL = 15;
const T_MAX = 16;
const STATE_SLOTS = 17;

// One closed round trip in the log: entry bar, exit bar, long (1) or short (0), then the
// accumulators T_CASH … T_MAX in slot order.
const L_ENTRY = 0;
const L_EXIT = 1;
const L_LONG = 2;
const L_ACC = 3;
const LOG_STRIDE = 3 + (T_MAX - T_CASH + 1);

/**
 * Bars per call of the loop. A cold process (the CLI) runs the loop in V8's baseline tier until
 * TurboFan's code for it is ready; a loop that never returns can only switch through on-stack
 * replacement, a second compilation that came 20–60 ms after the first on the loaded 2-core machine.
 * Returning every few thousand bars lets the next call enter the optimised function as soon as it
 * exists; the calls cost nothing measurable.
 */
export const SLICE = 4096;

/** Inputs of a single-symbol run (arrays aligned to the frame). */
export interface SingleInputs {
  open: Float64Array;
  close: Float64Array;
  /** Funding rate summed per bar, or null without funding. */
  funding: Float64Array | null;
  /** Bar open times, ms UTC. */
  time: Float64Array;
  /** `targets[i]` is held during bar i + 1 (weight before leverage; NaN = flat). */
  targets: Float64Array;
  /** Target held during bar 0 of the frame. */
  initial: number;
  symbol: string;
  leverage: number;
  feeRate: number;
  slippage: number;
  initialEquity: number;
  /** Initial equity of the curve metrics computed on the way (curve.ts). */
  metricsInitial: number;
  /** Simulated range [start, end) of bar indices. */
  start: number;
  end: number;
}

/** What a single-symbol run returns (the fields of EngineResult it computes but the trades). */
export interface SingleResult {
  equity: Float64Array;
  /** PnL of each closed round trip in exit order, quote. */
  closedPnl: Float64Array;
  /** The metrics' curve pass against `metricsInitial`. */
  curve: CurveStats;
  feesPaid: number;
  fundingPaid: number;
  tradedNotional: number;
  exposureBars: number;
  qty: number;
}

/** A resumable single-symbol run: {@link step} simulates a chunk, {@link finish} builds the result. */
export class SingleRun {
  /** Equity at each bar close, quote (index 0 = bar `start`). */
  readonly equity: Float64Array;
  private readonly st = new Float64Array(STATE_SLOTS);
  private log = new Float64Array(64 * LOG_STRIDE);
  private readonly curve: CurveStats;

  /** `equity` receives the equity at each bar close (length end − start). */
  constructor(
    private readonly inp: SingleInputs,
    equity: Float64Array,
  ) {
    this.equity = equity;
    this.st[CASH] = inp.initialEquity;
    this.curve = newCurve(inp.metricsInitial, inp.time, inp.start, inp.end);
  }

  /** Simulates bars [from, stop). */
  step(from: number, stop: number): void {
    const p = this.inp;
    let i = from;
    while (i < stop) {
      i = stepBars(
        p.open,
        p.close,
        p.funding,
        p.targets,
        p.initial,
        p.leverage,
        p.feeRate,
        p.slippage,
        this.equity,
        p.start,
        this.st,
        this.log,
        p.time,
        p.end - 1,
        this.curve.acc,
        this.curve.daily,
        i,
        Math.min(stop, i + SLICE),
      );
      if (i < stop && this.st[N_TRADES] * LOG_STRIDE > this.log.length - LOG_STRIDE) {
        // The log is full: double it and go on from the bar not yet simulated.
        const bigger = new Float64Array(this.log.length * 2);
        bigger.set(this.log);
        this.log = bigger;
      }
    }
  }

  /** The result after every bar was stepped (round-trip records: {@link trades}). */
  finish(): SingleResult {
    const st = this.st;
    const log = this.log;
    const n = st[N_TRADES];
    const closedPnl = new Float64Array(n);
    for (let t = 0; t < n; t++) closedPnl[t] = log[t * LOG_STRIDE + L_ACC];
    return {
      equity: this.equity,
      closedPnl,
      curve: this.curve,
      feesPaid: st[FEES],
      fundingPaid: st[FUNDING],
      tradedNotional: st[TRADED],
      exposureBars: st[EXPOSURE],
      qty: st[QTY],
    };
  }

  /** Round trips after every bar was stepped: closed ones in exit order, then the open one. */
  trades(): Trade[] {
    const st = this.st;
    const log = this.log;
    const n = st[N_TRADES];
    const trades: Trade[] = [];
    for (let t = 0; t < n; t++) {
      const o = t * LOG_STRIDE;
      const a = o + L_ACC - T_CASH;
      trades.push(
        this.trade(log[o + L_LONG] === 1, log[o + L_ENTRY], log[o + L_EXIT], log[a + T_CASH], log, a, false),
      );
    }
    const q = st[QTY];
    const end = this.inp.end;
    if (q !== 0)
      trades.push(this.trade(q > 0, st[T_BAR], end, st[T_CASH] + q * this.inp.close[end - 1], st, 0, true));
    return trades;
  }

  /** A {@link Trade} from accumulators at `acc[base + T_CASH …]` (fields and formulas of engine.ts). */
  private trade(
    long: boolean,
    entryBar: number,
    exitBar: number,
    pnl: number,
    acc: Float64Array,
    base: number,
    open: boolean,
  ): Trade {
    const entry = acc[base + T_IN_VAL] / acc[base + T_IN_QTY];
    const max = acc[base + T_MAX];
    return {
      symbol: this.inp.symbol,
      side: long ? "long" : "short",
      entry_time: this.inp.time[entryBar],
      entry_price: entry,
      exit_time: open ? null : this.inp.time[exitBar],
      exit_price: open ? null : acc[base + T_OUT_VAL] / acc[base + T_OUT_QTY],
      qty: max,
      pnl,
      fees: acc[base + T_FEES],
      funding: acc[base + T_FUND],
      return: pnl / (entry * max),
      bars: exitBar - entryBar,
      open,
    };
  }
}

/**
 * The per-bar loop over [from, stop): hold `targets[i − 1] × leverage`, rebalance at the open when it
 * changed, charge funding and mark equity at the close.
 * @returns the first bar not simulated: `stop`, or earlier when the log has no room for a round trip.
 */
function stepBars(
  open: Float64Array,
  close: Float64Array,
  fund: Float64Array | null,
  targets: Float64Array,
  initial: number,
  lev: number,
  feeRate: number,
  slippage: number,
  equity: Float64Array,
  start: number,
  st: Float64Array,
  log: Float64Array,
  time: Float64Array,
  lastBar: number,
  cv: Float64Array,
  daily: Float64Array,
  from: number,
  stop: number,
): number {
  let cash = st[CASH];
  let q = st[QTY];
  let h = st[HELD];
  let exposure = st[EXPOSURE];
  // The metrics' curve pass (curve.ts curveSlice, the same steps inline).
  let prev = cv[C_PREV];
  let peak = cv[C_PEAK];
  let mdd = cv[C_MDD];
  let eqSum = cv[C_EQ_SUM];
  let nextDay = cv[C_NEXT_DAY];
  let trough = cv[C_TROUGH];
  let days = cv[C_DAYS];
  // A rebalance closes at most one round trip.
  const room = log.length - LOG_STRIDE;
  let i = from;
  for (; i < stop; i++) {
    const raw = i === 0 ? initial : targets[i - 1];
    const w = Number.isNaN(raw) ? 0 : raw * lev;
    if (w !== h) {
      if (st[N_TRADES] * LOG_STRIDE > room) break;
      st[CASH] = cash;
      st[QTY] = q;
      rebalance(st, log, i, w, open[i], feeRate, slippage);
      cash = st[CASH];
      q = st[QTY];
      h = st[HELD];
    }
    let e: number;
    if (q === 0) e = cash + 0;
    else {
      exposure++;
      const c = close[i];
      if (fund !== null) {
        const r = fund[i];
        if (r !== 0) {
          const pay = fundingPayment(q, c, r);
          cash += pay;
          st[T_CASH] += pay;
          st[T_FUND] += pay;
          st[FUNDING] -= pay;
        }
      }
      e = cash + (0 + q * c);
    }
    equity[i - start] = e;
    eqSum += e;
    if (e > peak) {
      const dd = 1 - trough / peak;
      if (dd > mdd) mdd = dd;
      peak = e;
      trough = e;
    } else if (e < trough) trough = e;
    if (i === lastBar) daily[days++] = e / prev - 1;
    else if (time[i + 1] >= nextDay) {
      daily[days++] = e / prev - 1;
      prev = e;
      nextDay = (Math.floor(time[i + 1] / DAY_MS) + 1) * DAY_MS;
    }
  }
  st[CASH] = cash;
  st[QTY] = q;
  st[HELD] = h;
  st[EXPOSURE] = exposure;
  cv[C_PREV] = prev;
  cv[C_PEAK] = peak;
  cv[C_MDD] = mdd;
  cv[C_EQ_SUM] = eqSum;
  cv[C_NEXT_DAY] = nextDay;
  cv[C_TROUGH] = trough;
  cv[C_DAYS] = days;
  return i;
}

/** engine.ts `rebalance` with k = 1 and no cap: close an opposite or zero target, then size all-in. */
function rebalance(
  st: Float64Array,
  log: Float64Array,
  i: number,
  w: number,
  open: number,
  feeRate: number,
  slippage: number,
): void {
  const q = st[QTY];
  if (q !== 0 && (w === 0 || w > 0 !== q > 0)) {
    fill(st, log, i, -q, marketFillPrice(q > 0 ? "sell" : "buy", open, slippage), feeRate);
  }
  const q2 = st[QTY];
  const equity = st[CASH] + q2 * open;
  const closing = q2 !== 0 && (w === 0 || w > 0 !== q2 > 0);
  if (!closing) st[HELD] = w;
  if (w === 0 || closing) return;
  // The side of the delta decides which way slippage goes; the all-in formula then uses that fill.
  const buy = (equity * w) / (open * (1 + feeRate)) > q2;
  const px = marketFillPrice(buy ? "buy" : "sell", open, slippage);
  const dq = Math.sign(w) * allInQty(equity, Math.abs(w), px, feeRate) - q2;
  if (dq !== 0) fill(st, log, i, dq, px, feeRate);
}

/** engine.ts `fill`: books `dq` coins at `px`; a position back to 0 appends its round trip to the log. */
function fill(st: Float64Array, log: Float64Array, i: number, dq: number, px: number, feeRate: number): void {
  const f = fee(dq, px, feeRate);
  const notional = Math.abs(dq) * px;
  const flow = dq * px + f;
  st[CASH] -= flow;
  st[FEES] += f;
  st[TRADED] += notional;
  const q0 = st[QTY];
  const q1 = q0 + dq;
  if (q0 === 0) {
    // A round trip starts: its accumulators from 0 (straight-line, cheap before V8 optimises).
    st[T_BAR] = i;
    st[T_CASH] = 0;
    st[T_FEES] = 0;
    st[T_FUND] = 0;
    st[T_IN_QTY] = 0;
    st[T_IN_VAL] = 0;
    st[T_OUT_QTY] = 0;
    st[T_OUT_VAL] = 0;
    st[T_MAX] = 0;
  }
  st[T_CASH] -= flow;
  st[T_FEES] += f;
  if (Math.abs(q1) > Math.abs(q0)) {
    st[T_IN_QTY] += Math.abs(dq);
    st[T_IN_VAL] += notional;
  } else {
    st[T_OUT_QTY] += Math.abs(dq);
    st[T_OUT_VAL] += notional;
  }
  if (Math.abs(q1) > st[T_MAX]) st[T_MAX] = Math.abs(q1);
  st[QTY] = q1;
  if (q1 === 0) {
    const o = st[N_TRADES] * LOG_STRIDE;
    const a = o + L_ACC - T_CASH;
    log[o + L_ENTRY] = st[T_BAR];
    log[o + L_EXIT] = i;
    log[o + L_LONG] = q0 > 0 ? 1 : 0;
    log[a + T_CASH] = st[T_CASH];
    log[a + T_FEES] = st[T_FEES];
    log[a + T_FUND] = st[T_FUND];
    log[a + T_IN_QTY] = st[T_IN_QTY];
    log[a + T_IN_VAL] = st[T_IN_VAL];
    log[a + T_OUT_QTY] = st[T_OUT_QTY];
    log[a + T_OUT_VAL] = st[T_OUT_VAL];
    log[a + T_MAX] = st[T_MAX];
    st[N_TRADES] = st[N_TRADES] + 1;
  }
}
