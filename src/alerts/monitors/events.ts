import type { Db } from "../../store/db.js";
import {
  approvalRequestsAfter,
  auditCodesAfter,
  decisionsAfter,
  engineEventsAfter,
  orderEventsAfter,
} from "../../store/monitoring.js";
import type { AlertService } from "../service.js";
import { FOLLOW_BATCH, follow } from "./follow.js";
import { describePending, intentDetails } from "./orders.js";
import type { EventMonitor } from "./types.js";

/**
 * `position_divergence` (warning notice, key `position_divergence:<venue>:<COIN>`): a reconcile pass
 * found a position change that our own fills since the previous pass do not explain (a liquidation,
 * a manual trade, a transfer; the venue's view was adopted). Subject to the cooldown, so a position
 * that keeps diverging notifies once per cooldown.
 */
export function divergenceMonitor(db: Db, alerts: AlertService, cooldownMs: number): EventMonitor {
  return follow(db, "position_divergence", "engine_events", (after) => {
    let last: number | undefined;
    for (const e of engineEventsAfter(db, after, ["reconcile_diff"], FOLLOW_BATCH)) {
      last = e.id;
      const d = e.detail as {
        kind?: string;
        symbol?: string;
        local?: string;
        venue?: string;
        venue_id?: string;
        own_fills?: string;
        unexplained?: string;
      };
      if (d.kind !== "position") continue;
      // A change our own fills account for is trading, not divergence (decimal strings: "0" is exact).
      if (d.unexplained !== undefined && Number(d.unexplained) === 0) continue;
      const moved =
        d.own_fills && Number(d.own_fills) !== 0 ? `, our fills since moved it by ${d.own_fills}` : "";
      alerts.notice({
        kind: "position_divergence",
        severity: "warning",
        key: `position_divergence:${d.venue_id}:${d.symbol}`,
        source: `engine_events:${e.id}`,
        cooldownMs,
        message: `Reconciliation found ${d.symbol} position ${d.venue ?? "0"} on ${d.venue_id} where ${d.local ?? "0"} was mirrored${moved}: ${d.unexplained ?? "the difference"} unexplained; the venue's position was adopted.`,
        details: {
          venue: d.venue_id,
          symbol: d.symbol,
          local_size: d.local,
          venue_size: d.venue,
          own_fills: d.own_fills ?? null,
          unexplained: d.unexplained ?? null,
          at: e.ts,
        },
      });
    }
    return last;
  });
}

/** Which order-lifecycle notices are on (config `alerts.lifecycle`). */
export interface LifecycleOptions {
  fills: boolean;
  cancels: boolean;
  refusals: boolean;
  approvals: boolean;
}

/**
 * Order-lifecycle notices (info): `fill` and `order_canceled` from order events (every venue, the
 * cycle's slices included), `risk_refusal` from RISK_REJECTED audit rows, `approval_requested` when an
 * intent needs a human decision and `approval_decided` when one is recorded. Only the enabled ones
 * are followed.
 */
export function lifecycleMonitors(db: Db, alerts: AlertService, on: LifecycleOptions): EventMonitor[] {
  const out: EventMonitor[] = [];
  const statuses = [...(on.fills ? ["filled"] : []), ...(on.cancels ? ["canceled"] : [])];
  if (statuses.length > 0) {
    out.push(
      follow(db, "order_events", "order_events", (after) => {
        let last: number | undefined;
        for (const e of orderEventsAfter(db, after, statuses, FOLLOW_BATCH)) {
          last = e.id;
          const what = `${e.side.toUpperCase()} ${e.status === "filled" ? e.filled_size : e.size} ${e.symbol} on ${e.venue}`;
          const px = e.avg_px ? ` @ ${e.avg_px}` : "";
          alerts.notice({
            kind: e.status === "filled" ? "fill" : "order_canceled",
            severity: "info",
            key: `${e.status === "filled" ? "fill" : "order_canceled"}:${e.order_id}`,
            source: `order_events:${e.id}`,
            message:
              e.status === "filled"
                ? `Filled: ${what}${px} (order ${e.order_id}, client id ${e.client_order_id}).`
                : `Canceled: ${what} (filled ${e.filled_size}${px}; order ${e.order_id}${e.reason ? `: ${e.reason}` : ""}).`,
            details: {
              order_id: e.order_id,
              client_order_id: e.client_order_id,
              venue: e.venue,
              symbol: e.symbol,
              side: e.side,
              size: e.size,
              filled_size: e.filled_size,
              avg_px: e.avg_px,
              caller: e.caller,
              at: e.ts,
            },
          });
        }
        return last;
      }),
    );
  }
  if (on.refusals) {
    out.push(
      follow(db, "risk_refusals", "audit_log", (after) => {
        let last: number | undefined;
        for (const r of auditCodesAfter(db, after, "RISK_REJECTED", FOLLOW_BATCH)) {
          last = r.id;
          const message = (r.result as { message?: string } | null)?.message ?? "risk limits";
          alerts.notice({
            kind: "risk_refusal",
            severity: "info",
            key: `risk_refusal:${r.id}`,
            source: `audit_log:${r.id}`,
            message: `Risk refused ${r.tool} from ${r.caller}: ${message}`,
            details: { audit_id: r.id, caller: r.caller, tool: r.tool, message, at: r.ts },
          });
        }
        return last;
      }),
    );
  }
  if (on.approvals) {
    out.push(
      follow(db, "approval_requests", "intents", (after) => {
        let last: number | undefined;
        for (const i of approvalRequestsAfter(db, after, FOLLOW_BATCH)) {
          last = i.rowid;
          alerts.notice({
            kind: "approval_requested",
            severity: "info",
            key: `approval_requested:${i.id}`,
            source: `intents:${i.id}`,
            message: `Approval needed: ${describePending(i)} from ${i.caller}: tradewarden approve ${i.id}`,
            details: intentDetails(i),
          });
        }
        return last;
      }),
      follow(db, "approval_decisions", "approvals", (after) => {
        let last: number | undefined;
        for (const d of decisionsAfter(db, after, FOLLOW_BATCH)) {
          last = d.id;
          alerts.notice({
            kind: "approval_decided",
            severity: "info",
            key: `approval_decided:${d.intent_id}`,
            source: `approvals:${d.id}`,
            message: `Intent ${d.intent_id} (${d.side.toUpperCase()} ${d.size} ${d.symbol} on ${d.venue}) ${d.decision} by ${d.actor} via ${d.via}${d.reason ? `: ${d.reason}` : ""}.`,
            details: {
              intent_id: d.intent_id,
              decision: d.decision,
              actor: d.actor,
              via: d.via,
              reason: d.reason,
              caller: d.caller,
              at: d.ts,
            },
          });
        }
        return last;
      }),
    );
  }
  return out;
}
