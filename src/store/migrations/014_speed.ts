import type { Migration } from "./index.js";

/**
 * Speed (issue 15): indexes so that no per-cycle query scans the whole order history. Without them
 * the live-order lists (reconciler, sweep, resolveUnknown) walked every order of the venue in
 * `created_at` order, `ordersOfIntent` scanned the table, and the rolling-24h notional SUM read each
 * row of the window from the table; replay time grew with the square of its length.
 * - `orders_live`: live orders by status (a handful at any time), newest first, with or without a
 *   venue; `listOrders` steers the planner onto it for live statuses.
 * - `orders_intent`: the orders of one intent, in creation order.
 * - `orders_sent`: covers the rolling-24h SUM (`sentNotionalSince`) so it reads only the index.
 */
export const m014Speed: Migration = {
  version: 14,
  name: "speed",
  up: `
CREATE INDEX orders_live ON orders(status, venue, created_at, id);
CREATE INDEX orders_intent ON orders(intent_id, created_at);
CREATE INDEX orders_sent ON orders(venue, created_at, status, parent_id, notional_micros);
`,
};
