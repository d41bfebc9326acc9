import { createHash } from "node:crypto";
import { Decimal } from "decimal.js";

/**
 * Hyperliquid tick and lot rules (Hyperliquid docs, "Tick and lot size"), exact with decimal.js:
 * - size: at most `szDecimals` decimals (we round toward zero, so an order never exceeds what was asked);
 * - price (perps): at most 5 significant figures AND at most `MAX_DECIMALS − szDecimals` decimals,
 *   MAX_DECIMALS = 6; integer prices are always valid whatever their number of significant figures.
 * Prices and sizes are sent as plain decimal strings (no exponent, no trailing zeros).
 */

/** MAX_DECIMALS for perpetuals (spot would be 8). */
export const PERP_MAX_DECIMALS = 6;
/** Significant figures allowed in a non-integer price. */
export const PRICE_SIG_FIGS = 5;

const D = Decimal.clone({ precision: 40, toExpNeg: -40, toExpPos: 40 });

/** Plain decimal string: no exponent, no trailing zeros. */
function plain(d: Decimal): string {
  return d.toFixed();
}

/** Size rounded toward zero to `szDecimals` decimals. */
export function roundSize(size: Decimal.Value, szDecimals: number): string {
  return plain(new D(size).toDecimalPlaces(szDecimals, Decimal.ROUND_DOWN));
}

/**
 * Price rounded ONCE to the nearest valid perp price: to `min(6 − szDecimals, 4 − ⌊log10 p⌋)`
 * decimals — the tighter of the decimal cap and the 5-significant-figure cap (rounding twice, to 5
 * figures then to the cap, could move the price by more than half a unit). A price with 5 or more
 * integer digits therefore rounds to an integer (always valid). May return "0" for prices too small
 * for the asset (callers refuse those).
 */
export function roundPrice(
  price: Decimal.Value,
  szDecimals: number,
  rounding: Decimal.Rounding = Decimal.ROUND_HALF_UP,
): string {
  const p = new D(price);
  if (p.isZero()) return "0";
  const mag = p.abs().log(10).floor().toNumber();
  const dp = Math.max(0, Math.min(PERP_MAX_DECIMALS - szDecimals, PRICE_SIG_FIGS - 1 - mag));
  return plain(p.toDecimalPlaces(dp, rounding));
}

/**
 * Deterministic 128-bit cloid for a client order id: `0x` + the first 32 hex digits of
 * sha256(clientOrderId). The same id always maps to the same cloid, so a venue-side duplicate of a
 * retried order is recognisable and order status can be queried by our id alone.
 */
export function cloidFor(clientOrderId: string): `0x${string}` {
  return `0x${createHash("sha256").update(clientOrderId, "utf8").digest("hex").slice(0, 32)}`;
}
