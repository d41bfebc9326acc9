import { z } from "zod";
import type { TwError } from "../errors.js";
import { decide, requestApproval } from "../policy/approval.js";
import { ownerFilter } from "../policy/ownership.js";
import {
  cancelAllFacts,
  cancelAllInput,
  cancelFacts,
  cancelInput,
  handlePropose,
  handleSubmit,
  proposeFacts,
  proposeInput,
  submitFacts,
  submitInput,
} from "../orders/ops.js";
import type { App } from "../app.js";
import { precisionOf } from "../exchange/precision.js";
import { intentView, type IntentView, type OrderView, roundIntent, roundOrder } from "../orders/views.js";
import { getIntent } from "../store/intents.js";
import { defineTool, type RefusalContext, type ToolContext } from "./registry.js";

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
export const orderSchema = z
  .object({
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
  })
  // One definition in tools/list ($defs) wherever orders repeat (order_submit's children, order_list).
  .meta({ id: "order" });

/** order_submit / order_get result: the parent and its TP/SL children (one order definition in tools/list). */
export const submitSchema = z.intersection(
  orderSchema,
  z.object({
    children: z.array(orderSchema),
    replayed: z.boolean(),
    note: z.string().nullable(),
  }),
);

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

/** Rules of `venue` for rounding a result (src/exchange/precision.ts). */
const precision = (app: App, venue: string) => precisionOf(app.venues.get(venue));

/** An intent result at the venue's precision. */
export async function presentIntent<V extends IntentView>(app: App, v: V): Promise<V> {
  return roundIntent(await precision(app, v.venue), v);
}

/** An order result (and its children) at the venue's precision. */
export async function presentOrder<V extends OrderView>(app: App, v: V): Promise<V> {
  return roundOrder(await precision(app, v.venue), v);
}

/** Handler of order_approve / order_reject: records the decision (operator) and returns it with the intent. */
function decisionHandler(decision: "approved" | "rejected") {
  return async (args: { intent_id: string; reason?: string }, { app, caller }: ToolContext) => {
    const { intent, approval } = decide(
      app.approval,
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
      intent: await presentIntent(app, intentView(app.approval, intent, caller)),
    };
  };
}

/**
 * order_submit's refusal hook: when approval is missing or expired, ask the human through a channel
 * that counts (URL elicitation to the console, or a form the operator trusts) and retry once.
 */
async function askForApproval(error: TwError, { app, caller, rawArgs, channels }: RefusalContext) {
  const state = error.details?.state;
  if (error.code !== "APPROVAL_REQUIRED" || (state !== "missing" && state !== "expired")) return false;
  const intent = getIntent(app.db, String((rawArgs as { intent_id?: unknown }).intent_id));
  if (!intent) return false;
  return requestApproval(app.approval, caller, intent, channels);
}

export const orderTools = [
  defineTool({
    name: "order_propose",
    toolset: "orders",
    title: "Propose an order",
    description:
      "Rounds an order to the venue's lot and tick, runs every risk check and stores it as an intent; nothing is sent. Give size (coins) or notional (quote). Returns intent_id, preview, checks and whether approval is needed (non-paper venues, or paper above the auto-approve notional). Idempotent by client_order_id.",
    scope: "orders:propose",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: proposeInput,
    output: intentSchema,
    facts: (args) => proposeFacts(args),
    handler: async (args, { app, caller, call }) =>
      presentIntent(app, await handlePropose(app, caller, args, call)),
  }),
  defineTool({
    name: "order_submit",
    toolset: "orders",
    title: "Submit an approved intent",
    description:
      "Sends an intent's exact order. Unapproved and approval_needed: APPROVAL_REQUIRED names the operator's command and console page (a URL-elicitation client is sent the page). Idempotent by client_order_id: never sends twice. Status `unknown` = unconfirmed: call order_get, never resubmit.",
    scope: "orders:submit",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    input: submitInput,
    output: submitSchema,
    facts: (args, env, caller) => submitFacts(env.db, args, caller),
    summarize: (r) => ({ order_id: r.order_id, status: r.status, replayed: r.replayed }),
    handler: async (args, { app, caller }) => presentOrder(app, await handleSubmit(app, caller, args)),
    onRefused: askForApproval,
  }),
  defineTool({
    name: "order_cancel",
    toolset: "orders",
    title: "Cancel an order",
    description: "Cancels a resting order and its waiting TP/SL children. Works in every control mode.",
    scope: "orders:submit",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    input: cancelInput,
    output: orderSchema,
    facts: (args, env, caller) => cancelFacts(env.db, args, caller),
    handler: async (args, { app }) => presentOrder(app, await app.orders.cancel(args.order_id)),
  }),
  defineTool({
    name: "order_cancel_all",
    toolset: "orders",
    title: "Cancel all resting orders",
    description:
      "Cancels every resting order we placed on a venue (default venue when omitted), optionally for one symbol. Works in every control mode.",
    scope: "orders:submit",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    input: cancelAllInput,
    output: z.object({
      venue: z.string(),
      results: z.array(z.object({ order_id: z.string(), ok: z.boolean(), error: z.string().nullable() })),
    }),
    facts: (args, env) => cancelAllFacts(args, env.defaultVenue),
    handler: async (args, { app, caller }) => {
      const venue = args.venue ?? app.config.venues.default;
      return { venue, results: await app.orders.cancelAll(venue, args.symbol, ownerFilter(caller)) };
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
