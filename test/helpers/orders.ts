import type { OrderRow } from "../../src/store/orders.js";

/**
 * An `orders` row for store tests: an open 0.01 BTC paper limit buy at 100,000 (notional 1,000
 * quote), client id `c<i>`, created and updated at `created_at` (ms UTC); `over` replaces any field.
 */
export function orderRow(i: number, created_at: number, over: Partial<OrderRow> = {}): OrderRow {
  return {
    id: `o${i}`,
    intent_id: null,
    parent_id: null,
    venue: "paper",
    symbol: "BTC",
    side: "buy",
    type: "limit",
    tif: "gtc",
    size: "0.01",
    price: "100000",
    trigger_px: null,
    tpsl: null,
    reduce_only: false,
    notional: "1000",
    client_order_id: `c${i}`,
    venue_order_id: null,
    status: "open",
    filled_size: "0",
    avg_px: null,
    reason: null,
    caller: "test",
    created_at,
    updated_at: created_at,
    ...over,
  };
}
