import { z } from "zod";
import { TwError } from "../errors.js";
import { ORDER_STATUSES } from "../exchange/venue.js";
import { VENUE_ARG } from "../orders/ops.js";
import { type Precision, precisionOf } from "../exchange/precision.js";
import { SYMBOL } from "../exchange/symbols.js";
import { orderView, roundOrder } from "../orders/views.js";
import { decodeCursor, encodeCursor } from "../store/audit.js";
import { ownedOrNotFound, ownerFilter } from "../policy/ownership.js";
import { clientOrderIdsOf, getOrder, listOrders } from "../store/orders.js";
import { getMeta } from "../store/meta.js";
import { orderSchema, presentOrder, submitSchema } from "./orders.js";
import { defineTool } from "./registry.js";

/**
 * account toolset (scope account:read): venue account state, our order records and fills. Read-only;
 * order_get also settles an `unknown` order by asking the venue for its status. Per-caller isolation
 * (src/policy/ownership.ts): agent and readonly callers see only their own orders, open orders and
 * fills (the account's equity and positions are the account's, shown to all); operators see all.
 */

const dec = z.string().describe("decimal string");
const orderHint = "Use an order_id from order_submit or order_list.";
const badCursor = () =>
  new TwError("INVALID_INPUT", "cursor is not valid.", { hint: "Pass next_cursor exactly as returned." });

export const accountTools = [
  defineTool({
    name: "account_get_state",
    toolset: "account",
    title: "Account state",
    description:
      "Equity, cash, positions (signed size in coins, entry/mark price, unrealised PnL, leverage, funding), gross notional and open orders on a venue (default when omitted). Decimal strings at the venue's precision, amounts in quote.",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: true },
    input: z.object({ venue: VENUE_ARG.optional() }).strict(),
    output: z.object({
      venue: z.string(),
      equity: dec,
      cash: dec,
      gross_notional: dec,
      positions: z.array(
        z.object({
          symbol: z.string(),
          size: dec,
          entry_px: dec,
          mark_px: dec,
          unrealized_pnl: dec,
          leverage: dec,
          funding: dec.nullable(),
        }),
      ),
      open_orders: z.array(
        z.object({
          client_order_id: z.string().nullable(),
          venue_order_id: z.string(),
          symbol: z.string(),
          side: z.string(),
          size: dec,
          filled_size: dec,
          price: dec.nullable(),
          status: z.string(),
          reduce_only: z.boolean(),
          trigger_px: dec.nullable(),
          time: z.number(),
        }),
      ),
      last_reconcile: z.number().nullable(),
      time: z.number(),
    }),
    facts: (args) => ({ venue: args.venue, exposure: "none" }),
    summarize: (r) => ({
      venue: r.venue,
      equity: r.equity,
      positions: r.positions.length,
      open_orders: r.open_orders.length,
    }),
    handler: async (args, { app, caller }) => {
      const id = args.venue ?? app.config.venues.default;
      const v = app.venues.get(id);
      const st = await v.accountState();
      let open = await v.openOrders();
      const owner = ownerFilter(caller);
      if (owner !== undefined) {
        const mine = clientOrderIdsOf(app.db, id, owner);
        open = open.filter((o) => o.client_order_id !== null && mine.has(o.client_order_id));
      }
      const last = getMeta<number>(app.db, `reconcile.${id}.last_at`) ?? null;
      const p = await precisionOf(v);
      return { ...p.account(st), open_orders: open.map((o) => p.openOrder(o)), last_reconcile: last };
    },
  }),
  defineTool({
    name: "order_list",
    toolset: "account",
    title: "List orders",
    description:
      "Our order records, newest first, filtered by venue, symbol and status; paged with next_cursor. Status `unknown` = outcome unconfirmed: resolve it with order_get.",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        venue: VENUE_ARG.optional(),
        symbol: SYMBOL.optional(),
        status: z.array(z.enum(ORDER_STATUSES)).max(8).optional(),
        limit: z.number().int().min(1).max(200).default(50),
        cursor: z.string().max(200).optional(),
      })
      .strict(),
    output: z.object({
      orders: z.array(orderSchema),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    facts: (args) => ({ venue: args.venue, exposure: "none" }),
    summarize: (r) => ({ orders: r.orders.length, truncated: r.truncated }),
    handler: async (args, { app, caller }) => {
      let before: { created_at: number; id: string } | undefined;
      if (args.cursor !== undefined) {
        const c = decodeCursor(args.cursor);
        if (!c || typeof c.created_at !== "number" || typeof c.id !== "string") throw badCursor();
        before = { created_at: c.created_at, id: c.id };
      }
      const rows = listOrders(app.db, {
        venue: args.venue,
        symbol: args.symbol,
        caller: ownerFilter(caller),
        statuses: args.status,
        limit: args.limit,
        before,
      });
      const truncated = rows.length > args.limit;
      const page = rows.slice(0, args.limit);
      const last = page[page.length - 1];
      const rules = new Map<string, Precision>();
      const orders = [];
      for (const o of page) {
        const p = rules.get(o.venue) ?? (await precisionOf(app.venues.get(o.venue)));
        rules.set(o.venue, p);
        orders.push(roundOrder(p, orderView(o)));
      }
      return {
        orders,
        truncated,
        next_cursor: truncated ? encodeCursor({ created_at: last.created_at, id: last.id }) : null,
      };
    },
  }),
  defineTool({
    name: "order_get",
    toolset: "account",
    title: "Get an order",
    description:
      "One order with its TP/SL children, refreshed from the venue while not final: an `unknown` order the venue never received becomes `not_found` (it is never re-sent).",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: true },
    input: z.object({ order_id: z.string().min(1).max(64) }).strict(),
    output: submitSchema,
    facts: (args, env, caller) => {
      ownedOrNotFound(caller, getOrder(env.db, args.order_id), `order ${args.order_id}`, orderHint);
      return { exposure: "none" };
    },
    handler: async (args, { app }) => presentOrder(app, await app.orders.get(args.order_id)),
  }),
  defineTool({
    name: "fill_list",
    toolset: "account",
    title: "List fills",
    description:
      "Fills on a venue (default venue when omitted), oldest first, from `since` (ms UTC): size in coins, price, fee (positive = paid) and realized_pnl in quote; paged with next_cursor.",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: true },
    input: z
      .object({
        venue: VENUE_ARG.optional(),
        since: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).max(500).default(100),
        cursor: z.string().max(200).optional(),
      })
      .strict(),
    output: z.object({
      venue: z.string(),
      fills: z.array(
        z.object({
          id: z.string(),
          venue_order_id: z.string(),
          client_order_id: z.string().nullable(),
          symbol: z.string(),
          side: z.string(),
          size: dec,
          price: dec,
          fee: dec,
          liquidity: z.string(),
          realized_pnl: dec,
          time: z.number(),
        }),
      ),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    facts: (args) => ({ venue: args.venue, exposure: "none" }),
    summarize: (r) => ({ venue: r.venue, fills: r.fills.length, truncated: r.truncated }),
    handler: async (args, { app, caller }) => {
      const id = args.venue ?? app.config.venues.default;
      let cursor: string | undefined;
      if (args.cursor !== undefined) {
        const c = decodeCursor(args.cursor);
        if (!c || typeof c.c !== "string") throw badCursor();
        cursor = c.c;
      }
      const venue = app.venues.get(id);
      const page = await venue.fills({ since: args.since, limit: args.limit, cursor });
      const p = await precisionOf(venue);
      const owner = ownerFilter(caller);
      const mine = owner === undefined ? undefined : clientOrderIdsOf(app.db, id, owner);
      return {
        venue: id,
        fills: (mine
          ? page.fills.filter((f) => f.client_order_id !== null && mine.has(f.client_order_id))
          : page.fills
        ).map((f) => p.fill(f)),
        truncated: page.truncated,
        next_cursor: page.next_cursor === null ? null : encodeCursor({ c: page.next_cursor }),
      };
    },
  }),
];
