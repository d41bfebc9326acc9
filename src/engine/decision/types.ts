import type { PortfolioLimits } from "../riskClip.js";
import type { ApprovedTarget, FeatureSnapshot, TargetChoice, TargetPortfolio, Weights } from "../types.js";
import type { DecisionMode } from "./schema.js";

/**
 * Decision sources of the minute cycle (docs/cycle.md "Who decides"). The cycle asks one
 * {@link DecisionSource} for each tick's target, at the one place it chose the agent's target
 * before; whatever the source answers then passes the same risk clip as an agent's target.
 */

/** Who decides, by operator config (`cycle.decision`). */
export type DecisionSourceKind = "agent" | "sampling" | "llm" | "baseline";

/** What a source is given for one tick. Weights are signed fractions of equity; times ms UTC. */
export interface DecisionContext {
  cycleId: string;
  /** Cycle start (ms UTC). */
  t: number;
  /** FeatureSnapshot1m of every coin with fresh data. */
  features: FeatureSnapshot[];
  /** Coins without fresh data (they keep their weight whatever is decided). */
  stale: string[];
  /** Actual weights of the book now. */
  current: Weights;
  /** Control mode in force. */
  mode: "NORMAL" | "REDUCE_ONLY" | "HALT";
  /** The configured universe. */
  universe: readonly string[];
  limits: PortfolioLimits;
}

/** What a source decided for one tick, before the risk clip. */
export interface Decision {
  /** The target handed to the risk clip, and where it came from. */
  choice: TargetChoice;
  /** Everything recorded about how it was decided. */
  record: DecisionDraft;
}

/** The record of a decision before the clip (see {@link DecisionRecord}). */
export interface DecisionDraft {
  source: DecisionSourceKind;
  mode: DecisionMode;
  /** A model was asked in this cycle (false: the agent, the baseline, or a held answer). */
  asked: boolean;
  /** Cycle whose model answer is still in force (`cycle.decisionEveryCycles` > 1), else null. */
  held_from: string | null;
  /** Model id as the endpoint or client reported it (or the agent's / baseline's model name). */
  model: string | null;
  /** The MCP session that answered a sampling request (its caller id), else null. */
  client: string | null;
  /** Wall-clock time the model took (all attempts), ms; null when none was asked. */
  latency_ms: number | null;
  /** Why the baseline stood in, when it did. */
  error: string | null;
  /** The model's raw text, secrets scrubbed, truncated to 4 KB (UTF-8). */
  raw: string | null;
  /** sha256 of the prompt (the replay cache key). */
  prompt_hash: string | null;
  /** The answer came from the replay cache, not the model. */
  cached: boolean;
  /** The validated answer (weights-mode target or {regime, multiplier, rationale}). */
  answer: unknown;
}

/** The clip of a decided target (the risk layer's answer). */
export type Clipped = Pick<ApprovedTarget, "weights" | "rejections" | "gross" | "net" | "turnover">;

/**
 * The per-cycle decision record (`cycle_decisions`, `portfolio_get_status.last_decisions`, audit
 * `cycle.decision`): `{source, used, model, latency_ms, error?, raw (≤ 4 KB), target, clipped}` and
 * the details above.
 */
export interface DecisionRecord extends DecisionDraft {
  cycle_id: string;
  ts: number;
  used: TargetChoice["used"];
  /** Null in a compacted row: a replay's older decisions that no model answered (`compactDecisions`). */
  target: TargetPortfolio | null;
  /** Null in a compacted row, like `target`. */
  clipped: Clipped | null;
}

/** Chooses each tick's target. */
export interface DecisionSource {
  readonly kind: DecisionSourceKind;
  /**
   * Decides the target of one tick. Never throws for a model's failure (timeout, refusal,
   * unparsable, out of schema): those become the baseline with `used: baseline_fallback`.
   * @throws only on storage failure.
   */
  decide(ctx: DecisionContext): Promise<Decision>;
}

/** A model's reply to one prompt, as a {@link ModelClient} returns it. Never holds a secret. */
export type ModelReply =
  | { ok: true; text: string; model: string | null; client?: string | null; latency_ms: number }
  | {
      ok: false;
      error: string;
      model: string | null;
      client?: string | null;
      latency_ms: number;
      /** Nobody was asked (no sampling client connected). */
      unasked?: boolean;
    };

/** A compact prompt: a system and a user message. */
export interface Prompt {
  system: string;
  user: string;
  /** sha256 of everything that determines the answer (source, model, mode, messages). */
  hash: string;
}

/** Asks a model (an endpoint, or an MCP client through sampling). */
export interface ModelClient {
  readonly source: "llm" | "sampling";
  /** The configured model id, part of the prompt hash (null: whatever the client picks). */
  readonly model: string | null;
  /** Asks once (with the client's own retry policy). Never throws: failures are replies. */
  ask(prompt: Prompt): Promise<ModelReply & { cached?: boolean }>;
}
