import { z } from "zod";
import { SYMBOL } from "../../exchange/symbols.js";
import type { TargetPortfolio } from "../types.js";

/**
 * The one schema of a TargetPortfolio (DESIGN.md §5): `portfolio_set_target` validates an agent's
 * target with it, and every model answer passes it too (docs/cycle.md "Who decides"), so a model can
 * ask for nothing an agent could not. Weights are signed fractions of equity (long > 0).
 */

/** Longest rationale, characters. */
export const RATIONALE_MAX = 800;

/** The fields a target is made of, without who produced it (`model`). */
const targetFields = {
  targets: z.array(z.object({ symbol: SYMBOL, weight: z.number().min(-1).max(1) }).strict()).max(50),
  cash_weight: z.number().min(0).max(1).default(0),
  confidence: z.number().min(0).max(1),
  rationale: z.string().max(RATIONALE_MAX),
};

/** TargetPortfolio: targets, cash_weight, confidence 0..1, rationale ≤ 800 chars, model {name, version}. */
export const TargetPortfolioSchema = z
  .object({
    ...targetFields,
    model: z.object({ name: z.string().min(1).max(100), version: z.string().min(1).max(50) }).strict(),
  })
  .strict();

/** A model's answer in `weights` mode: a TargetPortfolio without `model` (the server fills it in). */
export const WeightsAnswerSchema = z.object(targetFields).strict();

/** Regimes a model names in `risk_multiplier` mode. */
export const REGIMES = ["risk_on", "neutral", "risk_off"] as const;

/**
 * A model's answer in `risk_multiplier` mode (the "two-stage" decision): a regime and a multiplier
 * 0..1 that scales the baseline's weights.
 */
export const RiskMultiplierAnswerSchema = z
  .object({
    regime: z.enum(REGIMES),
    multiplier: z.number().min(0).max(1),
    rationale: z.string().max(RATIONALE_MAX),
  })
  .strict();

/** A validated weights-mode answer. */
export type WeightsAnswer = z.infer<typeof WeightsAnswerSchema>;
/** A validated risk-multiplier answer. */
export type RiskMultiplierAnswer = z.infer<typeof RiskMultiplierAnswerSchema>;

/** How a model answers: weights, or a regime and a multiplier of the baseline. */
export type DecisionMode = "weights" | "risk_multiplier";

/**
 * The problem with a target's symbols, or null: a symbol outside the universe, or one named twice.
 * The same rule holds for an agent's target (where an unknown symbol makes the cycle use the
 * baseline) and for a model's answer.
 */
export function symbolProblem(
  targets: TargetPortfolio["targets"],
  universe: readonly string[],
): string | null {
  const unknown = targets.filter((x) => !universe.includes(x.symbol)).map((x) => x.symbol);
  if (unknown.length > 0) return `unknown symbols ${unknown.join(",")}`;
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.symbol)) return `${t.symbol} appears twice in targets`;
    seen.add(t.symbol);
  }
  return null;
}

/**
 * The exact JSON schema a model is asked to answer with (JSON Schema 2020-12 without `$schema`, as
 * OpenAI-style `response_format.json_schema` expects): the answer schema of `mode`, with symbols
 * narrowed to the universe so a structured-output decoder cannot name another coin.
 */
export function answerJsonSchema(mode: DecisionMode, universe: readonly string[]): Record<string, unknown> {
  const schema =
    mode === "risk_multiplier"
      ? RiskMultiplierAnswerSchema
      : WeightsAnswerSchema.extend({
          targets: z
            .array(
              z
                .object({
                  symbol: z.enum(universe as [string, ...string[]]),
                  weight: z.number().min(-1).max(1),
                })
                .strict(),
            )
            .max(universe.length),
          // Required in the answer (strict structured outputs want every property required).
          cash_weight: z.number().min(0).max(1),
        });
  const { $schema: _drop, ...json } = z.toJSONSchema(schema) as Record<string, unknown>;
  return json;
}

/** Outcome of {@link parseAnswer}. */
export type ParsedAnswer =
  | { ok: true; mode: "weights"; answer: WeightsAnswer }
  | { ok: true; mode: "risk_multiplier"; answer: RiskMultiplierAnswer }
  | { ok: false; error: string };

/** Longest answer text parsed, characters; a longer one is refused before parsing. */
export const ANSWER_MAX_CHARS = 65_536;

/**
 * Parses a model's text answer: one JSON object, optionally inside a single ``` code fence (hosts
 * often wrap JSON that way), validated by the answer schema of `mode` and, in weights mode, the
 * universe rule of {@link symbolProblem}. Never throws.
 * @returns the answer, or `error` = `unparsable: …` | `out of schema: …` | `empty answer` | `answer too long`.
 */
export function parseAnswer(text: string, mode: DecisionMode, universe: readonly string[]): ParsedAnswer {
  if (text.length > ANSWER_MAX_CHARS) return { ok: false, error: `answer too long (${text.length} chars)` };
  let body = text.trim();
  if (body === "") return { ok: false, error: "empty answer" };
  const fence = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/.exec(body);
  if (fence) body = fence[1].trim();
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (e) {
    return { ok: false, error: `unparsable: ${(e as Error).message}` };
  }
  if (mode === "risk_multiplier") {
    const r = RiskMultiplierAnswerSchema.safeParse(json);
    return r.success ? { ok: true, mode, answer: r.data } : { ok: false, error: outOfSchema(r.error) };
  }
  const r = WeightsAnswerSchema.safeParse(json);
  if (!r.success) return { ok: false, error: outOfSchema(r.error) };
  const problem = symbolProblem(r.data.targets, universe);
  if (problem) return { ok: false, error: `out of schema: ${problem}` };
  return { ok: true, mode, answer: r.data };
}

function outOfSchema(err: z.ZodError): string {
  const issues = err.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  const more = err.issues.length > 3 ? ` (+${err.issues.length - 3} more)` : "";
  return `out of schema: ${issues.join("; ")}${more}`;
}
