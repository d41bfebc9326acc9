import { checkLabel } from "../store/intents.js";
import type { IntentView } from "./views.js";

/**
 * What the `order_propose` audit row of a system order (the minute cycle, flatten, the position
 * guard: src/orders/ops.ts `proposeOp`) records as its result (issue 15: the whole proposal was
 * ≈ 1.9 KB a row, the largest audit item of a replay).
 *
 * The row's `args` already hold the request (venue, type, tif, client order id); this keeps the
 * decision on it: the intent id, symbol, side, the rounded size and price, the reference price,
 * notional and fee (decimal strings: coins / quote), the approval state, and every risk check with
 * its limit and the value it was held against. A check's `message` is prose built from those two
 * (src/policy/risk.ts), and the `preview`, `created_at` (the row's `ts`) and `approval_needed`
 * (`approval` is `not_needed` exactly when it is false) are derivable, so they are left out. A
 * refused proposal never reaches this: its row keeps the error with every failed check whole
 * (src/policy/gate.ts).
 */
export interface ProposalSummary {
  intent_id: string;
  symbol: string;
  side: string;
  /** Rounded size in coins. */
  size: string;
  /** Rounded limit price (quote); null for a market order. */
  price: string | null;
  /** Reference price (quote) the checks used. */
  ref_price: string;
  /** Notional at the reference or limit price (quote). */
  notional: string;
  /** Estimated fee (quote). */
  est_fee: string;
  /** Approval state for the proposing caller (src/policy/approval.ts `approvalState`). */
  approval: string;
  /**
   * Each check by name → `[limit, value]`, in the order they ran; a failed check's name starts
   * with `!` (an allowed proposal has none; kept so the record cannot hide one).
   */
  checks: Record<string, [unknown, unknown]>;
  /** Present only when set: reduce-only, TP/SL trigger prices (quote), guard settings. */
  reduce_only?: true;
  take_profit?: string;
  stop_loss?: string;
  trailing_stop_bps?: number;
  max_hold_minutes?: number;
}

/** The audit summary of an allowed proposal (see {@link ProposalSummary}). Pure; throws nothing. */
export function summarizeProposal(v: IntentView): ProposalSummary {
  const checks: Record<string, [unknown, unknown]> = {};
  for (const c of v.checks) checks[checkLabel(c)] = [c.limit, c.value];
  const s: ProposalSummary = {
    intent_id: v.intent_id,
    symbol: v.symbol,
    side: v.side,
    size: v.size,
    price: v.price,
    ref_price: v.ref_price,
    notional: v.notional,
    est_fee: v.est_fee,
    approval: v.approval_state,
    checks,
  };
  if (v.reduce_only) s.reduce_only = true;
  if (v.take_profit !== null) s.take_profit = v.take_profit;
  if (v.stop_loss !== null) s.stop_loss = v.stop_loss;
  if (v.trailing_stop_bps !== null) s.trailing_stop_bps = v.trailing_stop_bps;
  if (v.max_hold_minutes !== null) s.max_hold_minutes = v.max_hold_minutes;
  return s;
}
