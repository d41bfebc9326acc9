import { Decimal } from "decimal.js";

/**
 * The one fill model shared by the paper venue, the backtester and replay (DESIGN.md §4, issue 6
 * conventions). Pure functions over numbers; the venue boundary (tick/lot rounding with decimal.js)
 * happens before these are called.
 *
 * - Market order: fills at the next available price (the reference `px`, e.g. next bar's open)
 *   moved against the taker by the slippage: buy `px × (1 + slippage)`, sell `px × (1 − slippage)`.
 * - Limit order: fills at its limit price when the market crosses it (buy: low ≤ limit; sell:
 *   high ≥ limit), as maker; a limit that is marketable on arrival fills at the reference price
 *   plus slippage, as taker.
 * - Fee = |qty| × fill price × fee rate.
 * - Funding payment at a funding time = −qty × price × rate (a long pays a positive rate).
 * - Participation (issue 13): per 1m bar, what one account fills on a symbol is at most
 *   `maxParticipation × bar volume` (coins); a resting limit that is only touched fills at most that.
 * - Stops (SL, trailing stop) triggered in a gap fill at the worse of the trigger and the bar's open
 *   (sell stop: min; buy stop: max), then slippage.
 * - Liquidation: when margin equity (cash + Σ unrealised PnL, cross margin) falls below
 *   `maintenanceMargin × Σ |notional|`, every position is closed at the bar's adverse price.
 */

/** Side of an order or fill. */
export type Side = "buy" | "sell";

/** Cost parameters as fractions (1 bp = 0.0001). */
export interface CostModel {
  slippage: number;
  takerFee: number;
  makerFee: number;
}

/** Fractions from basis points. */
export function bps(n: number): number {
  return n / 10_000;
}

/** Market fill price: `px × (1 ± slippage)`, against the taker. */
export function marketFillPrice(side: Side, px: number, slippage: number): number {
  return side === "buy" ? px * (1 + slippage) : px * (1 - slippage);
}

/** Fee in quote currency: `|qty| × price × rate`. */
export function fee(qty: number, price: number, rate: number): number {
  return Math.abs(qty) * price * rate;
}

/**
 * Funding cash flow for a signed position (coins, long > 0) at a funding time: `−qty × price × rate`.
 * Negative = paid, positive = received.
 */
export function fundingPayment(qty: number, price: number, rate: number): number {
  return -qty * price * rate;
}

/** Whether a resting limit order is crossed by a bar's range (buy: low ≤ limit; sell: high ≥ limit). */
export function limitCrossed(side: Side, limit: number, low: number, high: number): boolean {
  return side === "buy" ? low <= limit : high >= limit;
}

/** Whether a limit is marketable on arrival against a reference price (buy: limit ≥ px; sell: limit ≤ px). */
export function limitMarketable(side: Side, limit: number, px: number): boolean {
  return side === "buy" ? limit >= px : limit <= px;
}

/**
 * Coins still fillable in a bar under the participation cap: `max(0, maxParticipation × volume − used)`.
 * `volume` is the bar's base volume (coins); `used` what this account already filled in that bar.
 */
export function participationRoom(volume: number, maxParticipation: number, used: number): number {
  return Math.max(0, maxParticipation * volume - used);
}

/**
 * Reference price of a triggered stop: the worse of the trigger and the bar's open (a sell stop that
 * gapped below its trigger fills at the open, not at the trigger). Slippage is applied after.
 */
export function stopFillReference(side: Side, trigger: number, open: number): number {
  return side === "sell" ? Math.min(trigger, open) : Math.max(trigger, open);
}

/**
 * Whether a cross-margin account is below maintenance: `equity < maintenanceMargin × gross notional`
 * (quote). Source: the usual perp maintenance-margin rule (Hyperliquid, Binance USDⓈ-M), one tier.
 */
export function belowMaintenance(equity: number, grossNotional: number, maintenanceMargin: number): boolean {
  return grossNotional > 0 && equity < maintenanceMargin * grossNotional;
}

/**
 * All-in quantity to reach leverage L: `equity × L / (price × (1 + feeRate))`, so that notional plus
 * fee never exceeds equity × L.
 */
export function allInQty(equity: number, leverage: number, price: number, feeRate: number): number {
  return (equity * leverage) / (price * (1 + feeRate));
}

/**
 * decimal.js constructor for money paths: 40 significant digits, so sums of prices × sizes × rates
 * (≤ 1e9 quote with 1e-12 resolution) never round. Values are stored and exchanged as strings.
 */
export const Dec = Decimal.clone({ precision: 40, toExpNeg: -40, toExpPos: 40 });

/**
 * Exact (decimal.js) variants of the formulas above for venues that keep money exact (the paper
 * venue books cash, fees and funding as decimal strings). Same formulas, same sources.
 */
export const exact = {
  /** `px × (1 ± slippage)`, against the taker. */
  marketFillPrice(side: Side, px: Decimal.Value, slippage: Decimal.Value): Decimal {
    const s = new Dec(slippage);
    return new Dec(px).times(side === "buy" ? s.plus(1) : new Dec(1).minus(s));
  },
  /** `|qty| × price × rate`. */
  fee(qty: Decimal.Value, price: Decimal.Value, rate: Decimal.Value): Decimal {
    return new Dec(qty).abs().times(price).times(rate);
  },
  /** `−qty × price × rate` (signed qty, long > 0; negative = paid). */
  fundingPayment(qty: Decimal.Value, price: Decimal.Value, rate: Decimal.Value): Decimal {
    return new Dec(qty).negated().times(price).times(rate);
  },
};
