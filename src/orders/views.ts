import type { Precision } from "../exchange/precision.js";
import { type ApprovalEnv, approvalState, describeIntent } from "../policy/approval.js";
import type { Caller } from "../policy/scopes.js";
import type { IntentRow } from "../store/intents.js";
import type { OrderRow } from "../store/orders.js";

/**
 * Result shapes of the order service (snake_case; the tools return them as structuredContent).
 * Sizes in coins, prices/notional/fees in quote currency, all as decimal strings; times ms UTC.
 */

/** An intent with its preview and approval state. */
export interface IntentView {
  intent_id: string;
  venue: string;
  symbol: string;
  side: string;
  type: string;
  tif: string;
  size: string;
  price: string | null;
  ref_price: string;
  notional: string;
  est_fee: string;
  reduce_only: boolean;
  take_profit: string | null;
  stop_loss: string | null;
  trailing_stop_bps: number | null;
  max_hold_minutes: number | null;
  client_order_id: string;
  approval_needed: boolean;
  approval_state: string;
  checks: Array<{ check: string; passed: boolean; limit: unknown; value: unknown; message: string }>;
  preview: string;
  created_at: number;
}

/** An order record. */
export interface OrderView {
  order_id: string;
  intent_id: string | null;
  parent_id: string | null;
  venue: string;
  symbol: string;
  side: string;
  type: string;
  tif: string;
  size: string;
  price: string | null;
  trigger_px: string | null;
  tpsl: string | null;
  reduce_only: boolean;
  client_order_id: string;
  venue_order_id: string | null;
  status: string;
  filled_size: string;
  avg_px: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

/** order_submit's result: the parent order, its TP/SL children, and whether this was a replay. */
export interface SubmitView extends OrderView {
  children: OrderView[];
  /** True when this call returned a stored outcome and sent nothing. */
  replayed: boolean;
  /** What to do next (set for `unknown` outcomes). */
  note: string | null;
}

/** Maps an intent row to its view for a caller (approval state as that caller would meet it). */
export function intentView(env: ApprovalEnv, i: IntentRow, caller: Caller): IntentView {
  return {
    intent_id: i.id,
    venue: i.venue,
    symbol: i.symbol,
    side: i.side,
    type: i.type,
    tif: i.tif,
    size: i.size,
    price: i.price,
    ref_price: i.ref_price,
    notional: i.notional,
    est_fee: i.est_fee,
    reduce_only: i.reduce_only,
    take_profit: i.take_profit,
    stop_loss: i.stop_loss,
    trailing_stop_bps: i.trailing_stop_bps ?? null,
    max_hold_minutes: i.max_hold_minutes ?? null,
    client_order_id: i.client_order_id,
    approval_needed: i.approval_needed,
    approval_state: approvalState(env, i, caller).state,
    checks: i.checks,
    preview: describeIntent(i),
    created_at: i.created_at,
  };
}

/** Maps an order row to its view. */
export function orderView(o: OrderRow): OrderView {
  return {
    order_id: o.id,
    intent_id: o.intent_id,
    parent_id: o.parent_id,
    venue: o.venue,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    tif: o.tif,
    size: o.size,
    price: o.price,
    trigger_px: o.trigger_px,
    tpsl: o.tpsl,
    reduce_only: o.reduce_only,
    client_order_id: o.client_order_id,
    venue_order_id: o.venue_order_id,
    status: o.status,
    filled_size: o.filled_size,
    avg_px: o.avg_px,
    reason: o.reason,
    created_at: o.created_at,
    updated_at: o.updated_at,
  };
}

/** An intent with sizes and prices at the venue's decimals and quote amounts at QUOTE_DECIMALS. */
export function roundIntent<V extends IntentView>(p: Precision, v: V): V {
  return {
    ...v,
    size: p.size(v.symbol, v.size),
    price: p.price(v.symbol, v.price),
    ref_price: p.price(v.symbol, v.ref_price),
    notional: p.quote(v.notional),
    est_fee: p.quote(v.est_fee),
    take_profit: p.price(v.symbol, v.take_profit),
    stop_loss: p.price(v.symbol, v.stop_loss),
  };
}

/** An order record with sizes and prices at the venue's decimals (children too). */
export function roundOrder<V extends OrderView>(p: Precision, v: V): V {
  const out: V = {
    ...v,
    size: p.size(v.symbol, v.size),
    price: p.price(v.symbol, v.price),
    trigger_px: p.price(v.symbol, v.trigger_px),
    filled_size: p.size(v.symbol, v.filled_size),
    avg_px: p.price(v.symbol, v.avg_px),
  };
  const children = (v as Partial<SubmitView>).children;
  return children ? { ...out, children: children.map((c) => roundOrder(p, c)) } : out;
}
