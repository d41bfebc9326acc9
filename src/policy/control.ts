import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import { type ControlMode, type ControlState, getControl, MODE_RANK, setControl } from "../store/control.js";
import type { Db } from "../store/db.js";
import type { GateStep } from "./gate.js";
import type { Caller } from "./scopes.js";

/**
 * Control mode (kill switch, DESIGN.md §3 step 3). HALT refuses everything that opens or increases
 * exposure; REDUCE_ONLY refuses increases; cancels, reduce-only closes and reads always pass.
 * Exposure comes from the operation's facts (`exposure: "increase" | "reduce" | "none"`); an order
 * that is not flagged reduce_only counts as an increase.
 */

/**
 * The control gate step (order 55, inside the execution lane): checked against the mode at the
 * moment the order is reserved, so a halt issued while an order waited still stops it.
 */
export function controlStep(): GateStep {
  return {
    name: "control",
    order: 55,
    lane: true,
    check(call, env) {
      if (call.facts.exposure !== "increase") return undefined;
      const c = getControl(env.db);
      if (c.mode === "HALT") {
        throw new TwError(
          "HALTED",
          `Trading is halted (${c.reason}, by ${c.actor}); nothing that opens or increases exposure is accepted.`,
          {
            hint: "Cancels and reduce_only closes still work. Only an operator can resume (control_resume / tradewarden control resume).",
            details: { mode: c.mode, reason: c.reason, actor: c.actor, since: c.since },
          },
        );
      }
      if (c.mode === "REDUCE_ONLY") {
        throw new TwError(
          "REDUCE_ONLY",
          `Control mode is REDUCE_ONLY (${c.reason}); only orders with reduce_only: true are accepted.`,
          {
            hint: "Re-propose with reduce_only: true to close or shrink a position, or ask an operator to resume.",
            details: { mode: c.mode, reason: c.reason, actor: c.actor, since: c.since },
          },
        );
      }
      return undefined;
    },
  };
}

/**
 * Changes the control mode. Tightening (towards HALT) needs `control:tighten`; loosening (towards
 * NORMAL) needs `control:loosen` — so an agent that can halt can never resume, and REDUCE_ONLY after
 * HALT counts as loosening. Idempotent by nature, which is what makes a replayed call truthful:
 * asking for the mode already in effect changes nothing (`changed: false`); asking again for a mode
 * someone has since left applies it again. The answer is always the mode that now holds.
 * @throws TwError FORBIDDEN_SCOPE when the change loosens and the caller lacks control:loosen.
 */
export function changeMode(
  db: Db,
  clock: Clock,
  caller: Caller,
  mode: ControlMode,
  reason: string,
): { previous: ControlState; current: ControlState; changed: boolean } {
  const previous = getControl(db);
  if (previous.mode === mode) return { previous, current: previous, changed: false };
  const loosens = MODE_RANK[mode] < MODE_RANK[previous.mode];
  if (loosens && !caller.scopes.has("control:loosen")) {
    throw new TwError(
      "FORBIDDEN_SCOPE",
      `Going from ${previous.mode} to ${mode} loosens control and needs scope control:loosen.`,
      {
        hint: "Only an operator can loosen control (tradewarden control resume|reduce-only --reason ...).",
        details: { required_scope: "control:loosen", profile: caller.profile, current_mode: previous.mode },
      },
    );
  }
  const current = setControl(db, mode, reason, caller.id, clock.now());
  return { previous, current, changed: true };
}
