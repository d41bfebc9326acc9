import type { Decimal } from "decimal.js";
import { Dec } from "../fillModel.js";
import type { OrderSide } from "../venue.js";

/**
 * Position arithmetic of the paper venue (exact, decimal.js). Standard perp accounting:
 * - a fill in the direction of the position (or from flat) moves the entry to the size-weighted
 *   average: `entry' = (|s|·entry + q·px) / |s + q|`;
 * - a fill against it realises `closed × (px − entry) × sign(s)` on the closed part; a flip opens
 *   the remainder at `px`; a close to flat resets the entry to 0.
 */

/** A position: signed size (coins, long > 0) and entry price (quote). */
export interface Pos {
  size: Decimal;
  entry: Decimal;
}

/** Result of applying one fill: the new position and the PnL realised by it (quote). */
export interface FillEffect {
  pos: Pos;
  realized: Decimal;
}

/** Applies a fill of `qty` coins (> 0) on `side` at `px`. */
export function applyFill(pos: Pos, side: OrderSide, qty: Decimal.Value, px: Decimal.Value): FillEffect {
  const q = new Dec(qty);
  const p = new Dec(px);
  const dq = side === "buy" ? q : q.negated();
  const s = pos.size;
  const after = s.plus(dq);
  if (s.isZero() || s.isNegative() === dq.isNegative()) {
    const entry = s.abs().times(pos.entry).plus(q.times(p)).dividedBy(after.abs());
    return { pos: { size: after, entry }, realized: new Dec(0) };
  }
  const closed = Dec.min(s.abs(), q);
  const realized = closed.times(p.minus(pos.entry)).times(s.isNegative() ? -1 : 1);
  if (after.isZero()) return { pos: { size: after, entry: new Dec(0) }, realized };
  const flipped = after.isNegative() !== s.isNegative();
  return { pos: { size: after, entry: flipped ? p : pos.entry }, realized };
}

/** Whether a fill of `side` would reduce (not increase or flip beyond) the position. */
export function reduces(pos: Pos, side: OrderSide): boolean {
  return !pos.size.isZero() && (side === "sell") === pos.size.gt(0);
}
