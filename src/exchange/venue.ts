import type { Instrument } from "./types.js";

/**
 * The execution contract every venue implements (DESIGN.md §4): paper, Hyperliquid, ccxt. Market
 * data stays on {@link MarketData}; a Venue is about the account: instruments with their precision,
 * account state, open orders, fills (paged), place/cancel in batches, and order status.
 *
 * Units: times ms UTC; prices in quote currency; sizes in coins; all prices and sizes crossing this
 * boundary are decimal strings already rounded to the venue's rules (see {@link Venue.round}).
 * Errors are TwError: EXCHANGE_UNAVAILABLE (retryable; the request may or may not have arrived unless
 * `details.sent === false`), EXCHANGE_REJECTED (definitive refusal by the venue), RATE_LIMITED
 * (not sent), NOT_FOUND (unknown symbol).
 */

/** Side of an order. */
export type OrderSide = "buy" | "sell";
/** Order type as the tools expose it; trigger children (TP/SL) are `market` with a trigger. */
export type OrderType = "market" | "limit";
/** Time in force: good-till-cancel, immediate-or-cancel, add-liquidity-only (post-only). */
export type Tif = "GTC" | "IOC" | "ALO";

/**
 * Lifecycle of an order as we record it.
 * `pending` reservation written, venue call not finished · `unknown` outcome ambiguous (timeout,
 * crash) — resolved only by an order-status query · `open` resting · `waiting_trigger` TP/SL child
 * not yet triggered · `filled` · `canceled` · `rejected` by the venue · `not_found` the venue never
 * received it (settled after an ambiguous outcome; never re-sent) · `partially_filled` ended with
 * part of it filled: the rest was canceled (an IOC remainder, or a resting order canceled after a
 * partial fill). A resting order with a partial fill is still `open` with `filled_size` > 0.
 */
export const ORDER_STATUSES = [
  "pending",
  "unknown",
  "open",
  "waiting_trigger",
  "filled",
  "canceled",
  "rejected",
  "not_found",
  "partially_filled",
] as const;
/** Our status of an order (see ORDER_STATUSES). */
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses after which an order never changes again. */
export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([
  "filled",
  "canceled",
  "rejected",
  "not_found",
  "partially_filled",
]);

/** A TP/SL trigger: fires a reduce-only market order when the price crosses `trigger_px`. */
export interface TriggerSpec {
  trigger_px: string;
  tpsl: "tp" | "sl";
}

/**
 * A position guard carried by an entry order (issue 13): once the order fills, close the position it
 * opened when the price retraces `trailing_stop_bps` from the best price since the fill, or after
 * `max_hold_ms`. Venues with `nativeGuards` evaluate it themselves; for the others the guard loop
 * (src/engine/guard.ts) does.
 */
export interface GuardSpec {
  trailing_stop_bps: number | null;
  max_hold_ms: number | null;
}

/** One order to place. `size`/`price` are rounded decimal strings. */
export interface PlaceRequest {
  client_order_id: string;
  symbol: string;
  side: OrderSide;
  type: OrderType;
  size: string;
  /**
   * Limit price; for market orders the worst acceptable price (protection), which venues without a
   * native market order (Hyperliquid) send as an IOC limit. Paper ignores it for market orders.
   */
  price: string | null;
  tif: Tif;
  reduce_only: boolean;
  /** Present on TP/SL children. */
  trigger?: TriggerSpec;
  /** TP/SL children: the parent's client order id (placed in the same batch, before them). */
  parent_client_order_id?: string;
  /** Position guard of a parent order; only sent to venues with `nativeGuards`. */
  guard?: GuardSpec;
}

/** What the venue said about one placed order. Never `filled` unless the venue reported a fill. */
export interface PlaceResult {
  client_order_id: string;
  status: OrderStatus;
  venue_order_id: string | null;
  /** Coins filled so far (decimal string). */
  filled_size: string;
  /** Average fill price, or null when nothing filled. */
  avg_px: string | null;
  /** The venue's reason when rejected. */
  error?: string;
}

/** One cancel: by our client order id, with the venue's id when known. */
export interface CancelRequest {
  symbol: string;
  client_order_id: string;
  venue_order_id: string | null;
}

/** Result of one cancel. `ok: false` carries the venue's reason (e.g. already filled). */
export interface CancelResult {
  client_order_id: string;
  ok: boolean;
  error?: string;
}

/** An order as the venue reports it (open orders, order status). */
export interface VenueOrder {
  client_order_id: string | null;
  venue_order_id: string;
  symbol: string;
  side: OrderSide;
  size: string;
  filled_size: string;
  price: string | null;
  status: OrderStatus;
  reduce_only: boolean;
  trigger_px: string | null;
  time: number;
}

/** One fill (execution). `fee` and `realized_pnl` in quote currency; fee positive = paid. */
export interface VenueFill {
  id: string;
  venue_order_id: string;
  client_order_id: string | null;
  symbol: string;
  side: OrderSide;
  size: string;
  price: string;
  fee: string;
  liquidity: "maker" | "taker";
  realized_pnl: string;
  time: number;
  /** `liquidation` when the venue closed the position for lack of margin; default `trade`. */
  kind?: "trade" | "liquidation";
}

/** A position. `size` is signed (long > 0), coins; prices in quote. */
export interface VenuePosition {
  symbol: string;
  size: string;
  entry_px: string;
  mark_px: string;
  unrealized_pnl: string;
  /** |size| × mark / equity. */
  leverage: string;
  /** Funding received (+) or paid (−) since the position opened, when the venue reports it. */
  funding: string | null;
}

/** Account snapshot: equity = cash + Σ unrealised PnL (quote currency). */
export interface AccountState {
  venue: string;
  equity: string;
  cash: string;
  positions: VenuePosition[];
  /** Σ |size| × mark (quote). */
  gross_notional: string;
  time: number;
}

/** A page of fills, oldest first; pass `next_cursor` back to continue. */
export interface FillPage {
  fills: VenueFill[];
  next_cursor: string | null;
  truncated: boolean;
}

/** Query of {@link Venue.fills}: `since` ms UTC inclusive; `limit` 1..500. */
export interface FillQuery {
  since?: number;
  limit: number;
  cursor?: string;
}

/** Reference used to look an order up at the venue. */
export interface OrderRef {
  symbol: string;
  client_order_id: string;
  venue_order_id: string | null;
}

/** One execution venue. Implementations: PaperVenue, HyperliquidVenue, CcxtVenue. */
export interface Venue {
  /** `paper`, `hyperliquid:testnet`, `okx:demo`, ... */
  readonly id: string;
  readonly network: "paper" | "demo" | "testnet" | "mainnet";
  /** True when the venue evaluates {@link GuardSpec}s itself (paper, bar by bar). */
  readonly nativeGuards?: boolean;
  /** Tradable perps with precision rules. */
  instruments(): Promise<Instrument[]>;
  /**
   * Rounds a size (down, to the lot) and a price (to the venue's tick rules) as decimal strings.
   * Size rounds toward zero so an order never exceeds what was asked.
   * @throws TwError NOT_FOUND for an unknown symbol.
   */
  round(symbol: string, size: string, price: string | null): Promise<{ size: string; price: string | null }>;
  accountState(): Promise<AccountState>;
  openOrders(): Promise<VenueOrder[]>;
  fills(q: FillQuery): Promise<FillPage>;
  /** Places a batch; one result per request, same order. */
  place(reqs: PlaceRequest[]): Promise<PlaceResult[]>;
  cancel(reqs: CancelRequest[]): Promise<CancelResult[]>;
  /** The venue's view of one order; null when the venue does not know it (never received). */
  orderStatus(ref: OrderRef): Promise<VenueOrder | null>;
}
