import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import type { GateStep } from "./gate.js";
import { WeightLimiter } from "./ratelimit.js";

/**
 * Per-caller tool budget (DESIGN.md §3 step 4): every call of a caller costs 1 against
 * `toolCallsPerMinute` in a sliding 60 s window (src/policy/ratelimit.ts). Calls refused by a later step still count:
 * a model looping on refusals is exactly what the budget is for. Venue exchange weight is charged by
 * the venue adapters themselves.
 */
export function toolBudgetStep(perMinute: number, clock: Clock): GateStep {
  const limiters = new Map<string, WeightLimiter>();
  return {
    name: "rate_limit",
    order: 40,
    check(call) {
      let l = limiters.get(call.caller.id);
      if (!l) {
        l = new WeightLimiter({ budget: perMinute, windowMs: 60_000, clock });
        limiters.set(call.caller.id, l);
      }
      const c = l.check(1);
      if (!c.ok) {
        throw new TwError(
          "RATE_LIMITED",
          `Tool budget of ${perMinute} calls per minute used up; retry in ${c.retryAfterMs} ms.`,
          {
            hint: "Wait retry_after_ms before the next call; batch work into fewer calls.",
            details: { retry_after_ms: c.retryAfterMs, budget_per_minute: perMinute },
          },
        );
      }
      l.take(1);
      return undefined;
    },
  };
}
