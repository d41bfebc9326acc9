import { z } from "zod";
import { TwError } from "../../errors.js";
import type { StrategyDef } from "../types.js";
import { momentumVolTarget } from "./momentum.js";
import { buyAndHold, donchianBreakout, emaCross, rsiReversion, rulesStrategy } from "./single.js";

/** Every strategy by name (strategy_list order). */
// biome-ignore lint/suspicious/noExplicitAny: heterogeneous parameter types in one registry
export const STRATEGIES: ReadonlyArray<StrategyDef<any>> = [
  buyAndHold,
  emaCross,
  rsiReversion,
  donchianBreakout,
  momentumVolTarget,
  rulesStrategy,
];

/** A strategy with validated parameters (defaults filled in). */
export interface ResolvedStrategy {
  // biome-ignore lint/suspicious/noExplicitAny: see STRATEGIES
  def: StrategyDef<any>;
  params: Record<string, unknown>;
}

/**
 * Looks a strategy up and validates its parameters against its zod schema.
 * @throws TwError NOT_FOUND for an unknown name (listing the known ones), INVALID_INPUT for bad params.
 */
export function resolveStrategy(name: string, params: unknown): ResolvedStrategy {
  const def = STRATEGIES.find((s) => s.name === name);
  if (!def) {
    throw new TwError("NOT_FOUND", `No strategy named ${name}.`, {
      hint: `Known strategies: ${STRATEGIES.map((s) => s.name).join(", ")} (see strategy_list).`,
    });
  }
  const r = def.params.safeParse(params ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join(".") || "(params)"}: ${i.message}`);
    throw new TwError("INVALID_INPUT", `Invalid ${name} params: ${problems.join("; ")}.`, {
      hint: "See the params JSON schema in strategy_list.",
      details: { problems },
    });
  }
  return { def, params: r.data as Record<string, unknown> };
}

/** Name, description, kind and params JSON schema of every strategy. */
export function describeStrategies(): Array<{
  name: string;
  description: string;
  kind: "single" | "portfolio";
  params_schema: Record<string, unknown>;
}> {
  // The catalogue is fixed at build time and converting the schemas costs milliseconds: convert once,
  // hand out a fresh copy each call so no caller can alter another's.
  describedJson ??= JSON.stringify(
    STRATEGIES.map((s) => {
      const js = z.toJSONSchema(s.params, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
      delete js.$schema;
      return { name: s.name, description: s.description, kind: s.kind, params_schema: js };
    }),
  );
  return JSON.parse(describedJson);
}

let describedJson: string | undefined;
