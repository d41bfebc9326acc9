import { z } from "zod";
import type { PortfolioLimitSet } from "../store/portfolioLimits.js";

/**
 * The portfolio limits as tools show and take them (snake_case), and their `cycle.limits` keys
 * (camelCase): shared by risk_set_limits and portfolio_get_status.
 */

/** Portfolio-limit arguments (snake_case) ↔ `cycle.limits` keys (camelCase). */
export const PORTFOLIO_ARGS = {
  max_gross: "maxGross",
  max_net: "maxNet",
  caps: "caps",
  default_cap: "defaultCap",
  turnover_cap: "turnoverCap",
  daily_turnover_cap: "dailyTurnoverCap",
  ewma_alpha: "ewmaAlpha",
  low_confidence_threshold: "lowConfidenceThreshold",
  low_confidence_scale: "lowConfidenceScale",
  headroom: "headroom",
  drawdown_reduce_only: "drawdownReduceOnly",
  drawdown_halt: "drawdownHalt",
  daily_loss_fraction: "dailyLossFraction",
  daily_loss_quote: "dailyLossQuote",
} as const satisfies Record<string, keyof PortfolioLimitSet>;

/** Output shape of the effective portfolio limits. */
export const portfolioShape = z.object({
  max_gross: z.number(),
  max_net: z.number(),
  caps: z.record(z.string(), z.number()),
  default_cap: z.number(),
  turnover_cap: z.number(),
  daily_turnover_cap: z.number(),
  ewma_alpha: z.number(),
  low_confidence_threshold: z.number(),
  low_confidence_scale: z.number(),
  headroom: z.number(),
  drawdown_reduce_only: z.number(),
  drawdown_halt: z.number(),
  daily_loss_fraction: z.number(),
  daily_loss_quote: z.number().nullable(),
});

/** The effective portfolio limits with snake_case keys. */
export function portfolioView(l: PortfolioLimitSet): z.infer<typeof portfolioShape> {
  return Object.fromEntries(Object.entries(PORTFOLIO_ARGS).map(([arg, key]) => [arg, l[key]])) as z.infer<
    typeof portfolioShape
  >;
}
