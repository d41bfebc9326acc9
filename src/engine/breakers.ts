import { appendAudit } from "../store/audit.js";
import { type ControlState, getControl, setControl } from "../store/control.js";
import { appendEvent } from "../store/cycles.js";
import type { Db } from "../store/db.js";
import { getMeta, setMeta } from "../store/meta.js";
import type { PortfolioLimitSet } from "../store/portfolioLimits.js";
import { evaluateDrawdown } from "./drawdown.js";

/**
 * The cycle's breakers, evaluated at the start of every cycle on the account's equity:
 * - drawdown (DESIGN.md §5): `1 − equity / peak` ≥ `drawdownReduceOnly` → REDUCE_ONLY, ≥ `drawdownHalt`
 *   → HALT; only an operator resumes (src/engine/drawdown.ts).
 * - daily loss (issue 13): loss since the UTC day's first cycle ≥ `dailyLossQuote` (when set) or
 *   `dailyLossFraction × that day's starting equity` → REDUCE_ONLY (actor `system:daily_loss`). The
 *   limit is per day: at the first cycle of the next UTC day, a REDUCE_ONLY that the daily-loss rule set
 *   and that nobody has changed since is lifted back to NORMAL (audited `control.resume`). Any other
 *   mode (the drawdown breaker's, an operator's, an agent's) is never loosened by it.
 * Every change is recorded as a `mode_change` engine event and an audit row.
 */

const DAY = 86_400_000;
const META_PEAK = "engine.peak_equity";
const META_DAY = "engine.day_start";
/** Actor of the daily-loss rule in control_state and the audit log. */
export const DAILY_LOSS_ACTOR = "system:daily_loss";

function change(
  db: Db,
  cycleId: string,
  t: number,
  to: ControlState["mode"],
  reason: string,
  actor: string,
  detail: Record<string, unknown>,
): ControlState {
  const from = getControl(db).mode;
  const next = setControl(db, to, reason, actor, t);
  appendEvent(db, { ts: t, kind: "mode_change", cycleId, detail: { from, to, reason, ...detail } });
  appendAudit(db, {
    ts: t,
    caller: actor,
    tool: to === "HALT" ? "control.halt" : to === "REDUCE_ONLY" ? "control.reduce_only" : "control.resume",
    args: detail,
    decision: "allowed",
    result: { from, to, reason },
    durationMs: 0,
  });
  return next;
}

/**
 * Runs both breakers for the cycle of tick `t` (ms UTC) at `equity` (quote) and returns the control
 * state the cycle runs under.
 */
export function evaluateBreakers(
  db: Db,
  cycleId: string,
  t: number,
  equity: number,
  limits: PortfolioLimitSet,
): ControlState {
  let control = getControl(db);
  const day = Math.floor(t / DAY) * DAY;
  const start = getMeta<{ day: number; equity: number }>(db, META_DAY);
  let dayStart = start?.equity ?? equity;
  if (!start || start.day !== day) {
    dayStart = equity;
    setMeta(db, META_DAY, { day, equity });
    if (control.mode === "REDUCE_ONLY" && control.actor === DAILY_LOSS_ACTOR && control.since < day) {
      control = change(db, cycleId, t, "NORMAL", "daily-loss limit lifted: a new UTC day", DAILY_LOSS_ACTOR, {
        day,
      });
    }
  }

  const peak = getMeta<number>(db, META_PEAK) ?? equity;
  const dd = evaluateDrawdown(peak, equity, control.mode, {
    reduceOnlyAt: limits.drawdownReduceOnly,
    haltAt: limits.drawdownHalt,
  });
  setMeta(db, META_PEAK, dd.peak);
  if (dd.trip) {
    control = change(db, cycleId, t, dd.trip.to, dd.trip.reason, "system:drawdown", {
      drawdown: dd.drawdown,
    });
  }

  const limit = limits.dailyLossQuote ?? limits.dailyLossFraction * dayStart;
  const loss = dayStart - equity;
  if (control.mode === "NORMAL" && loss >= limit) {
    control = change(
      db,
      cycleId,
      t,
      "REDUCE_ONLY",
      `daily loss ${loss.toFixed(2)} ≥ limit ${limit.toFixed(2)} (UTC day start equity ${dayStart.toFixed(2)})`,
      DAILY_LOSS_ACTOR,
      { loss, limit, day_start_equity: dayStart },
    );
  }
  return control;
}
