import { allInQty, fee, fundingPayment, marketFillPrice } from "../exchange/fillModel.js";
import type { CurveStats } from "./curve.js";
import { SingleRun } from "./fused.js";
import type { EngineOptions, Frame, Signals, Trade } from "./types.js";

/**
 * The backtest engine: one loop over bars with shared cash across symbols (docs/backtesting.md).
 *
 * Per bar i (open time `time[i]`):
 *  1. Open: the held target of symbol j is `targets[j][i−1] × leverage` (`initial[j]` on bar 0). When it
 *     changed, trade at `open × (1 ± slippage)` (fill model, src/exchange/fillModel.ts): first close
 *     positions whose target is 0 or of the opposite sign (a round trip ends), then size the rest
 *     all-in on the equity marked at this open: qty = equity × w / (fill × (1 + fee rate)).
 *  2. Close: funding for events inside the bar, `−qty × close × rate`; equity marked at the close.
 *
 * With `maxParticipation` set, each fill is capped at that share of the bar's volume and a target not
 * reached is retried at the next bar's open (the default keeps the all-in convention).
 *
 * Accounting is cash + Σ qty × price (a perp's PnL without margin bookkeeping; cash may go negative
 * under leverage). Positions still open at the end stay open (mark-to-market). The loop allocates
 * nothing per bar: state lives in typed arrays; only a closed round trip creates an object.
 */

/** What a finished run returns (metrics are computed from it in metrics.ts). */
export interface EngineResult {
  /** Bar indices [start, end) of the frame that were simulated. */
  start: number;
  end: number;
  /** Equity at each bar close, quote (index 0 = bar `start`). */
  equity: Float64Array;
  /**
   * Closed round trips in exit order, then open ones (`open: true`). The single-symbol path builds
   * these records from its round-trip log on first read (nothing that only needs metrics pays for
   * them).
   */
  readonly trades: Trade[];
  /** PnL of each closed round trip in exit order, quote (the trade metrics read only this). */
  closedPnl: Float64Array;
  /**
   * The metrics' curve pass, when the run did it on the way (the single-symbol path, relative to
   * `metricsInitial`); computeMetrics uses it when its initial equity, time axis and range match (a
   * result assembled from others, e.g. chained windows, must not carry it).
   */
  curve?: CurveStats;
  /** Fees paid, quote (≥ 0). */
  feesPaid: number;
  /** Net funding paid, quote (> 0 = paid, < 0 = received). */
  fundingPaid: number;
  /** Σ |qty × fill price| of every fill, quote. */
  tradedNotional: number;
  /** Bars during which some position was held. */
  exposureBars: number;
  /** Final signed quantities per symbol, coins. */
  positions: Float64Array;
}

/**
 * A resumable run: `step(until)` simulates bars up to `until` (exclusive), so async callers can
 * report progress and honour cancellation between chunks without slowing the loop.
 */
export class EngineRun {
  readonly start: number;
  readonly end: number;
  private i: number;
  private cash: number;
  private readonly k: number;
  private readonly qty: Float64Array;
  private readonly held: Float64Array;
  private readonly equity: Float64Array;
  // Per-symbol accumulators of the round trip in progress.
  private readonly tBar: Int32Array;
  private readonly tCash: Float64Array;
  private readonly tFees: Float64Array;
  private readonly tFund: Float64Array;
  private readonly tInQty: Float64Array;
  private readonly tInVal: Float64Array;
  private readonly tOutQty: Float64Array;
  private readonly tOutVal: Float64Array;
  private readonly tMax: Float64Array;
  private readonly trades: Trade[] = [];
  private feesPaid = 0;
  private fundingPaid = 0;
  private traded = 0;
  private exposure = 0;
  private readonly initial: Float64Array;
  /** The single-symbol fast path's inputs and state (fused.ts); null on the general loop. */
  private readonly single: SingleRun | null;

  /**
   * @throws RangeError when targets do not match the frame or the range is empty.
   */
  constructor(
    private readonly frame: Frame,
    private readonly signals: Signals,
    private readonly opts: EngineOptions,
  ) {
    const n = frame.time.length;
    this.start = opts.start ?? 0;
    this.end = opts.end ?? n;
    if (this.start < 0 || this.end > n || this.end <= this.start) {
      throw new RangeError(`engine range [${this.start}, ${this.end}) is empty or outside 0..${n}`);
    }
    this.k = frame.assets.length;
    if (signals.targets.length !== this.k || signals.targets.some((t) => t.length !== n)) {
      throw new RangeError("engine: one target array of the frame's length per symbol is required");
    }
    const k = this.k;
    this.i = this.start;
    this.cash = opts.initialEquity;
    this.qty = new Float64Array(k);
    this.held = new Float64Array(k);
    this.equity =
      opts.equityBuffer === undefined
        ? new Float64Array(this.end - this.start)
        : opts.equityBuffer.subarray(0, this.end - this.start);
    if (this.equity.length !== this.end - this.start) {
      throw new RangeError(
        `engine: equityBuffer holds ${this.equity.length} values, ${this.end - this.start} needed`,
      );
    }
    this.tBar = new Int32Array(k);
    this.tCash = new Float64Array(k);
    this.tFees = new Float64Array(k);
    this.tFund = new Float64Array(k);
    this.tInQty = new Float64Array(k);
    this.tInVal = new Float64Array(k);
    this.tOutQty = new Float64Array(k);
    this.tOutVal = new Float64Array(k);
    this.tMax = new Float64Array(k);
    this.initial = Float64Array.from(signals.initial ?? new Array(k).fill(0));
    this.single =
      k === 1 && opts.maxParticipation === undefined && opts.general !== true
        ? new SingleRun(
            {
              open: frame.assets[0].open,
              close: frame.assets[0].close,
              funding: frame.funding === null ? null : frame.funding[0],
              time: frame.time,
              targets: signals.targets[0],
              initial: this.initial[0],
              symbol: frame.symbols[0],
              leverage: opts.leverage,
              feeRate: opts.feeRate,
              slippage: opts.slippage,
              initialEquity: opts.initialEquity,
              metricsInitial: opts.metricsInitial ?? opts.initialEquity,
              start: this.start,
              end: this.end,
            },
            this.equity,
          )
        : null;
  }

  /** Bars simulated so far. */
  get done(): number {
    return this.i - this.start;
  }

  /** Whether every bar of the range was simulated. */
  get finished(): boolean {
    return this.i >= this.end;
  }

  private target(j: number, i: number): number {
    const t = i === 0 ? this.initial[j] : this.signals.targets[j][i - 1];
    // NaN (warm-up) means flat.
    return Number.isNaN(t) ? 0 : t * this.opts.leverage;
  }

  /** Simulates bars up to `until` (exclusive, capped at the end of the range). */
  step(until: number): void {
    const stop = Math.min(until, this.end);
    if (this.single !== null) {
      if (stop > this.i) this.single.step(this.i, stop);
      this.i = Math.max(this.i, stop);
      return;
    }
    const { assets, funding } = this.frame;
    const k = this.k;
    const qty = this.qty;
    const held = this.held;
    for (let i = this.i; i < stop; i++) {
      for (let j = 0; j < k; j++) {
        if (this.target(j, i) !== held[j]) {
          this.rebalance(i);
          break;
        }
      }
      let eq = 0;
      let inPos = false;
      for (let j = 0; j < k; j++) {
        const q = qty[j];
        if (q === 0) continue;
        inPos = true;
        const c = assets[j].close[i];
        if (funding !== null) {
          const r = funding[j][i];
          if (r !== 0) {
            const pay = fundingPayment(q, c, r);
            this.cash += pay;
            this.tCash[j] += pay;
            this.tFund[j] += pay;
            this.fundingPaid -= pay;
          }
        }
        eq += q * c;
      }
      if (inPos) this.exposure++;
      this.equity[i - this.start] = this.cash + eq;
    }
    this.i = Math.max(this.i, stop);
  }

  private rebalance(i: number): void {
    const k = this.k;
    const { assets } = this.frame;
    const { slippage, feeRate } = this.opts;
    for (let j = 0; j < k; j++) {
      const w = this.target(j, i);
      const q = this.qty[j];
      if (w !== this.held[j] && q !== 0 && (w === 0 || w > 0 !== q > 0)) {
        this.fill(
          j,
          i,
          this.capped(j, i, -q),
          marketFillPrice(q > 0 ? "sell" : "buy", assets[j].open[i], slippage),
        );
      }
    }
    let equity = this.cash;
    for (let j = 0; j < k; j++) equity += this.qty[j] * assets[j].open[i];
    for (let j = 0; j < k; j++) {
      const w = this.target(j, i);
      if (w === this.held[j]) continue;
      // Under a participation cap a target is held only once reached (else retried next bar).
      const closing = this.qty[j] !== 0 && (w === 0 || w > 0 !== this.qty[j] > 0);
      if (!closing) this.held[j] = w;
      if (w === 0 || closing) continue;
      const open = assets[j].open[i];
      const q = this.qty[j];
      // The side of the delta decides which way slippage goes; the all-in formula then uses that fill.
      const buy = (equity * w) / (open * (1 + feeRate)) > q;
      const px = marketFillPrice(buy ? "buy" : "sell", open, slippage);
      const want = Math.sign(w) * allInQty(equity, Math.abs(w), px, feeRate) - q;
      const dq = this.capped(j, i, want);
      if (dq !== want) this.held[j] = Number.NaN;
      if (dq !== 0) this.fill(j, i, dq, px);
    }
  }

  /** `dq` limited to `maxParticipation × volume` of bar i (unchanged without a cap). */
  private capped(j: number, i: number, dq: number): number {
    const p = this.opts.maxParticipation;
    if (p === undefined) return dq;
    const room = p * this.frame.assets[j].volume[i];
    return Math.abs(dq) <= room ? dq : Math.sign(dq) * room;
  }

  private fill(j: number, i: number, dq: number, px: number): void {
    const f = fee(dq, px, this.opts.feeRate);
    const notional = Math.abs(dq) * px;
    this.cash -= dq * px + f;
    this.feesPaid += f;
    this.traded += notional;
    const q0 = this.qty[j];
    const q1 = q0 + dq;
    if (q0 === 0) {
      this.tBar[j] = i;
      this.tCash[j] = 0;
      this.tFees[j] = 0;
      this.tFund[j] = 0;
      this.tInQty[j] = 0;
      this.tInVal[j] = 0;
      this.tOutQty[j] = 0;
      this.tOutVal[j] = 0;
      this.tMax[j] = 0;
    }
    this.tCash[j] -= dq * px + f;
    this.tFees[j] += f;
    if (Math.abs(q1) > Math.abs(q0)) {
      this.tInQty[j] += Math.abs(dq);
      this.tInVal[j] += notional;
    } else {
      this.tOutQty[j] += Math.abs(dq);
      this.tOutVal[j] += notional;
    }
    if (Math.abs(q1) > this.tMax[j]) this.tMax[j] = Math.abs(q1);
    this.qty[j] = q1;
    if (q1 === 0) this.trades.push(this.trade(j, q0 > 0, i, null));
  }

  private trade(j: number, long: boolean, exitBar: number, markPnl: number | null): Trade {
    const entry = this.tInVal[j] / this.tInQty[j];
    const pnl = markPnl ?? this.tCash[j];
    const open = markPnl !== null;
    return {
      symbol: this.frame.symbols[j],
      side: long ? "long" : "short",
      entry_time: this.frame.time[this.tBar[j]],
      entry_price: entry,
      exit_time: open ? null : this.frame.time[exitBar],
      exit_price: open ? null : this.tOutVal[j] / this.tOutQty[j],
      qty: this.tMax[j],
      pnl,
      fees: this.tFees[j],
      funding: this.tFund[j],
      return: pnl / (entry * this.tMax[j]),
      bars: exitBar - this.tBar[j],
      open,
    };
  }

  /** Runs every remaining bar and returns the result. */
  finish(): EngineResult {
    this.step(this.end);
    if (this.single !== null) return this.finishSingle(this.single);
    const trades = [...this.trades];
    const last = this.end - 1;
    for (let j = 0; j < this.k; j++) {
      const q = this.qty[j];
      if (q !== 0)
        trades.push(this.trade(j, q > 0, this.end, this.tCash[j] + q * this.frame.assets[j].close[last]));
    }
    return {
      start: this.start,
      end: this.end,
      equity: this.equity,
      trades,
      closedPnl: Float64Array.from(this.trades, (t) => t.pnl),
      feesPaid: this.feesPaid,
      fundingPaid: this.fundingPaid,
      tradedNotional: this.traded,
      exposureBars: this.exposure,
      positions: Float64Array.from(this.qty),
    };
  }

  private finishSingle(run: SingleRun): EngineResult {
    const r = run.finish();
    let trades: Trade[] | null = null;
    return {
      start: this.start,
      end: this.end,
      equity: r.equity,
      get trades() {
        trades ??= run.trades();
        return trades;
      },
      closedPnl: r.closedPnl,
      curve: r.curve,
      feesPaid: r.feesPaid,
      fundingPaid: r.fundingPaid,
      tradedNotional: r.tradedNotional,
      exposureBars: r.exposureBars,
      positions: Float64Array.of(r.qty),
    };
  }
}

/** Runs a whole range synchronously (experiments, bench). Same errors as {@link EngineRun}. */
export function runEngine(frame: Frame, signals: Signals, opts: EngineOptions): EngineResult {
  return new EngineRun(frame, signals, opts).finish();
}
