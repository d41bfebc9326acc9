import type { Db } from "../../store/db.js";
import { latestTarget } from "../../store/cycles.js";
import { baselineTarget } from "../baseline.js";
import { symbolProblem } from "./schema.js";
import type { Decision, DecisionContext, DecisionDraft, DecisionSource } from "./types.js";

/**
 * The two sources that ask no model: `agent` (today's behaviour and the default: the latest
 * `portfolio_set_target` within its TTL, else the baseline with the reason) and `baseline` (the
 * momentum × inverse-volatility baseline every cycle).
 */

function draft(source: "agent" | "baseline", model: string, error: string | null): DecisionDraft {
  return {
    source,
    mode: "weights",
    asked: false,
    held_from: null,
    model,
    client: null,
    latency_ms: null,
    error,
    raw: null,
    prompt_hash: null,
    cached: false,
    answer: null,
  };
}

/** `cycle.decision = agent`: the agent's latest target within its TTL, else the baseline. */
export class AgentSource implements DecisionSource {
  readonly kind = "agent";
  constructor(private readonly db: Db) {}

  async decide(ctx: DecisionContext): Promise<Decision> {
    const stored = latestTarget(this.db, ctx.t);
    let reason: string;
    if (!stored) reason = "no_target";
    else if (ctx.t > stored.expires_at) reason = "expired";
    else {
      const problem = symbolProblem(stored.target.targets, ctx.universe);
      if (problem === null) {
        return {
          choice: { used: "agent", reason: null, target_id: stored.id, target: stored.target },
          record: draft("agent", stored.target.model.name, null),
        };
      }
      reason = `invalid: ${problem}`;
    }
    const target = baselineTarget(ctx.features);
    return {
      choice: { used: "baseline", reason, target_id: stored?.id ?? null, target },
      record: draft("agent", target.model.name, reason),
    };
  }
}

/** `cycle.decision = baseline`: the baseline every cycle (not a fallback: no reason recorded). */
export class BaselineSource implements DecisionSource {
  readonly kind = "baseline";

  async decide(ctx: DecisionContext): Promise<Decision> {
    const target = baselineTarget(ctx.features);
    return {
      choice: { used: "baseline", reason: null, target_id: null, target },
      record: draft("baseline", target.model.name, null),
    };
  }
}
