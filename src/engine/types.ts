import type { FeatureSnapshot1m } from "../exchange/service.js";

/**
 * Typed stage inputs/outputs of the minute cycle (DESIGN.md §5). Weights are signed fractions of
 * equity (long > 0); times are ms UTC; quantities in coins; prices in quote currency.
 */

/** Symbol → signed weight (fraction of equity). Missing symbols mean 0. */
export type Weights = Record<string, number>;

/** Stage 1: one FeatureSnapshot1m per symbol (computed by the MarketService; see its docstring). */
export type FeatureSnapshot = FeatureSnapshot1m;

/** Stage 2: what the agent (or the baseline) asks for. */
export interface TargetPortfolio {
  targets: Array<{ symbol: string; weight: number }>;
  cash_weight: number;
  /** 0..1; below 0.5 the risk clip halves every weight. */
  confidence: number;
  rationale: string;
  model: { name: string; version: string };
}

/**
 * Where a stage-2 target came from (docs/cycle.md "Who decides"): the agent's latest target, the
 * baseline, a model asked through MCP sampling or an OpenAI-compatible endpoint (`llm`), or the
 * baseline because that model failed (`baseline_fallback`).
 */
export type TargetUsed = "agent" | "sampling" | "llm" | "baseline" | "baseline_fallback";

/** Why a stage-2 target was or was not the decision source's. */
export interface TargetChoice {
  used: TargetUsed;
  /**
   * Present when the baseline stood in: "no_target" | "expired" | "invalid: ..." for the agent
   * source, the model's error (timeout, unparsable, out of schema, ...) for a model source.
   */
  reason: string | null;
  /** Id of the agent target row, when used. */
  target_id: number | null;
  target: TargetPortfolio;
}

/** One clip made by the risk layer. */
export interface Rejection {
  symbol: string;
  reason:
    | "limit_breach"
    | "symbol_not_allowed"
    | "per_coin_cap"
    | "low_confidence"
    | "max_gross"
    | "max_net"
    | "turnover_cap"
    | "budget_pacing"
    | "reduce_only"
    | "halted";
  original_weight: number;
  approved_weight: number;
}

/** Stage 3 output. */
export interface ApprovedTarget {
  weights: Weights;
  rejections: Rejection[];
  gross: number;
  net: number;
  /** Σ|approved − current actual weights| (the move the cycle asks for). */
  turnover: number;
  mode: "NORMAL" | "REDUCE_ONLY" | "HALT";
}

/** One child order of the execution plan. */
export interface PlannedSlice {
  client_order_id: string;
  symbol: string;
  side: "buy" | "sell";
  /** Coins, a positive multiple of the venue's lot size, as a decimal string. */
  qty: string;
  /** True when the slice only reduces the current position. */
  reduce_only: boolean;
  /** Slice index within its symbol's schedule (0 for the close-first slice). */
  slice: number;
  /** When to send it, ms UTC. */
  due_at: number;
  /** Limit price (price guard): mid × (1 ± guard) rounded to tick, as a decimal string. */
  limit_px: string;
}

/** Stage 4 output. */
export interface ExecutionPlan {
  cycle_id: string;
  equity: number;
  slices: PlannedSlice[];
  /** Symbols skipped, e.g. below min notional or lot size. */
  skipped: Array<{ symbol: string; reason: string; delta_weight: number }>;
}
