import { Decimal } from "decimal.js";
import type { Instrument } from "./types.js";
import type { AccountState, VenueFill, VenueOrder } from "./venue.js";

/**
 * Money in tool results, rounded to the venue's precision. Inside, money is exact (decimal strings
 * of up to 40 significant digits: an average entry price is cost / size); a result a model reads
 * carries what the venue itself would show:
 * - prices (entry, mark, limit, fill, average) to the instrument's tick decimals; without a tick
 *   (Hyperliquid publishes none) to Hyperliquid's rule of at most 6 − szDecimals decimals; else 8;
 * - sizes (coins) to the lot decimals;
 * - quote amounts (equity, cash, notional, fees, PnL, funding) to {@link QUOTE_DECIMALS} decimals.
 * Rounding is half-to-even (no drift up or down over many rows); strings are plain notation without
 * trailing zeros (`"104523.5"`, `"0.0045"`), never an exponent. Only results are rounded: risk
 * checks, fills and ledgers keep exact values.
 */

/** Decimals of quote amounts: USDC and USDT settle in 6 decimals on Hyperliquid and on-chain. */
export const QUOTE_DECIMALS = 6;
/** Decimals used when the venue publishes no step for a value. */
const FALLBACK_DECIMALS = 8;

/** Decimal places of a step (0.01 → 2, 0.5 → 1, 1 → 0, 5e-5 → 5). */
export function stepDecimals(step: number): number {
  if (!(step > 0)) return FALLBACK_DECIMALS;
  return Math.max(0, new Decimal(step).decimalPlaces());
}

/** `v` rounded to `dp` decimals, half-to-even, in plain notation; null stays null. */
export function roundTo<T extends string | null>(v: T, dp: number): T {
  if (v === null) return v;
  return new Decimal(v).toDecimalPlaces(dp, Decimal.ROUND_HALF_EVEN).toFixed() as T;
}

/** Rounding rules of one venue's instruments (see the module comment). */
export class Precision {
  private readonly bySymbol: Map<string, Instrument>;

  /** @param instruments the venue's instruments (an empty list rounds everything to the fallbacks). */
  constructor(instruments: readonly Instrument[]) {
    this.bySymbol = new Map(instruments.map((i) => [i.symbol, i]));
  }

  /** Decimals of prices of `symbol`. */
  priceDecimals(symbol: string): number {
    const i = this.bySymbol.get(symbol);
    if (i?.tick_size) return stepDecimals(i.tick_size);
    if (i?.sz_decimals !== null && i?.sz_decimals !== undefined) return Math.max(0, 6 - i.sz_decimals);
    return FALLBACK_DECIMALS;
  }

  /** Decimals of sizes (coins) of `symbol`. */
  sizeDecimals(symbol: string): number {
    const i = this.bySymbol.get(symbol);
    return i ? stepDecimals(i.lot_size) : FALLBACK_DECIMALS;
  }

  price<T extends string | null>(symbol: string, v: T): T {
    return roundTo(v, this.priceDecimals(symbol));
  }

  size<T extends string | null>(symbol: string, v: T): T {
    return roundTo(v, this.sizeDecimals(symbol));
  }

  quote<T extends string | null>(v: T): T {
    return roundTo(v, QUOTE_DECIMALS);
  }

  /** An account snapshot with every amount rounded. Leverage keeps its 8 significant digits. */
  account<A extends AccountState>(s: A): A {
    return {
      ...s,
      equity: this.quote(s.equity),
      cash: this.quote(s.cash),
      gross_notional: this.quote(s.gross_notional),
      positions: s.positions.map((p) => ({
        ...p,
        size: this.size(p.symbol, p.size),
        entry_px: this.price(p.symbol, p.entry_px),
        mark_px: this.price(p.symbol, p.mark_px),
        unrealized_pnl: this.quote(p.unrealized_pnl),
        funding: this.quote(p.funding),
      })),
    };
  }

  /** A resting order as the venue lists it, sizes and prices rounded. */
  openOrder<O extends VenueOrder>(o: O): O {
    return {
      ...o,
      size: this.size(o.symbol, o.size),
      filled_size: this.size(o.symbol, o.filled_size),
      price: this.price(o.symbol, o.price),
      trigger_px: this.price(o.symbol, o.trigger_px),
    };
  }

  /** A fill with size, price, fee and realised PnL rounded. */
  fill<F extends VenueFill>(f: F): F {
    return {
      ...f,
      size: this.size(f.symbol, f.size),
      price: this.price(f.symbol, f.price),
      fee: this.quote(f.fee),
      realized_pnl: this.quote(f.realized_pnl),
    };
  }
}

/**
 * The rounding rules of a venue, from its instruments. When the instrument list cannot be had (the
 * venue is unreachable), results are rounded to the fallback decimals instead of failing: rounding
 * is presentation, and the call's own work (e.g. an order already sent) must still be reported.
 */
export async function precisionOf(venue: { instruments(): Promise<Instrument[]> }): Promise<Precision> {
  let list: Instrument[] = [];
  try {
    list = await venue.instruments();
  } catch {
    // Fallback decimals (see above); the caller's result is what matters.
  }
  return new Precision(list);
}
