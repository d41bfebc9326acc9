import { createHash } from "node:crypto";
import type { DecisionRecord } from "./types.js";
import type { DecisionContext, Prompt } from "./types.js";
import { answerJsonSchema, type DecisionMode, RATIONALE_MAX } from "./schema.js";
import type { Weights } from "../types.js";

/**
 * The compact prompt of a model decision (docs/cycle.md "The prompt"): a system message with the
 * rules and the exact JSON schema of the answer, and a user message holding one JSON object with the
 * FeatureSnapshot1m per coin, the actual weights, the limits, the control mode, the decision mode
 * and the last decisions with their clips. Numbers are rounded to 6 significant digits: enough for
 * a decision, and the prompt (and its hash, the replay cache key) stays small and deterministic.
 */

/** How many earlier decisions the prompt shows, and how many clips of each. */
export const PROMPT_LAST_DECISIONS = 3;
const CLIPS_PER_DECISION = 10;

const r6 = (x: number | null): number | null => (x === null ? null : Number(x.toPrecision(6)));

function roundWeights(w: Weights): Weights {
  return Object.fromEntries(Object.entries(w).map(([k, v]) => [k, r6(v) ?? 0]));
}

function system(mode: DecisionMode, universe: readonly string[]): string {
  const schema = JSON.stringify(answerJsonSchema(mode, universe));
  const task =
    mode === "risk_multiplier"
      ? "You set the risk of tradewarden's minute cycle (crypto perpetuals, USD-margined). The baseline " +
        "(1h momentum x inverse 1h volatility, baseline_weights in the input) decides the direction; you " +
        "name the market regime and a multiplier 0..1 that scales the baseline's weights (0 = flat, 1 = " +
        "the baseline as is)."
      : "You decide the target portfolio of tradewarden's minute cycle (crypto perpetuals, USD-margined). " +
        "Weights are signed fractions of equity (long > 0, short < 0); cash_weight is the unallocated " +
        "fraction; confidence is 0..1 (below the low-confidence threshold every weight is scaled down).";
  return [
    task,
    `Answer with ONE JSON object and nothing else, matching this JSON schema exactly (rationale at most ${RATIONALE_MAX} characters):`,
    schema,
    "The risk layer clips every answer in this order: symbol allow-list, per-coin caps, low confidence, " +
      "max gross, max net, EWMA smoothing against the previous approved weights, turnover cap per cycle, " +
      "control mode (REDUCE_ONLY: no weight may grow or change sign; HALT: no trading). Asking beyond the " +
      "limits only produces clips (last_decisions shows them). An answer that is not valid JSON of this " +
      "schema is replaced by the baseline.",
  ].join("\n");
}

/**
 * Builds the prompt of one decision.
 * @param last the newest decisions first (at most {@link PROMPT_LAST_DECISIONS} are shown).
 * @param baseline the baseline's weights now (shown in risk_multiplier mode).
 * @param id source and configured model, part of the hash.
 */
export function buildPrompt(
  ctx: DecisionContext,
  mode: DecisionMode,
  last: readonly DecisionRecord[],
  baseline: Weights,
  id: { source: string; model: string | null },
): Prompt {
  const l = ctx.limits;
  const input: Record<string, unknown> = {
    cycle_id: ctx.cycleId,
    time: new Date(ctx.t).toISOString(),
    control_mode: ctx.mode,
    decision_mode: mode,
    universe: ctx.universe,
    features: ctx.features.map((f) => ({
      symbol: f.symbol,
      mid: r6(f.mid),
      ret_1m: r6(f.ret_1m),
      ret_5m: r6(f.ret_5m),
      ret_1h: r6(f.ret_1h),
      vol_1h: r6(f.vol_1h),
      spread_bps: r6(f.spread_bps),
      book_imbalance: r6(f.book_imbalance),
    })),
    stale: ctx.stale,
    current_weights: roundWeights(ctx.current),
    limits: {
      max_gross: l.maxGross,
      max_net: l.maxNet,
      caps: Object.fromEntries(ctx.universe.map((s) => [s, l.caps[s] ?? l.defaultCap])),
      low_confidence_threshold: l.lowConfidenceThreshold,
      low_confidence_scale: l.lowConfidenceScale,
      ewma_alpha: l.ewmaAlpha,
      turnover_cap: l.turnoverCap,
    },
    last_decisions: last.slice(0, PROMPT_LAST_DECISIONS).map((d) => ({
      cycle_id: d.cycle_id,
      used: d.used,
      ...(d.error ? { error: d.error.slice(0, 200) } : {}),
      asked: roundWeights(Object.fromEntries((d.target?.targets ?? []).map((x) => [x.symbol, x.weight]))),
      approved: roundWeights(d.clipped?.weights ?? {}),
      clips: (d.clipped?.rejections ?? []).slice(0, CLIPS_PER_DECISION).map((c) => ({
        symbol: c.symbol,
        reason: c.reason,
        from: r6(c.original_weight),
        to: r6(c.approved_weight),
      })),
    })),
  };
  if (mode === "risk_multiplier") input.baseline_weights = roundWeights(baseline);
  const sys = system(mode, ctx.universe);
  const user = JSON.stringify(input);
  const hash = createHash("sha256")
    .update(JSON.stringify([id.source, id.model, mode, sys, user]))
    .digest("hex");
  return { system: sys, user, hash };
}

/** `s` cut to at most `bytes` bytes of UTF-8, never inside a character. */
export function truncateUtf8(s: string, bytes: number): string {
  const buf = Buffer.from(s, "utf8");
  if (buf.length <= bytes) return s;
  let end = bytes;
  // Back up over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}
