import type { ElicitRequestFormParams, ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { type ApprovalRow, type ApprovalVia, latestDecision, recordApproval } from "../store/approvals.js";
import { appendAudit } from "../store/audit.js";
import { getIntent, type IntentRow } from "../store/intents.js";
import { ordersOfIntent } from "../store/orders.js";
import type { GateStep } from "./gate.js";
import type { Caller } from "./scopes.js";

/**
 * Approval (DESIGN.md §3 step 8). An intent needs approval when its venue is not `paper`, or when
 * its notional exceeds `paper.autoApproveNotional`. Approval comes from an `orders:approve` caller
 * (order_approve), the human through MCP form elicitation, or `tradewarden approve ID`; it binds to
 * the intent's exact payload hash and expires after `approval.ttlMs`. A rejection is final.
 * The minute cycle (a `system` caller) trading on the operator-configured `cycle.venue` is approved
 * by that configuration.
 */

/** Where an intent stands. */
export type ApprovalState =
  | { state: "not_needed" | "by_config" }
  | { state: "approved"; row: ApprovalRow }
  | { state: "missing" }
  | { state: "expired"; row: ApprovalRow }
  | { state: "rejected"; row: ApprovalRow };

/** Evaluates the approval of an intent for a caller at the current time. */
export function approvalState(app: App, intent: IntentRow, caller: Caller): ApprovalState {
  if (!intent.approval_needed) return { state: "not_needed" };
  if (caller.transport === "system" && intent.venue === app.config.cycle.venue) return { state: "by_config" };
  const row = latestDecision(app.db, intent.id);
  if (!row || row.payload_hash !== intent.payload_hash) return { state: "missing" };
  if (row.decision === "rejected") return { state: "rejected", row };
  if (row.expires_at !== null && row.expires_at <= app.clock.now()) return { state: "expired", row };
  return { state: "approved", row };
}

/** Whether a state lets the intent be submitted. */
export function isApproved(s: ApprovalState): boolean {
  return s.state === "not_needed" || s.state === "by_config" || s.state === "approved";
}

/** The APPROVAL_REQUIRED refusal for a state, saying what the operator must run. */
export function approvalRequired(intent: IntentRow, s: ApprovalState): TwError {
  const cmd = `tradewarden approve ${intent.id}`;
  if (s.state === "rejected") {
    return new TwError(
      "APPROVAL_REQUIRED",
      `Intent ${intent.id} was rejected by ${s.row.actor}${s.row.reason ? ` (${s.row.reason})` : ""}; it cannot be submitted.`,
      {
        hint: "Propose a new intent if the order is still wanted.",
        details: { intent_id: intent.id, decision: "rejected", actor: s.row.actor, via: s.row.via },
      },
    );
  }
  const why =
    s.state === "expired" ? `its approval expired at ${s.row.expires_at}` : "it has not been approved";
  return new TwError("APPROVAL_REQUIRED", `Intent ${intent.id} needs approval before submit: ${why}.`, {
    hint: `Ask the human operator to run \`${cmd}\` (or call order_approve with an operator token), then call order_submit again.`,
    details: { intent_id: intent.id, operator_command: cmd, state: s.state },
  });
}

/**
 * Records a decision on an intent. Approvals expire after `approval.ttlMs`.
 * @throws TwError NOT_FOUND (unknown intent), INVALID_INPUT (already submitted or already rejected).
 */
export function decide(
  app: App,
  intentId: string,
  decision: "approved" | "rejected",
  actor: string,
  via: ApprovalVia,
  reason: string | null,
): { intent: IntentRow; approval: ApprovalRow } {
  const intent = getIntent(app.db, intentId);
  if (!intent)
    throw new TwError("NOT_FOUND", `No intent ${intentId}.`, {
      hint: "Check the intent_id returned by order_propose.",
    });
  if (ordersOfIntent(app.db, intentId).length > 0) {
    throw new TwError("INVALID_INPUT", `Intent ${intentId} was already submitted.`, {
      hint: "Use order_cancel on its order instead.",
    });
  }
  const prev = latestDecision(app.db, intentId);
  if (prev?.decision === "rejected") {
    throw new TwError(
      "INVALID_INPUT",
      `Intent ${intentId} was already rejected by ${prev.actor}; a rejection is final.`,
      {
        hint: "Propose a new intent.",
      },
    );
  }
  const now = app.clock.now();
  const approval = recordApproval(app.db, {
    intent_id: intentId,
    decision,
    actor,
    via,
    reason,
    payload_hash: intent.payload_hash,
    ts: now,
    expires_at: decision === "approved" ? now + app.config.approval.ttlMs : null,
  });
  return { intent, approval };
}

/** Human-readable one-line preview of an intent (for elicitation prompts and CLI output). */
export function describeIntent(i: IntentRow): string {
  const px = i.type === "limit" ? `limit ${i.price}` : `market (ref ${i.ref_price})`;
  const br = [
    i.take_profit ? `TP ${i.take_profit}` : "",
    i.stop_loss ? `SL ${i.stop_loss}` : "",
    i.trailing_stop_bps ? `trailing stop ${i.trailing_stop_bps} bps` : "",
    i.max_hold_minutes ? `max hold ${i.max_hold_minutes} min` : "",
  ]
    .filter(Boolean)
    .join(", ");
  return `${i.side.toUpperCase()} ${i.size} ${i.symbol} on ${i.venue}, ${px}, ${i.tif}${i.reduce_only ? ", reduce-only" : ""}, notional ≈ ${Number(i.notional).toFixed(2)}, est. fee ≈ ${Number(i.est_fee).toFixed(4)}${br ? `, ${br}` : ""}`;
}

/**
 * Asks the human through MCP form elicitation. accept (approve: true) → approval recorded;
 * decline or accept with approve: false → rejection recorded; cancel → a dismissal recorded. Every
 * answer is recorded with who answered and audited.
 * @throws TwError APPROVAL_REQUIRED unless approved.
 */
export async function elicitApproval(
  app: App,
  caller: Caller,
  intent: IntentRow,
  elicit: (p: Omit<ElicitRequestFormParams, "mode">) => Promise<ElicitResult>,
): Promise<void> {
  const t0 = app.clock.now();
  const res = await elicit({
    message: `Approve this order? ${describeIntent(intent)}. Intent ${intent.id}.`,
    requestedSchema: {
      type: "object",
      properties: {
        approve: { type: "boolean", title: "Approve", description: "Send this exact order to the venue" },
        reason: { type: "string", title: "Reason (optional)" },
      },
      required: ["approve"],
    },
  });
  const actor = `human@${caller.id}`;
  const approve = res.action === "accept" && res.content?.approve === true;
  const reason = typeof res.content?.reason === "string" ? res.content.reason : null;
  const answer =
    res.action === "accept"
      ? approve
        ? "approved"
        : "declined"
      : res.action === "decline"
        ? "declined"
        : "dismissed";
  if (answer === "dismissed") {
    recordApproval(app.db, {
      intent_id: intent.id,
      decision: "dismissed",
      actor,
      via: "elicitation",
      reason,
      payload_hash: intent.payload_hash,
      ts: app.clock.now(),
      expires_at: null,
    });
  } else
    decide(app, intent.id, answer === "approved" ? "approved" : "rejected", actor, "elicitation", reason);
  appendAudit(app.db, {
    ts: t0,
    caller: actor,
    tool: "order_submit.elicitation",
    args: { intent_id: intent.id },
    decision: answer === "approved" ? "allowed" : "refused",
    code: answer === "approved" ? null : "APPROVAL_REQUIRED",
    result: { answer, action: res.action },
    durationMs: app.clock.now() - t0,
    keys: [intent.client_order_id],
  });
  if (answer === "approved") return;
  throw new TwError(
    "APPROVAL_REQUIRED",
    answer === "declined"
      ? `The human declined intent ${intent.id}; nothing was sent.`
      : `The approval prompt for intent ${intent.id} was dismissed; nothing was sent.`,
    {
      hint:
        answer === "declined"
          ? "Do not resubmit this intent; propose a different order if still wanted."
          : `Ask again, or have the operator run \`tradewarden approve ${intent.id}\`.`,
      details: { intent_id: intent.id, answer, answered_by: actor },
    },
  );
}

/**
 * The approval gate step (order 80): for calls whose facts carry `intentId`. When approval is
 * missing and the operation can elicit (`facts.elicitable`), it marks `state.approvalPending` and
 * lets the handler ask the human; otherwise it refuses.
 */
export function approvalStep(app: App): GateStep {
  return {
    name: "approval",
    order: 80,
    check(call) {
      const id = call.facts.intentId;
      if (typeof id !== "string") return undefined;
      const intent = getIntent(app.db, id);
      if (!intent) throw new TwError("NOT_FOUND", `No intent ${id}.`);
      const s = approvalState(app, intent, call.caller);
      if (isApproved(s)) return undefined;
      if ((s.state === "missing" || s.state === "expired") && call.facts.elicitable === true) {
        call.state.approvalPending = true;
        return undefined;
      }
      throw approvalRequired(intent, s);
    },
  };
}
