import { z } from "zod";

/**
 * The out-of-sample gate of an experiment (issue 18, docs/backtesting.md "The gate"): the verdict an
 * agent acts on, so it passes only a winner that made money out of sample, with a Sharpe above a
 * floor, a deflated-Sharpe probability above a threshold for the number of variants tried, enough
 * round trips to mean something, and a return above buy-and-hold on the same windows.
 *
 * Every criterion is evaluated and listed (value, threshold, pass/fail), also the ones a looser gate
 * does not require: those are measured against the default thresholds and marked `required: false`,
 * so a looser verdict never hides how the winner fares against the default. A positive out-of-sample
 * return is required by every gate; no configuration can pass a loser.
 */

/** Thresholds of a gate. `null` turns a criterion off (it is still listed, as not required). */
export const GateConfig = z
  .object({
    /** Out-of-sample annualised Sharpe must be above this. */
    min_sharpe: z.number().min(-100).max(100).nullable(),
    /** Deflated-Sharpe probability (0..1) must be above this. */
    min_deflated_sharpe: z.number().min(0).max(1).nullable(),
    /** Out-of-sample closed round trips must be at least this. */
    min_trades: z.number().int().min(0).max(1_000_000),
    /** Out-of-sample total return must be above buy-and-hold's on the same windows. */
    beat_buy_and_hold: z.boolean(),
  })
  .strict();
export type GateConfig = z.infer<typeof GateConfig>;

/** The default gate (issue 18): Sharpe > 0, DSR > 0.95, ≥ 30 trades, beats buy-and-hold. */
export const DEFAULT_GATE: Readonly<GateConfig> = Object.freeze({
  min_sharpe: 0,
  min_deflated_sharpe: 0.95,
  min_trades: 30,
  beat_buy_and_hold: true,
});

/**
 * The gate as stored in an experiment spec: `default` (the server's default thresholds) or `custom`
 * (the caller passed `gate`), with the thresholds in force.
 */
export const GateSpec = GateConfig.extend({ name: z.enum(["default", "custom"]) }).strict();
export type GateSpec = z.infer<typeof GateSpec>;

/** What the gate judges: the winner's out-of-sample figures and buy-and-hold on the same windows. */
export interface GateInput {
  /** Winner's out-of-sample total return (fraction). */
  oos_return: number;
  /** Winner's out-of-sample annualised Sharpe; null when undefined (fewer than 2 daily returns). */
  oos_sharpe: number | null;
  /** Winner's deflated-Sharpe probability (0..1); null when undefined. */
  deflated_sharpe: number | null;
  /** Winner's out-of-sample closed round trips. */
  oos_trades: number;
  /** Buy-and-hold's out-of-sample total return on the same windows (fraction). */
  buy_and_hold_return: number;
  /** Variants tried (N of the deflated Sharpe). */
  variants: number;
}

/** Stable names of the criteria, in the order they are listed. */
export const CRITERIA = [
  "positive_return",
  "min_sharpe",
  "deflated_sharpe",
  "min_trades",
  "beats_buy_and_hold",
] as const;
export type CriterionName = (typeof CRITERIA)[number];

/** One criterion's verdict. */
export interface GateCriterion {
  criterion: CriterionName;
  /** The rule in words, e.g. "out-of-sample Sharpe > 0". */
  rule: string;
  /** The measured value; null when undefined (which fails). */
  value: number | null;
  /** How value is compared with threshold. */
  op: ">" | ">=";
  /** The threshold compared against. */
  threshold: number;
  passed: boolean;
  /** Whether the gate in force requires it (false only under a looser custom gate). */
  required: boolean;
}

/** The gate's verdict. */
export interface GateResult {
  /** Which gate was used. */
  name: GateSpec["name"];
  /** Its thresholds. */
  config: GateConfig;
  passed: boolean;
  /** "passed", or the first failed required criterion. */
  decision: string;
  /** Every failed required criterion. */
  failed: CriterionName[];
  criteria: GateCriterion[];
}

/**
 * Judges a winner. Pure and total: undefined values (null Sharpe or DSR, NaN) fail their criterion.
 * @param gate the gate in force; `defaults` give the thresholds of criteria it turns off.
 */
export function evaluateGate(
  input: GateInput,
  gate: GateSpec,
  defaults: GateConfig = DEFAULT_GATE,
): GateResult {
  const above = (v: number | null, t: number) => v !== null && Number.isFinite(v) && v > t;
  const sharpeT = gate.min_sharpe ?? defaults.min_sharpe ?? 0;
  const dsrT = gate.min_deflated_sharpe ?? defaults.min_deflated_sharpe ?? 0.95;
  const criteria: GateCriterion[] = [
    {
      criterion: "positive_return",
      rule: "out-of-sample total return > 0",
      value: input.oos_return,
      op: ">",
      threshold: 0,
      passed: above(input.oos_return, 0),
      required: true,
    },
    {
      criterion: "min_sharpe",
      rule: `out-of-sample annualised Sharpe > ${sharpeT}`,
      value: input.oos_sharpe,
      op: ">",
      threshold: sharpeT,
      passed: above(input.oos_sharpe, sharpeT),
      required: gate.min_sharpe !== null,
    },
    {
      criterion: "deflated_sharpe",
      rule: `deflated-Sharpe probability for ${input.variants} variant${input.variants === 1 ? "" : "s"} > ${dsrT}`,
      value: input.deflated_sharpe,
      op: ">",
      threshold: dsrT,
      passed: above(input.deflated_sharpe, dsrT),
      required: gate.min_deflated_sharpe !== null,
    },
    {
      criterion: "min_trades",
      rule: `out-of-sample round trips ≥ ${gate.min_trades}`,
      value: input.oos_trades,
      op: ">=",
      threshold: gate.min_trades,
      passed: input.oos_trades >= gate.min_trades,
      required: true,
    },
    {
      criterion: "beats_buy_and_hold",
      rule: "out-of-sample total return > buy-and-hold's on the same windows",
      value: input.oos_return,
      op: ">",
      threshold: input.buy_and_hold_return,
      passed: above(input.oos_return, input.buy_and_hold_return),
      required: gate.beat_buy_and_hold,
    },
  ];
  const failed = criteria.filter((c) => c.required && !c.passed).map((c) => c.criterion);
  const { name, ...config } = gate;
  return { name, config, passed: failed.length === 0, decision: failed[0] ?? "passed", failed, criteria };
}
