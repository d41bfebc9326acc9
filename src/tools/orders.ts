import { z } from "zod";
import { decide } from "../policy/approval.js";
import {
  handlePropose,
  handleSubmit,
  proposeFacts,
  proposeInput,
  submitFacts,
  submitInput,
  VENUE_ARG,
} from "../orders/ops.js";
import { intentView } from "../orders/views.js";
import { getOrder } from "../store/orders.js";
import { defineTool, type ToolContext } from "./registry.js";

/**
 * orders + approval toolsets: thin adapters over src/orders (domain) and src/policy/approval.ts.
 * Every call passes the full gate; order_submit writes its idempotency reservation before the venue
 * call and never re-sends a key.
 */

const dec = z.string().describe("decimal string");
const check = z.object({
  check: z.string(),
  passed: z.boolean(),
  limit: z.unknown(),
  value: z.unknown(),
  message: z.string(),
});

/** An intent as returned by order_propose. */
export const intentSchema = z.object({
  intent_id: z.string(),
  venue: z.string(),
  symbol: z.string(),
  side: z.string(),
  type: z.string(),
  tif: z.string(),
  size: dec,
  price: dec.nullable(),
  ref_price: dec,
  notional: dec,
  est_fee: dec,
  reduce_only: z.boolean(),
  take_profit: dec.nullable(),
  stop_loss: dec.nullable(),
  trailing_stop_bps: z.number().nullable(),
  max_hold_minutes: z.number().nullable(),
  client_order_id: z.string(),
  approval_needed: z.boolean(),
  approval_state: z.string(),
  checks: z.array(check),
  preview: z.string(),
  created_at: z.number(),
});

/** An order record. */
export const orderSchema = z.object({
  order_id: z.string(),
  intent_id: z.string().nullable(),
  parent_id: z.string().nullable(),
  venue: z.string(),
  symbol: z.string(),
  side: z.string(),
  type: z.string(),
  tif: z.string(),
  size: dec,
  price: dec.nullable(),
  trigger_px: dec.nullable(),
  tpsl: z.string().nullable(),
  reduce_only: z.boolean(),
  client_order_id: z.string(),
  venue_order_id: z.string().nullable(),
  status: z.string(),
  filled_size: dec,
  avg_px: dec.nullable(),
  reason: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});

/** order_submit / order_get result: the parent and its TP/SL children. */
export const submitSchema = orderSchema.extend({
  children: z.array(orderSchema),
  replayed: z.boolean(),
  note: z.string().nullable(),
});

const idemKey = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe("Idempotency key: a retry with the same key returns the first result.");
const decisionInput = z
  .object({ intent_id: z.string().min(1).max(64), reason: z.string().max(500).optional() })
  .strict();
const decisionOutput = z.object({
  intent_id: z.string(),
  decision: z.string(),
  actor: z.string(),
  expires_at: z.number().nullable(),
  intent: intentSchema,
});

/** Handler of order_approve / order_reject: records the decision (operator) and returns it with the intent. */
function decisionHandler(decision: "approved" | "rejected") {
  return async (args: { intent_id: string; reason?: string }, { app, caller }: ToolContext) => {
    const { intent, approval } = decide(
      app,
      args.intent_id,
      decision,
      caller.id,
      "tool",
      args.reason ?? null,
    );
    return {
      intent_id: intent.id,
      decision: approval.decision,
      actor: approval.actor,
      expires_at: approval.expires_at,
      intent: intentView(app, intent, caller),
    };
  };
}

export const orderTools = [
  defineTool({
    name: "order_propose",
    toolset: "orders",
    title: "Propose an order",
    description:
      "Validates an order, rounds size (coins) and price (quote) to the venue's lot/tick rules, runs every risk check and " +
      "stores it as an intent. Returns intent_id, a preview (side, size, price, notional, est. fee), the checks and whether " +
      "approval is needed (any non-paper venue; paper above the auto-approve notional). Give size (coins) or notional (quote). " +
      "Symbols are base coins (BTC). Nothing is sent. Idempotent by client_order_id. Refusals: HALTED, REDUCE_ONLY, " +
      "MAINNET_BLOCKED, RISK_REJECTED (every failed check with limit and value).",
    scope: "orders:propose",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: proposeInput,
    output: intentSchema,
    facts: (args) => proposeFacts(args),
    handler: async (args, { app, caller, call }) => handlePropose(app, caller, args, call),
  }),
  defineTool({
    name: "order_submit",
    toolset: "orders",
    title: "Submit an approved intent",
    description:
      "Sends the intent's exact order to its venue. Needs approval when the intent says approval_needed: if missing, the " +
      "human is asked (when your client supports elicitation), else APPROVAL_REQUIRED says what the operator must run. " +
      "Idempotent by the intent's client_order_id: a retry never sends twice and returns the recorded order. Status is the " +
      "venue's (open, filled, rejected → EXCHANGE_REJECTED, ...); `unknown` means the venue did not confirm in time — call " +
      "order_get to resolve it, never resubmit.",
    scope: "orders:submit",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    input: submitInput,
    output: submitSchema,
    facts: (args, env) => submitFacts(env.db, args, true),
    summarize: (r) => ({ order_id: r.order_id, status: r.status, replayed: r.replayed }),
    handler: async (args, { app, caller, call, elicit }) => handleSubmit(app, caller, args, call, elicit),
  }),
  defineTool({
    name: "order_cancel",
    toolset: "orders",
    title: "Cancel an order",
    description:
      "Cancels a resting order (and its waiting TP/SL children) by order_id. Works in every control mode. " +
      "Refused when the order is already filled/canceled (INVALID_INPUT) or the venue refuses (EXCHANGE_REJECTED).",
    scope: "orders:submit",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    input: z.object({ order_id: z.string().min(1).max(64), idempotency_key: idemKey }).strict(),
    output: orderSchema,
    facts: (args, env) => ({
      mutating: true,
      exposure: "none",
      venue: getOrder(env.db, args.order_id)?.venue,
      idempotencyKey: args.idempotency_key,
    }),
    handler: async (args, { app }) => app.orders.cancel(args.order_id),
  }),
  defineTool({
    name: "order_cancel_all",
    toolset: "orders",
    title: "Cancel all resting orders",
    description:
      "Cancels every resting order we placed on a venue (default venue when omitted), optionally for one symbol. " +
      "Works in every control mode. Returns one outcome per order.",
    scope: "orders:submit",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    input: z
      .object({
        venue: VENUE_ARG.optional(),
        symbol: z
          .string()
          .regex(/^[A-Z0-9]{1,20}$/)
          .optional(),
        idempotency_key: idemKey,
      })
      .strict(),
    output: z.object({
      venue: z.string(),
      results: z.array(z.object({ order_id: z.string(), ok: z.boolean(), error: z.string().nullable() })),
    }),
    facts: (args) => ({
      mutating: true,
      exposure: "none",
      venue: args.venue,
      idempotencyKey: args.idempotency_key,
    }),
    handler: async (args, { app }) => {
      const venue = args.venue ?? app.config.venues.default;
      return { venue, results: await app.orders.cancelAll(venue, args.symbol) };
    },
  }),
  defineTool({
    name: "order_approve",
    toolset: "approval",
    title: "Approve an intent",
    description:
      "Approves an intent for submission (operator only). The approval binds to the intent's exact payload and expires " +
      "after the configured TTL (default 10 min). Refused for submitted or rejected intents.",
    scope: "orders:approve",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    input: decisionInput,
    output: decisionOutput,
    handler: decisionHandler("approved"),
  }),
  defineTool({
    name: "order_reject",
    toolset: "approval",
    title: "Reject an intent",
    description:
      "Rejects an intent (operator only). A rejection is final: the intent can never be submitted.",
    scope: "orders:approve",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    input: decisionInput,
    output: decisionOutput,
    handler: decisionHandler("rejected"),
  }),
];
