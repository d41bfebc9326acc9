import { z } from "zod";
import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { SYMBOL } from "../exchange/symbols.js";
import { VENUE_ID_RE } from "../exchange/venues.js";
import { approvalState, decide } from "../policy/approval.js";
import type { GateCall, GatedOperation, GateOutcome, PolicyFacts } from "../policy/gate.js";
import { ownedOrNotFound, ownerFilter } from "../policy/ownership.js";
import { type OrderArgs, type PreparedOrder, prepareOrder } from "../policy/risk.js";
import type { Caller } from "../policy/scopes.js";
import type { ApprovalVia } from "../store/approvals.js";
import type { Db } from "../store/db.js";
import { getIntent } from "../store/intents.js";
import { getOrder } from "../store/orders.js";
import { summarizeProposal } from "./proposalSummary.js";
import { SUBMIT_SCOPE, submitKey } from "./service.js";
import { type IntentView, intentView, type OrderView, type SubmitView } from "./views.js";

/**
 * The two gated order operations shared by the MCP tools (src/tools/orders.ts) and the minute cycle
 * ({@link submitThroughGate}): the same schemas, facts and handlers, so every order — agent or
 * system — passes rate limit → [execution lane: idempotency → control → venue guard → risk →
 * approval → execute] → audit (src/policy/gate.ts).
 */

const positive = z.number().positive().finite();
/** Client order ids: 1–64 of `A-Z a-z 0-9 : _ - .` (the cycle uses `cycle_id:symbol:slice:side`). */
export const CLIENT_ORDER_ID = z
  .string()
  .regex(/^[A-Za-z0-9:_.-]{1,64}$/, "1–64 characters of A-Z a-z 0-9 : _ - .");
/** Venue id argument. */
export const VENUE_ARG = z
  .string()
  .regex(VENUE_ID_RE, "paper, hyperliquid:testnet, <ccxtId>:demo|testnet|mainnet");

/** Input of order_propose. */
export const proposeInput = z
  .object({
    venue: VENUE_ARG.optional().describe("Venue id; default from config (paper)."),
    symbol: SYMBOL,
    side: z.enum(["buy", "sell"]),
    type: z.enum(["market", "limit"]),
    size: positive.optional().describe("Size in coins (give size or notional)."),
    notional: positive.optional().describe("Size in quote currency (give size or notional)."),
    price: positive
      .optional()
      .describe("Limit price (quote); for market orders on real venues an optional worst price."),
    tif: z
      .enum(["GTC", "IOC", "ALO"])
      .optional()
      .describe("Time in force; default GTC for limit, IOC for market."),
    reduce_only: z
      .boolean()
      .optional()
      .describe("Only reduce a position; required to close in REDUCE_ONLY/HALT."),
    take_profit: positive.optional().describe("TP trigger price: a reduce-only child order."),
    stop_loss: positive.optional().describe("SL trigger price: a reduce-only child order."),
    trailing_stop_bps: z
      .number()
      .positive()
      .max(5_000)
      .optional()
      .describe("Position guard: close when the price retraces this many bps from its best since the fill."),
    max_hold_minutes: z
      .number()
      .int()
      .positive()
      .max(43_200)
      .optional()
      .describe("Position guard: close the position this many minutes after the fill."),
    client_order_id: CLIENT_ORDER_ID.optional().describe(
      "Your idempotency key for this order; generated when omitted.",
    ),
  })
  .strict();

/** Input of order_submit. */
export const submitInput = z
  .object({
    intent_id: z.string().min(1).max(64),
    client_order_id: CLIENT_ORDER_ID.optional().describe(
      "Must equal the intent's client_order_id when given.",
    ),
  })
  .strict();

/** Idempotency key of a mutating call other than an order (cancels): a retry returns the first result. */
export const IDEM_KEY = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe("Retry key: a retry with the same key returns the first result.");

/** Input of order_cancel. */
export const cancelInput = z
  .object({ order_id: z.string().min(1).max(64), idempotency_key: IDEM_KEY })
  .strict();

/** Input of order_cancel_all. */
export const cancelAllInput = z
  .object({ venue: VENUE_ARG.optional(), symbol: SYMBOL.optional(), idempotency_key: IDEM_KEY })
  .strict();

type ProposeArgs = z.infer<typeof proposeInput>;
type CancelArgs = z.infer<typeof cancelInput>;
type CancelAllArgs = z.infer<typeof cancelAllInput>;
type SubmitArgs = z.infer<typeof submitInput>;

/** Order arguments; an omitted venue stays "" and the risk step resolves it to the default venue. */
function orderArgs(a: ProposeArgs): OrderArgs {
  return { ...a, venue: a.venue ?? "" };
}

/**
 * Facts of order_propose: exposure from reduce_only, venue, key, and the order for the risk step.
 * (Facts see no config: an omitted venue is resolved by the risk step, which re-checks mainnet.)
 */
export function proposeFacts(a: ProposeArgs): PolicyFacts {
  return {
    mutating: false,
    exposure: a.reduce_only ? "reduce" : "increase",
    venue: a.venue,
    idempotencyKey: a.client_order_id ? submitKey(a.venue ?? "default", a.client_order_id) : undefined,
    order: orderArgs(a),
  };
}

/**
 * Facts of order_submit, from the stored intent: the key is the intent's client order id, the
 * payload hash the intent's, the lane the intent's venue account, and the handler writes the
 * reservation itself.
 * @throws TwError NOT_FOUND (unknown intent, or another caller's), INVALID_INPUT (client_order_id
 *   mismatch).
 */
export function submitFacts(db: Db, a: SubmitArgs, caller: Caller): PolicyFacts {
  const i = ownedOrNotFound(
    caller,
    getIntent(db, a.intent_id),
    `intent ${a.intent_id}`,
    "Use an intent_id returned to you by order_propose.",
  );
  if (a.client_order_id !== undefined && a.client_order_id !== i.client_order_id) {
    throw new TwError(
      "INVALID_INPUT",
      `client_order_id ${a.client_order_id} does not match intent ${i.id} (${i.client_order_id}).`,
      {
        hint: "Omit client_order_id or pass the intent's own.",
      },
    );
  }
  return {
    mutating: true,
    exposure: i.reduce_only ? "reduce" : "increase",
    venue: i.venue,
    idempotencyKey: submitKey(i.venue, i.client_order_id),
    payloadHash: i.payload_hash,
    idempotencyManaged: true,
    intentId: i.id,
    lane: i.venue,
    order: {
      venue: i.venue,
      symbol: i.symbol,
      side: i.side,
      type: i.type,
      size: i.size,
      price: i.price ?? undefined,
      tif: i.tif,
      reduce_only: i.reduce_only,
      take_profit: i.take_profit ?? undefined,
      stop_loss: i.stop_loss ?? undefined,
      trailing_stop_bps: i.trailing_stop_bps ?? undefined,
      max_hold_minutes: i.max_hold_minutes ?? undefined,
    } satisfies OrderArgs,
  };
}

/** Handler of order_propose: records the intent prepared (rounded, checked) by the risk step. */
export async function handlePropose(
  app: App,
  caller: Caller,
  a: ProposeArgs,
  call: GateCall,
): Promise<IntentView> {
  const prepared =
    (call.state.prepared as PreparedOrder | undefined) ?? (await prepareOrder(app, orderArgs(a)));
  return intentView(app.approval, app.orders.propose(caller, prepared, a.client_order_id), caller);
}

/**
 * Handler of order_submit: the gate has approved and checked the order and holds the account's
 * lane; the order service records, sends and records the outcome.
 */
export async function handleSubmit(app: App, caller: Caller, a: SubmitArgs): Promise<SubmitView> {
  return app.orders.submit(caller, a.intent_id);
}

/**
 * order_propose as a gated operation (no MCP): the system callers' path. Its audit result is the
 * decision with each check's limit and value, not the whole view (src/orders/proposalSummary.ts).
 */
export function proposeOp(): GatedOperation<ProposeArgs, IntentView> {
  return {
    name: "order_propose",
    scope: "orders:propose",
    input: proposeInput,
    facts: (a) => proposeFacts(a),
    summarize: summarizeProposal,
  };
}

/** order_submit as a gated operation (no MCP). */
export function submitOp(app: App): GatedOperation<SubmitArgs, SubmitView> {
  return {
    name: SUBMIT_SCOPE,
    scope: "orders:submit",
    input: submitInput,
    facts: (a, _env, caller) => submitFacts(app.db, a, caller),
    summarize: (r) => ({ order_id: r.order_id, status: r.status, replayed: r.replayed }),
  };
}

/**
 * An approval given by whoever asked for the order, recorded before submit: the operator who called
 * control_flatten (an `orders:approve` caller), or a guard exit inheriting the approval of the entry
 * intent it protects. Never reachable from a tool argument.
 */
export interface PriorApproval {
  actor: string;
  reason: string;
  via: ApprovalVia;
}

/**
 * Proposes and submits one order through the full gate — the path the minute cycle (issue 5), the
 * flatten command and the position guard use with their callers. Both calls are audited. Returns the
 * submit outcome, or the propose refusal. With `approval`, an intent that needs approval is approved
 * (recorded in `approvals` with the actor and reason) between propose and submit.
 */
export async function submitThroughGate(
  app: App,
  caller: Caller,
  args: z.input<typeof proposeInput>,
  approval?: PriorApproval,
): Promise<GateOutcome> {
  const p = await app.gate.run(proposeOp(), caller, args, (a, call) =>
    handlePropose(app, caller, a, call as GateCall),
  );
  if (!p.ok) return p;
  const intentId = (p.result as IntentView).intent_id;
  if (approval && (p.result as IntentView).approval_needed && !p.replayed) {
    const st = approvalState(app.approval, app.orders.intent(intentId), caller);
    if (st.state === "missing" || st.state === "expired")
      decide(app.approval, intentId, "approved", approval.actor, approval.via, approval.reason);
  }
  return app.gate.run(submitOp(app), caller, { intent_id: intentId }, (a) => handleSubmit(app, caller, a));
}

const ORDER_HINT = "Use an order_id from order_submit or order_list.";

/**
 * Facts of order_cancel: the order's venue account is the lane (a cancel is order-affecting: it
 * changes what may still fill).
 * @throws TwError NOT_FOUND (unknown order, or another caller's).
 */
export function cancelFacts(db: Db, a: CancelArgs, caller: Caller): PolicyFacts {
  const o = ownedOrNotFound(caller, getOrder(db, a.order_id), `order ${a.order_id}`, ORDER_HINT);
  return {
    mutating: true,
    exposure: "none",
    venue: o.venue,
    lane: o.venue,
    idempotencyKey: a.idempotency_key,
  };
}

/** Facts of order_cancel_all: the venue's lane (default venue when omitted). */
export function cancelAllFacts(a: CancelAllArgs, defaultVenue: string): PolicyFacts {
  return {
    mutating: true,
    exposure: "none",
    venue: a.venue,
    lane: a.venue ?? defaultVenue,
    idempotencyKey: a.idempotency_key,
  };
}

/** order_cancel as a gated operation (no MCP). */
export function cancelOp(): GatedOperation<CancelArgs, OrderView> {
  return {
    name: "order_cancel",
    scope: "orders:submit",
    input: cancelInput,
    facts: (a, env, caller) => cancelFacts(env.db, a, caller),
  };
}

/** order_cancel_all as a gated operation (no MCP). */
export function cancelAllOp(): GatedOperation<CancelAllArgs, unknown> {
  return {
    name: "order_cancel_all",
    scope: "orders:submit",
    input: cancelAllInput,
    facts: (a, env) => cancelAllFacts(a, env.defaultVenue),
  };
}

/**
 * Cancels one order through the gate (audited, in its account's execution lane) — the path the
 * minute cycle's slice timeouts and sweeps use with their system caller.
 */
export function cancelThroughGate(app: App, caller: Caller, orderId: string): Promise<GateOutcome> {
  return app.gate.run(cancelOp(), caller, { order_id: orderId }, (a) => app.orders.cancel(a.order_id));
}

/**
 * Cancels every resting order of a venue that `caller` may act on, through the gate (flatten).
 * @returns the gate outcome; on success `{ venue, results }` with one outcome per order.
 */
export function cancelAllThroughGate(app: App, caller: Caller, venue: string): Promise<GateOutcome> {
  return app.gate.run(cancelAllOp(), caller, { venue }, async (a) => ({
    venue,
    results: await app.orders.cancelAll(venue, a.symbol, ownerFilter(caller)),
  }));
}
