import type { Clock } from "../../clock.js";
import type { Db } from "../../store/db.js";
import {
  auditCodeCounts,
  intentsAwaitingDecision,
  type PendingIntent,
  unknownOrders,
} from "../../store/monitoring.js";
import type { AlertInput } from "../types.js";
import { type ConditionMonitor, formatAge } from "./types.js";

const DAY = 86_400_000;

/** Details of an intent waiting for a decision, with the command that approves it. */
export function intentDetails(i: PendingIntent): Record<string, unknown> {
  return {
    intent_id: i.id,
    caller: i.caller,
    venue: i.venue,
    symbol: i.symbol,
    side: i.side,
    size: i.size,
    notional: i.notional,
    reduce_only: i.reduce_only === 1,
    created_at: i.created_at,
    operator_command: `tradewarden approve ${i.id}`,
  };
}

/** "BUY 0.3 BTC on paper (notional ≈ 32190.00)" for an intent. */
export function describePending(i: PendingIntent): string {
  return `${i.side.toUpperCase()} ${i.size} ${i.symbol} on ${i.venue} (notional ≈ ${Number(i.notional).toFixed(2)})`;
}
const HOUR = 3_600_000;

/**
 * `approval_pending` (warning, key `approval_pending:<intent id>`): an intent that needs a human
 * decision has waited longer than `minutes` (intents of the last 24 h; the cycle's own intents are
 * approved by config and never wait). Resolved once it is approved, rejected or sent.
 */
export function approvalMonitor(deps: { db: Db; clock: Clock; minutes: number }): ConditionMonitor {
  return {
    name: "approval_pending",
    kinds: ["approval_pending"],
    check() {
      const now = deps.clock.now();
      const waitMs = deps.minutes * 60_000;
      return intentsAwaitingDecision(deps.db, now - DAY, now - waitMs, 200).map((i) => ({
        kind: "approval_pending",
        severity: "warning",
        key: `approval_pending:${i.id}`,
        message: `Intent ${i.id} (${describePending(i)}) from ${i.caller} has waited ${formatAge(now - i.created_at)} for approval: tradewarden approve ${i.id}`,
        details: { ...intentDetails(i), waiting_ms: now - i.created_at },
      }));
    },
  };
}

/**
 * `rejection_rate` (warning, key `rejection_rate`): `threshold` or more risk refusals
 * (`RISK_REJECTED` in the audit log) in the last hour — an agent that keeps hitting limits.
 */
export function rejectionRateMonitor(deps: { db: Db; clock: Clock; threshold: number }): ConditionMonitor {
  return {
    name: "rejection_rate",
    kinds: ["rejection_rate"],
    check() {
      const byCaller = auditCodeCounts(deps.db, "RISK_REJECTED", deps.clock.now() - HOUR);
      const total = byCaller.reduce((a, r) => a + r.n, 0);
      if (total < deps.threshold) return [];
      return [
        {
          kind: "rejection_rate",
          severity: "warning",
          key: "rejection_rate",
          message: `${total} risk refusals in the last hour (threshold ${deps.threshold}); top caller ${byCaller[0].caller} (${byCaller[0].n}).`,
          details: { refusals_last_hour: total, threshold: deps.threshold, by_caller: byCaller.slice(0, 10) },
        } satisfies AlertInput,
      ];
    },
  };
}

/**
 * `order_unknown` (warning, key `order_unknown:<order id>`): an order whose outcome is ambiguous (a
 * venue timeout or a process stopped mid-call). The reconciler settles it by order status, never by
 * re-sending; the alert resolves when it is settled.
 */
export function unknownOrderMonitor(deps: { db: Db; clock: Clock }): ConditionMonitor {
  return {
    name: "order_unknown",
    kinds: ["order_unknown"],
    check() {
      const now = deps.clock.now();
      return unknownOrders(deps.db, 200).map((o) => ({
        kind: "order_unknown",
        severity: "warning",
        key: `order_unknown:${o.id}`,
        message: `Order ${o.id} (${o.side.toUpperCase()} ${o.size} ${o.symbol} on ${o.venue}, client id ${o.client_order_id}) has had an ambiguous outcome for ${formatAge(now - o.updated_at)}; it is settled by order status, never re-sent.`,
        details: {
          order_id: o.id,
          venue: o.venue,
          symbol: o.symbol,
          side: o.side,
          size: o.size,
          client_order_id: o.client_order_id,
          caller: o.caller,
          since: o.updated_at,
          reason: o.reason,
        },
      }));
    },
  };
}
