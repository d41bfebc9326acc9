import { Decimal } from "decimal.js";
import type { App } from "../app.js";
import { changeMode } from "../policy/control.js";
import type { Caller } from "../policy/scopes.js";
import { appendEvent } from "../store/cycles.js";
import { currentLimits } from "../store/riskLimits.js";
import { cancelAllThroughGate, submitThroughGate } from "./ops.js";
import type { SubmitView } from "./views.js";

/**
 * Flatten (issue 13): the operator's "kill and close". In order:
 *   1. the control mode becomes HALT (unless it already is), so neither the cycle nor an agent opens
 *      anything while positions are being closed;
 *   2. every resting order of the venue is canceled through the gate (audited, in the lane);
 *   3. every position is closed with reduce-only market orders through the gate (propose → submit,
 *      both audited as the operator), split into orders of at most `max_order_notional`; the operator
 *      who asked is recorded as the approver of these exact intents (approvals, via tool or cli).
 * The result lists what was canceled, every close with its outcome, and the positions left (a close
 * can fill partially when liquidity is short; nothing is retried blindly — run it again).
 */

/** One close order of a flatten. */
export interface FlattenClose {
  symbol: string;
  client_order_id: string;
  size: string;
  status: string;
  filled_size: string;
  code: string | null;
  message: string | null;
}

/** What a flatten did. Sizes in coins (signed positions), decimal strings. */
export interface FlattenResult {
  venue: string;
  mode: string;
  previous_mode: string;
  canceled: Array<{ order_id: string; ok: boolean; error: string | null }>;
  closes: FlattenClose[];
  positions_before: Array<{ symbol: string; size: string }>;
  remaining: Array<{ symbol: string; size: string }>;
}

function stamp(t: number): string {
  return new Date(t).toISOString().replace(/[-:]/g, "").slice(0, 15);
}

/**
 * Halts, cancels every resting order and closes every position of `venueId` as `caller` (an operator).
 * @throws TwError from the venue (EXCHANGE_UNAVAILABLE) when the account cannot be read; a refused
 *   close is reported in `closes`, not thrown.
 */
export async function flatten(
  app: App,
  caller: Caller,
  venueId: string,
  reason: string,
): Promise<FlattenResult> {
  const { previous, current } = changeMode(app.db, app.clock, caller, "HALT", `flatten: ${reason}`);
  const c = await cancelAllThroughGate(app, caller, venueId);
  if (!c.ok) throw c.error;
  const canceled = (c.result as { results: FlattenResult["canceled"] }).results;
  const venue = app.venues.get(venueId);
  const before = await venue.accountState();
  const maxOrder = new Decimal(currentLimits(app.db, app.config).max_order_notional);
  const id = stamp(app.clock.now());
  const closes: FlattenClose[] = [];
  for (const p of before.positions) {
    const size = new Decimal(p.size);
    if (size.isZero()) continue;
    const side = size.isPositive() ? "sell" : "buy";
    // Chunks of at most max_order_notional at the mark (1 % margin for the move until the fill).
    const chunk = new Decimal(
      (await venue.round(p.symbol, maxOrder.times(0.99).dividedBy(p.mark_px).toFixed(), null)).size,
    );
    let left = size.abs();
    for (let k = 1; left.greaterThan(0); k++) {
      const q = chunk.greaterThan(0) ? Decimal.min(left, chunk) : left;
      left = left.minus(q);
      const cid = `flat-${id}:${p.symbol}:${k}`;
      const out = await submitThroughGate(
        app,
        caller,
        {
          venue: venueId,
          symbol: p.symbol,
          side,
          type: "market",
          size: q.toNumber(),
          reduce_only: true,
          client_order_id: cid,
        },
        {
          actor: caller.id,
          reason: `control_flatten: ${reason}`,
          via: caller.transport === "cli" ? "cli" : "tool",
        },
      );
      const v = out.ok ? (out.result as SubmitView) : null;
      closes.push({
        symbol: p.symbol,
        client_order_id: cid,
        size: q.toFixed(),
        status: v?.status ?? "refused",
        filled_size: v?.filled_size ?? "0",
        code: out.ok ? null : out.error.code,
        message: out.ok ? null : out.error.message,
      });
      if (!out.ok) break;
    }
  }
  const after = await venue.accountState();
  const result: FlattenResult = {
    venue: venueId,
    mode: current.mode,
    previous_mode: previous.mode,
    canceled,
    closes,
    positions_before: before.positions.map((p) => ({ symbol: p.symbol, size: p.size })),
    remaining: after.positions
      .filter((p) => !new Decimal(p.size).isZero())
      .map((p) => ({ symbol: p.symbol, size: p.size })),
  };
  appendEvent(app.db, {
    ts: app.clock.now(),
    kind: "flatten",
    detail: { venue: venueId, actor: caller.id, reason, closes: closes.length, remaining: result.remaining },
  });
  return result;
}
