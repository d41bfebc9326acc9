import type { Decimal } from "decimal.js";
import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { Dec } from "../exchange/fillModel.js";
import { marketClockOf, marketOf } from "../exchange/venues.js";
import type { OrderSide, OrderType, Tif } from "../exchange/venue.js";
import type { CheckResult } from "../store/intents.js";
import { inflightOrders, sentNotionalSince } from "../store/orders.js";
import { currentLimits } from "../store/riskLimits.js";
import type { GateStep } from "./gate.js";

/**
 * Order-level risk (DESIGN.md §3 step 7). {@link prepareOrder} rounds an order to the venue's rules
 * and evaluates every check; the step refuses with RISK_REJECTED listing each failed check with its
 * limit and value. Checks (ids as reported):
 *  symbol_allowed · stale_data (ticker age ≤ staleAfterMs) · lot_size (rounded size ≥ one lot) ·
 *  tick_size (rounded limit price > 0) · min_notional · max_order_notional · daily_notional (rolling
 *  24 h sent notional; reduce-only orders are counted but never refused by it, so a close is never
 *  blocked by turnover)
 *  24 h sent notional on the venue + this order) · max_leverage (gross notional after fill / equity,
 *  skipped for orders that do not increase exposure) · price_band (|limit − mid| / mid) ·
 *  max_open_orders (open + in flight + what this order leaves resting) · bracket_prices (TP beyond, SL
 *  short of the reference price).
 *
 * Prices (quote currency): `notional` = size × (limit, or mid for market orders) is what the preview
 * shows; the limits that bound money at risk — max_order_notional, daily_notional and max_leverage —
 * use `worst_notional` = size × the worst price the order can execute at: its limit, or for a market
 * order the protection price mid × (1 ± price_band_fraction) that real venues receive as an IOC limit
 * (the paper venue fills inside it). A market intent of 49,987 at mid is 52,486 at a 5 % band, and
 * is refused under a 50,000 cap.
 *
 * Headroom counts reservations, not only the venue's book: every order of ours on the venue that is
 * not reduce-only and may still fill (pending, unknown, open, partially filled) adds its unfilled
 * worst-case notional to gross exposure, and counts as an open order when the venue does not list it
 * yet. Run inside the account's execution lane (the gate holds it for order_submit), so the check and
 * the reservation that follows see the same state.
 */

/** Order arguments as tools and the cycle give them (sizes in coins, notional/prices in quote). */
export interface OrderArgs {
  /** Venue id; "" = the configured default venue. */
  venue: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  size?: number | string;
  notional?: number | string;
  price?: number | string;
  tif?: Tif;
  reduce_only?: boolean;
  take_profit?: number | string;
  stop_loss?: number | string;
  /** Position guard: trailing stop in bps from the best price after the fill (issue 13). */
  trailing_stop_bps?: number;
  /** Position guard: close the position this many minutes after the fill. */
  max_hold_minutes?: number;
}

/** A rounded, priced, checked order. Decimal strings; `price` is the limit, or for market orders on
 * real venues the protection price (mid ± price band) sent as an IOC limit; null on paper. */
export interface PreparedOrder {
  venue: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  tif: Tif;
  size: string;
  price: string | null;
  ref_price: string;
  notional: string;
  /** size × worst execution price (limit, or market protection price), quote. */
  worst_notional: string;
  est_fee: string;
  reduce_only: boolean;
  take_profit: string | null;
  stop_loss: string | null;
  trailing_stop_bps: number | null;
  max_hold_minutes: number | null;
  checks: CheckResult[];
}

const DAY = 86_400_000;

function chk(check: string, passed: boolean, limit: unknown, value: unknown, message: string): CheckResult {
  return { check, passed, limit, value, message };
}

const num = (d: Decimal) => Number(d.toSignificantDigits(12));

/**
 * Rounds and checks an order. Does not throw on failed checks (they are in `checks`).
 * @throws TwError INVALID_INPUT (size/notional/price missing or inconsistent), NOT_FOUND (symbol),
 *   MAINNET_BLOCKED, and market/venue errors (EXCHANGE_UNAVAILABLE, RATE_LIMITED).
 */
export async function prepareOrder(app: App, a: OrderArgs): Promise<PreparedOrder> {
  if ((a.size === undefined) === (a.notional === undefined)) {
    throw new TwError("INVALID_INPUT", "Give exactly one of size (coins) or notional (quote currency).");
  }
  if (a.type === "limit" && a.price === undefined) {
    throw new TwError("INVALID_INPUT", "A limit order needs price (quote currency).");
  }
  if ((a.trailing_stop_bps !== undefined || a.max_hold_minutes !== undefined) && a.reduce_only) {
    throw new TwError(
      "INVALID_INPUT",
      "A position guard (trailing_stop_bps, max_hold_minutes) needs an order that opens a position, not a reduce_only one.",
    );
  }
  if (a.type === "market" && a.price !== undefined && a.venue === "paper") {
    throw new TwError("INVALID_INPUT", "A market order takes no price; use type limit for a price.");
  }
  const venueId = a.venue || app.config.venues.default;
  const limits = currentLimits(app.db, app.config);
  const venue = app.venues.get(venueId);
  const ticker = await marketOf(app).ticker(a.symbol);
  const ref = new Dec(ticker.mid);
  const band = new Dec(limits.price_band_fraction);
  let rawPx: string | null;
  if (a.type === "limit") rawPx = String(a.price);
  else if (a.price !== undefined) rawPx = String(a.price);
  else if (venue.network === "paper") rawPx = null;
  else rawPx = ref.times(a.side === "buy" ? band.plus(1) : new Dec(1).minus(band)).toString();
  const sizeIn =
    a.size !== undefined ? new Dec(String(a.size)) : new Dec(String(a.notional)).dividedBy(rawPx ?? ref);
  const r = await venue.round(a.symbol, sizeIn.toString(), rawPx);
  const size = new Dec(r.size);
  const price = r.price === null ? null : new Dec(r.price);
  const notional = size.times(a.type === "limit" && price ? price : ref);
  const worstPx =
    price ?? ref.times(a.side === "buy" ? band.plus(1) : new Dec(1).minus(band)).toDecimalPlaces(12);
  // A sell's worst price is the lowest, but its exposure is at least size × mid: bound from above.
  const worstNotional = size.times(a.side === "buy" ? worstPx : Dec.max(worstPx, ref));
  const tif: Tif = a.tif ?? (a.type === "market" ? "IOC" : "GTC");
  const tp =
    a.take_profit !== undefined ? (await venue.round(a.symbol, r.size, String(a.take_profit))).price : null;
  const sl =
    a.stop_loss !== undefined ? (await venue.round(a.symbol, r.size, String(a.stop_loss))).price : null;
  const reduceOnly = a.reduce_only ?? false;

  const checks: CheckResult[] = [];
  const allowed = limits.allowed_symbols.length > 0 ? limits.allowed_symbols : app.config.universe;
  checks.push(
    chk(
      "symbol_allowed",
      allowed.includes(a.symbol),
      allowed,
      a.symbol,
      `${a.symbol} must be in the allow-list`,
    ),
  );
  const age = marketClockOf(app).now() - ticker.time;
  checks.push(
    chk(
      "stale_data",
      age <= app.config.staleAfterMs,
      app.config.staleAfterMs,
      age,
      `market data age ${age} ms must be ≤ ${app.config.staleAfterMs} ms`,
    ),
  );
  const ins = (await venue.instruments()).find((i) => i.symbol === a.symbol);
  const lot = ins?.lot_size ?? 0;
  checks.push(
    chk(
      "lot_size",
      size.gt(0),
      lot,
      r.size,
      `size ${sizeIn.toString()} rounds to ${r.size}; it must be at least one lot (${lot})`,
    ),
  );
  if (a.type === "limit") {
    checks.push(
      chk(
        "tick_size",
        price?.gt(0) ?? false,
        ins?.tick_size ?? null,
        r.price,
        `price ${String(a.price)} rounds to ${r.price}; it must be > 0`,
      ),
    );
  }
  const minN = Math.max(limits.min_notional, ins?.min_notional ?? 0);
  const acct = await venue.accountState();
  const pos = acct.positions.find((p) => p.symbol === a.symbol);
  const cur = new Dec(pos?.size ?? 0);
  // A reduce-only order that closes the whole position passes: dust must stay closable (issue 13).
  const closesAll = reduceOnly && cur.abs().eq(size);
  checks.push(
    chk(
      "min_notional",
      notional.gte(minN) || closesAll,
      minN,
      num(notional),
      `notional ${notional.toFixed(2)} must be ≥ ${minN}`,
    ),
  );
  checks.push(
    chk(
      "max_order_notional",
      worstNotional.lte(limits.max_order_notional),
      limits.max_order_notional,
      num(worstNotional),
      `notional at the worst execution price ${worstNotional.toFixed(2)} must be ≤ ${limits.max_order_notional}`,
    ),
  );
  const sent = sentNotionalSince(app.db, venueId, app.clock.now() - DAY);
  const day = sent.plus(worstNotional);
  checks.push(
    chk(
      "daily_notional",
      // A reduce-only order only lowers risk: the daily cap never blocks a close (it still counts).
      reduceOnly || day.lte(limits.max_daily_notional),
      limits.max_daily_notional,
      num(day),
      `rolling 24h notional ${day.toFixed(2)} (sent ${sent.toFixed(2)} + this order) must be ≤ ${limits.max_daily_notional}`,
    ),
  );
  const after = cur.plus(a.side === "buy" ? size : size.negated());
  const inflight = inflightOrders(app.db, venueId);
  if (!reduceOnly && after.abs().gt(cur.abs())) {
    // Worst case: every live order of ours fills on top of the book, then this one at its worst price.
    const reserved = inflight.reduce((s, o) => s.plus(o.notional), new Dec(0));
    const increase = Dec.max(0, after.abs().minus(cur.abs())).times(worstPx);
    const grossAfter = new Dec(acct.gross_notional).plus(reserved).plus(increase);
    const equity = new Dec(acct.equity);
    const lev = equity.gt(0) ? grossAfter.dividedBy(equity) : new Dec(Number.POSITIVE_INFINITY);
    checks.push(
      chk(
        "max_leverage",
        lev.lte(limits.max_leverage),
        limits.max_leverage,
        lev.isFinite() ? num(lev) : null,
        `leverage after fill ${lev.isFinite() ? lev.toFixed(3) : "∞"} (gross ${acct.gross_notional} + in flight ${reserved.toFixed(2)} + this order ${increase.toFixed(2)}, over equity ${equity.toFixed(2)}) must be ≤ ${limits.max_leverage}`,
      ),
    );
  }
  if (a.type === "limit" && price !== null) {
    const dev = price.minus(ref).abs().dividedBy(ref);
    checks.push(
      chk(
        "price_band",
        dev.lte(band),
        limits.price_band_fraction,
        num(dev),
        `limit ${price.toString()} is ${dev.times(100).toFixed(2)}% from mid ${ref.toString()}; the band is ±${band.times(100).toString()}%`,
      ),
    );
  }
  // Ours in flight (pending/unknown) are not on the venue's list yet, but may rest there.
  const open =
    (await venue.openOrders()).length +
    inflight.filter((o) => o.status === "pending" || o.status === "unknown").length;
  const rests = a.type === "limit" && tif !== "IOC" ? 1 : 0;
  const children = (tp ? 1 : 0) + (sl ? 1 : 0);
  const openAfter = open + rests + children;
  checks.push(
    chk(
      "max_open_orders",
      openAfter <= limits.max_open_orders,
      limits.max_open_orders,
      openAfter,
      `open orders after placement ${openAfter} must be ≤ ${limits.max_open_orders}`,
    ),
  );
  if (tp !== null || sl !== null) {
    const basis = price ?? ref;
    const long = a.side === "buy";
    const tpOk = tp === null || (long ? new Dec(tp).gt(basis) : new Dec(tp).lt(basis));
    const slOk = sl === null || (long ? new Dec(sl).lt(basis) : new Dec(sl).gt(basis));
    checks.push(
      chk(
        "bracket_prices",
        tpOk && slOk,
        long ? "take_profit > price > stop_loss" : "take_profit < price < stop_loss",
        { take_profit: tp, stop_loss: sl, price: basis.toString() },
        "take-profit must be beyond and stop-loss short of the entry price",
      ),
    );
  }
  const feeRate = new Dec(app.config.paper.takerFeeBps).dividedBy(10_000);
  return {
    venue: venueId,
    symbol: a.symbol,
    side: a.side,
    type: a.type,
    tif,
    size: r.size,
    price: r.price,
    ref_price: ref.toString(),
    notional: notional.toString(),
    worst_notional: worstNotional.toString(),
    est_fee: worstNotional.times(feeRate).toSignificantDigits(12).toString(),
    reduce_only: reduceOnly,
    take_profit: tp,
    stop_loss: sl,
    trailing_stop_bps: a.trailing_stop_bps ?? null,
    max_hold_minutes: a.max_hold_minutes ?? null,
    checks,
  };
}

/** RISK_REJECTED listing every failed check with its limit and value. */
export function riskRejected(failed: CheckResult[]): TwError {
  return new TwError(
    "RISK_REJECTED",
    `Order refused by risk: ${failed.map((c) => `${c.check} (${c.message})`).join("; ")}.`,
    {
      hint: "Change the order so every listed check passes (size, price, symbol), or ask an operator about the limits.",
      details: {
        failed: failed.map(({ check, limit, value, message }) => ({ check, limit, value, message })),
      },
    },
  );
}

/**
 * The risk gate step (order 70, inside the execution lane): runs when the call's facts carry `order`
 * (OrderArgs).
 */
export function riskStep(app: App): GateStep {
  return {
    name: "risk",
    order: 70,
    lane: true,
    async check(call) {
      const order = call.facts.order as OrderArgs | undefined;
      if (!order) return undefined;
      const prepared = await prepareOrder(app, order);
      call.state.prepared = prepared;
      const failed = prepared.checks.filter((c) => !c.passed);
      if (failed.length > 0) throw riskRejected(failed);
      return undefined;
    },
  };
}
