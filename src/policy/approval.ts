import { randomUUID } from "node:crypto";
import type { ElicitRequestFormParams, ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import type { Logger } from "../log.js";
import { type ApprovalRow, type ApprovalVia, latestDecision, recordApproval } from "../store/approvals.js";
import { appendAudit } from "../store/audit.js";
import type { Db } from "../store/db.js";
import { getIntent, type IntentRow } from "../store/intents.js";
import { ordersOfIntent } from "../store/orders.js";
import type { GateStep } from "./gate.js";
import type { Caller } from "./scopes.js";

/**
 * Approval (DESIGN.md §3 step 8, §11). An intent needs approval when its venue is not `paper`, or
 * when its worst-case notional exceeds `paper.autoApproveNotional`. The minute cycle (a `system`
 * caller) trading on the operator-configured `cycle.venue` is approved by that configuration.
 *
 * Approval counts only from channels the requesting agent cannot answer itself: an `orders:approve`
 * caller (order_approve: an operator token or profile, the console, `tradewarden approve ID`), or a
 * form elicitation answered through the requesting client when the operator's config says that
 * client's human is trusted (`approval.trustFormElicitation`, off by default: a form answered by the
 * caller's own client proves nothing about a human). A decision binds to the intent's exact payload
 * hash and expires after `approval.ttlMs`; a rejection is final.
 *
 * The gate's approval step only reads the state (it runs inside the execution lane and never waits
 * for a human). Asking a human is {@link requestApproval}'s job, after the gate refused: URL-mode
 * elicitation (MCP 2025-11-25) sends the console URL of the intent's approval page — accepting that
 * request is not an approval; the operator approves on the page, the server then sends
 * `notifications/elicitation/complete` and the submit is retried once.
 */

/** What approval decisions read and write. */
export interface ApprovalEnv {
  db: Db;
  clock: Clock;
  /** The operator-configured venue of the minute cycle (its orders are approved by config). */
  cycleVenue: string;
  /** Lifetime of an approval (ms). */
  ttlMs: number;
}

/** Where an intent stands. */
export type ApprovalState =
  | { state: "not_needed" | "by_config" }
  | { state: "approved"; row: ApprovalRow }
  | { state: "missing" }
  | { state: "expired"; row: ApprovalRow }
  | { state: "rejected"; row: ApprovalRow };

/**
 * Whether an order on `venue` with worst-case notional `worstNotional` (quote) needs a human's
 * approval: always off paper; on paper above `autoApproveNotional`.
 */
export function needsApproval(venue: string, worstNotional: string, autoApproveNotional: number): boolean {
  return venue !== "paper" || Number(worstNotional) > autoApproveNotional;
}

/** Evaluates the approval of an intent for a caller at the current time. */
export function approvalState(env: ApprovalEnv, intent: IntentRow, caller: Caller): ApprovalState {
  if (!intent.approval_needed) return { state: "not_needed" };
  if (caller.transport === "system" && intent.venue === env.cycleVenue) return { state: "by_config" };
  const row = latestDecision(env.db, intent.id);
  if (!row || row.payload_hash !== intent.payload_hash) return { state: "missing" };
  if (row.decision === "rejected") return { state: "rejected", row };
  if (row.expires_at !== null && row.expires_at <= env.clock.now()) return { state: "expired", row };
  return { state: "approved", row };
}

/** Whether a state lets the intent be submitted. */
export function isApproved(s: ApprovalState): boolean {
  return s.state === "not_needed" || s.state === "by_config" || s.state === "approved";
}

/**
 * The APPROVAL_REQUIRED refusal for a state, naming every channel that counts: the CLI command and,
 * when known, the console page of the intent.
 */
export function approvalRequired(intent: IntentRow, s: ApprovalState, consoleUrl?: string): TwError {
  const cmd = `tradewarden approve ${intent.id}`;
  if (s.state === "rejected") {
    return new TwError(
      "APPROVAL_REQUIRED",
      `Intent ${intent.id} was rejected by ${s.row.actor}${s.row.reason ? ` (${s.row.reason})` : ""}; it cannot be submitted.`,
      {
        hint: "Propose a new intent if the order is still wanted.",
        details: { intent_id: intent.id, state: "rejected", actor: s.row.actor, via: s.row.via },
      },
    );
  }
  const why =
    s.state === "expired" ? `its approval expired at ${s.row.expires_at}` : "it has not been approved";
  const where = consoleUrl ? ` or open ${consoleUrl}` : "";
  return new TwError("APPROVAL_REQUIRED", `Intent ${intent.id} needs approval before submit: ${why}.`, {
    hint: `Ask the human operator to run \`${cmd}\`${where} (or call order_approve with an operator token), then call order_submit again.`,
    details: {
      intent_id: intent.id,
      state: s.state,
      operator_command: cmd,
      ...(consoleUrl ? { console_url: consoleUrl } : {}),
    },
  });
}

/**
 * Records a decision on an intent. Approvals expire after `env.ttlMs`.
 * @throws TwError NOT_FOUND (unknown intent), INVALID_INPUT (already submitted or already rejected).
 */
export function decide(
  env: ApprovalEnv,
  intentId: string,
  decision: "approved" | "rejected",
  actor: string,
  via: ApprovalVia,
  reason: string | null,
): { intent: IntentRow; approval: ApprovalRow } {
  const intent = getIntent(env.db, intentId);
  if (!intent)
    throw new TwError("NOT_FOUND", `No intent ${intentId}.`, {
      hint: "Check the intent_id returned by order_propose.",
    });
  if (ordersOfIntent(env.db, intentId).length > 0) {
    throw new TwError("INVALID_INPUT", `Intent ${intentId} was already submitted.`, {
      hint: "Use order_cancel on its order instead.",
    });
  }
  const prev = latestDecision(env.db, intentId);
  if (prev?.decision === "rejected") {
    throw new TwError(
      "INVALID_INPUT",
      `Intent ${intentId} was already rejected by ${prev.actor}; a rejection is final.`,
      { hint: "Propose a new intent." },
    );
  }
  const now = env.clock.now();
  const approval = recordApproval(env.db, {
    intent_id: intentId,
    decision,
    actor,
    via,
    reason,
    payload_hash: intent.payload_hash,
    ts: now,
    expires_at: decision === "approved" ? now + env.ttlMs : null,
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

/** Ways to reach the human behind a requesting client (present only when the client declared them). */
export interface ApprovalChannels {
  /** Form elicitation through the requesting client. */
  form?: (p: Omit<ElicitRequestFormParams, "mode">) => Promise<ElicitResult>;
  /** URL-mode elicitation through the requesting client. */
  url?: (p: { message: string; url: string; elicitationId: string }) => Promise<ElicitResult>;
  /** Sends `notifications/elicitation/complete` for an elicitation id. */
  complete?: (elicitationId: string) => Promise<void>;
}

/** Settings of {@link requestApproval} (from `config.approval`) besides the {@link ApprovalEnv}. */
export interface ApprovalRequestEnv extends ApprovalEnv {
  log: Logger;
  /** A form answered through the requesting client counts as the human's decision. */
  trustFormElicitation: boolean;
  /** How long a URL request waits for the operator's decision before answering APPROVAL_REQUIRED (ms). */
  urlWaitMs: number;
  /** How long the server keeps watching for the decision afterwards, to send the completion (ms). */
  urlWatchMs: number;
  /** The console page of an intent, or undefined when no console URL is known. */
  consoleUrl: (intentId: string) => string | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function audit(
  env: ApprovalEnv,
  caller: string,
  intent: IntentRow,
  result: unknown,
  approved: boolean,
): void {
  appendAudit(env.db, {
    ts: env.clock.now(),
    caller,
    tool: "order_submit.approval_request",
    args: { intent_id: intent.id },
    decision: approved ? "allowed" : "refused",
    code: approved ? null : "APPROVAL_REQUIRED",
    result,
    durationMs: 0,
    keys: [intent.client_order_id],
    durable: approved,
  });
}

/**
 * Asks for a human's decision on an intent through the caller's client, after the gate refused it
 * with APPROVAL_REQUIRED (missing or expired). URL mode first (the decision is made in the console,
 * never by the client's answer), then a trusted form. Every request and answer is audited.
 * @returns true when a decision was recorded meanwhile (the caller should run the gate once more).
 */
export async function requestApproval(
  env: ApprovalRequestEnv,
  caller: Caller,
  intent: IntentRow,
  channels: ApprovalChannels,
): Promise<boolean> {
  const decided = () => {
    const s = approvalState(env, intent, caller);
    return s.state === "approved" || s.state === "rejected";
  };
  const url = env.consoleUrl(intent.id);
  if (channels.url && url) {
    const elicitationId = randomUUID();
    audit(env, caller.id, intent, { channel: "url", url, elicitation_id: elicitationId }, false);
    // The client's answer only says whether its human opened the page: recorded, never a decision.
    channels
      .url({
        message: `Approve or reject this order in the tradewarden console: ${describeIntent(intent)}.`,
        url,
        elicitationId,
      })
      .then((res) =>
        audit(
          env,
          `client@${caller.id}`,
          intent,
          { channel: "url", answer: res.action, counts: false },
          false,
        ),
      )
      .catch((err) => env.log.warn({ err, intent: intent.id }, "URL elicitation failed"));
    const complete = () =>
      channels
        .complete?.(elicitationId)
        .catch((err) => env.log.debug({ err, intent: intent.id }, "elicitation completion not delivered"));
    const t0 = Date.now();
    while (Date.now() - t0 < env.urlWaitMs) {
      if (decided()) {
        await complete();
        return true;
      }
      await sleep(Math.min(250, env.urlWaitMs));
    }
    // Keep watching in the background so the client learns when the operator decides.
    void (async () => {
      while (Date.now() - t0 < env.urlWatchMs) {
        await sleep(1000);
        try {
          if (decided()) {
            await complete();
            return;
          }
        } catch {
          return; // the database closed with the server
        }
      }
    })();
    return false;
  }
  if (channels.form && env.trustFormElicitation) {
    const res = await channels.form({
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
    const reason = typeof res.content?.reason === "string" ? res.content.reason : null;
    const approve = res.action === "accept" && res.content?.approve === true;
    if (res.action === "cancel") {
      recordApproval(env.db, {
        intent_id: intent.id,
        decision: "dismissed",
        actor,
        via: "elicitation",
        reason,
        payload_hash: intent.payload_hash,
        ts: env.clock.now(),
        expires_at: null,
      });
    } else decide(env, intent.id, approve ? "approved" : "rejected", actor, "elicitation", reason);
    audit(env, actor, intent, { channel: "form", answer: res.action, approve, trusted: true }, approve);
    return res.action !== "cancel";
  }
  return false;
}

/**
 * The approval gate step (order 80, inside the execution lane): for calls whose facts carry
 * `intentId`, refuses unless the intent is approved (or needs no approval). Never waits for a human.
 */
export function approvalStep(
  env: ApprovalEnv,
  consoleUrl: (intentId: string) => string | undefined,
): GateStep {
  return {
    name: "approval",
    order: 80,
    lane: true,
    check(call) {
      const id = call.facts.intentId;
      if (typeof id !== "string") return undefined;
      const intent = getIntent(env.db, id);
      if (!intent) throw new TwError("NOT_FOUND", `No intent ${id}.`);
      const s = approvalState(env, intent, call.caller);
      if (isApproved(s)) return undefined;
      throw approvalRequired(intent, s, consoleUrl(id));
    },
  };
}
