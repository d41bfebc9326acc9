import { z } from "zod";
import { TwError } from "../errors.js";
import { VENUE_ARG } from "../orders/ops.js";
import { orderView } from "../orders/views.js";
import { decodeCursor, encodeCursor } from "../store/audit.js";
import { listOrders } from "../store/orders.js";
import { getMeta } from "../store/meta.js";
import { orderSchema, submitSchema } from "./orders.js";
import { defineTool } from "./registry.js";

/**
 * account toolset (scope account:read): venue account state, our order records and fills. Read-only;
 * order_get also settles an `unknown` order by asking the venue for its status.
 */

const dec = z.string().describe("decimal string");
const STATUSES = [
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
const badCursor = () =>
  new TwError("INVALID_INPUT", "cursor is not valid.", { hint: "Pass next_cursor exactly as returned." });

export const accountTools = [
  defineTool({
    name: "account_get_state",
    toolset: "account",
    title: "Account state",
    description:
      "Equity, cash, positions (signed size in coins, entry and mark price, unrealised PnL, leverage, funding), gross " +
      "notional, open orders, and the last reconcile time (ms UTC, null if never) on a venue (default venue when omitted). " +
      "Amounts in quote currency as decimal strings. Paper: equity = cash + Σ unrealised PnL.",
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
    handler: async (args, { app }) => {
      const id = args.venue ?? app.config.venues.default;
      const v = app.venues.get(id);
      const st = await v.accountState();
      const open = await v.openOrders();
      const last = getMeta<number>(app.db, `reconcile.${id}.last_at`) ?? null;
      return { ...st, open_orders: open, last_reconcile: last };
    },
  }),
  defineTool({
    name: "order_list",
    toolset: "account",
    title: "List orders",
    description:
      "Our order records, newest first, optionally by venue, symbol and status. limit 1..200 (default 50); pass " +
      "next_cursor back as cursor; truncated says more exist. Statuses: pending, unknown (outcome unconfirmed: resolve " +
      "with order_get), open, waiting_trigger, filled, canceled, rejected, not_found.",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        venue: VENUE_ARG.optional(),
        symbol: z
          .string()
          .regex(/^[A-Z0-9]{1,20}$/)
          .optional(),
        status: z.array(z.enum(STATUSES)).max(8).optional(),
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
    handler: async (args, { app }) => {
      let before: { created_at: number; id: string } | undefined;
      if (args.cursor !== undefined) {
        const c = decodeCursor(args.cursor);
        if (!c || typeof c.created_at !== "number" || typeof c.id !== "string") throw badCursor();
        before = { created_at: c.created_at, id: c.id };
      }
      const rows = listOrders(app.db, {
        venue: args.venue,
        symbol: args.symbol,
        statuses: args.status,
        limit: args.limit,
        before,
      });
      const truncated = rows.length > args.limit;
      const page = rows.slice(0, args.limit);
      const last = page[page.length - 1];
      return {
        orders: page.map(orderView),
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
      "One order with its TP/SL children. A non-final order (pending, unknown, open, waiting_trigger) is refreshed from " +
      "the venue's order status first: an `unknown` order the venue never received becomes `not_found` (it is never " +
      "re-sent).",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: true },
    input: z.object({ order_id: z.string().min(1).max(64) }).strict(),
    output: submitSchema,
    handler: async (args, { app }) => app.orders.get(args.order_id),
  }),
  defineTool({
    name: "fill_list",
    toolset: "account",
    title: "List fills",
    description:
      "Fills (executions) on a venue (default venue when omitted), oldest first, from `since` (ms UTC, inclusive). " +
      "Size in coins, price/fee/realized_pnl in quote (fee positive = paid). limit 1..500 (default 100); pass " +
      "next_cursor back as cursor; truncated says more exist.",
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
    handler: async (args, { app }) => {
      const id = args.venue ?? app.config.venues.default;
      let cursor: string | undefined;
      if (args.cursor !== undefined) {
        const c = decodeCursor(args.cursor);
        if (!c || typeof c.c !== "string") throw badCursor();
        cursor = c.c;
      }
      const page = await app.venues.get(id).fills({ since: args.since, limit: args.limit, cursor });
      return {
        venue: id,
        fills: page.fills,
        truncated: page.truncated,
        next_cursor: page.next_cursor === null ? null : encodeCursor({ c: page.next_cursor }),
      };
    },
  }),
];
