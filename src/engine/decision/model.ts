import { scrubSecrets } from "../../secrets.js";
import type { Db } from "../../store/db.js";
import { lastAnswered, recentDecisions } from "../../store/decisions.js";
import { baselineTarget } from "../baseline.js";
import type { TargetPortfolio, Weights } from "../types.js";
import { buildPrompt, PROMPT_LAST_DECISIONS, truncateUtf8 } from "./prompt.js";
import {
  type DecisionMode,
  parseAnswer,
  RATIONALE_MAX,
  type RiskMultiplierAnswer,
  TargetPortfolioSchema,
  type WeightsAnswer,
} from "./schema.js";
import type { Decision, DecisionContext, DecisionDraft, DecisionSource, ModelClient } from "./types.js";

/**
 * A decision source that asks a model (`sampling` or `llm`) every `everyCycles` cycles:
 *   prompt → ask → parse (one JSON object) → answer schema → TargetPortfolio schema → target.
 * In between, the last valid answer stays in force (weights as answered; in risk_multiplier mode the
 * multiplier scales each cycle's fresh baseline). A timeout, refusal, transport error, unparsable or
 * out-of-schema answer makes the baseline decide this cycle (`used: baseline_fallback`, the error
 * recorded), and the next cycle asks again. The raw answer is kept scrubbed of every loaded secret
 * and truncated to {@link RAW_MAX_BYTES}.
 */

/** Most raw model output kept per decision, bytes of UTF-8. */
export const RAW_MAX_BYTES = 4096;

/** Options of {@link ModelSource}. */
export interface ModelSourceOptions {
  db: Db;
  client: ModelClient;
  mode: DecisionMode;
  /** Ask every N cycles (≥ 1); the answer holds for N cycles. */
  everyCycles: number;
}

/** Baseline weights by symbol. */
function weightsOf(t: TargetPortfolio): Weights {
  return Object.fromEntries(t.targets.map((x) => [x.symbol, x.weight]));
}

/** The target a validated answer asks for, in the shape (and schema) of an agent's target. */
export function answerTarget(
  mode: DecisionMode,
  answer: WeightsAnswer | RiskMultiplierAnswer,
  baseline: TargetPortfolio,
  model: { name: string; version: string },
): TargetPortfolio {
  if (mode === "risk_multiplier") {
    const a = answer as RiskMultiplierAnswer;
    const targets = baseline.targets.map((x) => ({ symbol: x.symbol, weight: x.weight * a.multiplier }));
    const g = targets.reduce((s, x) => s + Math.abs(x.weight), 0);
    return TargetPortfolioSchema.parse({
      targets,
      cash_weight: Math.max(0, Math.min(1, 1 - g)),
      confidence: baseline.confidence,
      rationale: `${a.regime} x${a.multiplier}: ${a.rationale}`.slice(0, RATIONALE_MAX),
      model,
    });
  }
  return TargetPortfolioSchema.parse({ ...(answer as WeightsAnswer), model });
}

/** See the module comment. */
export class ModelSource implements DecisionSource {
  readonly kind: "sampling" | "llm";

  constructor(private readonly o: ModelSourceOptions) {
    this.kind = o.client.source;
  }

  private base(): Omit<DecisionDraft, "asked" | "model" | "error"> {
    return {
      source: this.kind,
      mode: this.o.mode,
      held_from: null,
      client: null,
      latency_ms: null,
      raw: null,
      prompt_hash: null,
      cached: false,
      answer: null,
    };
  }

  async decide(ctx: DecisionContext): Promise<Decision> {
    const { db, mode, client } = this.o;
    const baseline = baselineTarget(ctx.features);
    const held = this.held(ctx.t);
    if (held) {
      const model = held.target.model;
      return {
        choice: { used: this.kind, reason: null, target_id: null, target: this.heldTarget(held, baseline) },
        record: {
          ...this.base(),
          asked: false,
          held_from: held.cycle_id,
          model: model.name,
          error: null,
          answer: held.answer,
        },
      };
    }
    const prompt = buildPrompt(
      ctx,
      mode,
      recentDecisions(db, PROMPT_LAST_DECISIONS, ctx.t),
      weightsOf(baseline),
      {
        source: this.kind,
        model: client.model,
      },
    );
    const reply = await client.ask(prompt);
    const asked = {
      ...this.base(),
      asked: reply.ok || reply.unasked !== true,
      model: reply.model,
      client: reply.client ?? null,
      latency_ms: reply.latency_ms,
      prompt_hash: prompt.hash,
      cached: reply.cached === true,
    };
    const fallback = (error: string, raw: string | null): Decision => ({
      choice: { used: "baseline_fallback", reason: error, target_id: null, target: baseline },
      record: { ...asked, error, raw },
    });
    if (!reply.ok) return fallback(scrubSecrets(reply.error), null);
    const text = scrubSecrets(reply.text);
    const raw = truncateUtf8(text, RAW_MAX_BYTES);
    const parsed = parseAnswer(text, mode, ctx.universe);
    if (!parsed.ok) return fallback(parsed.error, raw);
    let target: TargetPortfolio;
    try {
      target = answerTarget(mode, parsed.answer, baseline, {
        name: (reply.model ?? client.model ?? this.kind).slice(0, 100),
        version: `${this.kind}/${mode}`,
      });
    } catch (e) {
      return fallback(`out of schema: ${(e as Error).message.slice(0, 300)}`, raw);
    }
    return {
      choice: { used: this.kind, reason: null, target_id: null, target },
      record: { ...asked, error: null, raw, answer: parsed.answer },
    };
  }

  /** The last valid answer when it is still in force for the cycle at `t`. */
  private held(t: number) {
    if (this.o.everyCycles <= 1) return undefined;
    const last = lastAnswered(this.o.db, t);
    if (!last || last.decision.source !== this.kind || last.decision.mode !== this.o.mode) return undefined;
    // The answering cycle counts as the first of the N cycles it decides.
    return last.since + 1 < this.o.everyCycles ? last.decision : undefined;
  }

  private heldTarget(held: { target: TargetPortfolio; answer: unknown }, baseline: TargetPortfolio) {
    if (this.o.mode === "weights") return held.target;
    return answerTarget(this.o.mode, held.answer as RiskMultiplierAnswer, baseline, held.target.model);
  }
}
