import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { currentPortfolioLimits, type PortfolioLimitSet } from "../store/portfolioLimits.js";
import { currentLimits, type RiskLimits } from "../store/riskLimits.js";
import type { GateStep } from "./gate.js";

/**
 * Who may change a limit (issue 13; DESIGN.md §2 "an agent can never raise limits"). `risk_set_limits`
 * needs `control:tighten`, which the agent profile has; this gate step then decides per field whether
 * the change TIGHTENS (allowed to any caller of the tool) or LOOSENS (needs `control:loosen`, operator
 * only). A call that loosens any field is refused as a whole with FORBIDDEN_SCOPE listing the fields,
 * before anything is written. The decision lives here, in the gate, not in the tool's handler.
 *
 * Direction of each field (a change to an equal value is not loosening):
 * - lower is tighter: max_order_notional, max_daily_notional, max_leverage, price_band_fraction,
 *   max_open_orders; maxGross, maxNet, defaultCap, caps[symbol] (vs the symbol's effective cap),
 *   turnoverCap, ewmaAlpha (slower moves), lowConfidenceScale, drawdownReduceOnly, drawdownHalt,
 *   dailyLossFraction, dailyLossQuote (setting a quote limit where none was set counts as loosening:
 *   it may exceed the fraction on some days);
 * - higher is tighter: min_notional, lowConfidenceThreshold, headroom;
 * - allowed_symbols: tighter when the new list (empty = the universe) is a subset of the current one.
 */

/** A requested change: order-level fields (snake_case, as stored) and portfolio fields (camelCase). */
export interface LimitChange {
  order: Partial<RiskLimits>;
  portfolio: Partial<PortfolioLimitSet>;
}

/** One field a change would loosen, named as the `risk_set_limits` argument (snake_case). */
export interface Loosened {
  field: string;
  current: unknown;
  requested: unknown;
}

const ORDER_LOWER: ReadonlyArray<keyof RiskLimits> = [
  "max_order_notional",
  "max_daily_notional",
  "max_leverage",
  "price_band_fraction",
  "max_open_orders",
];
const PORTFOLIO_LOWER: ReadonlyArray<keyof PortfolioLimitSet> = [
  "maxGross",
  "maxNet",
  "defaultCap",
  "turnoverCap",
  "dailyTurnoverCap",
  "ewmaAlpha",
  "lowConfidenceScale",
  "drawdownReduceOnly",
  "drawdownHalt",
  "dailyLossFraction",
];
const PORTFOLIO_HIGHER: ReadonlyArray<keyof PortfolioLimitSet> = ["lowConfidenceThreshold", "headroom"];

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The fields of `change` that loosen the effective limits (empty = the change only tightens). */
export function loosenedFields(
  change: LimitChange,
  order: RiskLimits,
  portfolio: PortfolioLimitSet,
  universe: readonly string[],
): Loosened[] {
  const out: Loosened[] = [];
  const o = change.order;
  for (const k of ORDER_LOWER) {
    const v = o[k] as number | undefined;
    if (v !== undefined && v > (order[k] as number)) out.push({ field: k, current: order[k], requested: v });
  }
  if (o.min_notional !== undefined && o.min_notional < order.min_notional)
    out.push({ field: "min_notional", current: order.min_notional, requested: o.min_notional });
  if (o.allowed_symbols !== undefined) {
    const cur = new Set(order.allowed_symbols.length > 0 ? order.allowed_symbols : universe);
    const next = o.allowed_symbols.length > 0 ? o.allowed_symbols : universe;
    if (next.some((s) => !cur.has(s)))
      out.push({ field: "allowed_symbols", current: [...cur], requested: o.allowed_symbols });
  }
  const p = change.portfolio;
  for (const k of PORTFOLIO_LOWER) {
    const v = p[k] as number | undefined;
    if (v !== undefined && v > (portfolio[k] as number))
      out.push({ field: snake(k), current: portfolio[k], requested: v });
  }
  for (const k of PORTFOLIO_HIGHER) {
    const v = p[k] as number | undefined;
    if (v !== undefined && v < (portfolio[k] as number))
      out.push({ field: snake(k), current: portfolio[k], requested: v });
  }
  if (p.dailyLossQuote !== undefined && p.dailyLossQuote !== null) {
    const cur = portfolio.dailyLossQuote;
    if (cur === null || p.dailyLossQuote > cur)
      out.push({ field: "daily_loss_quote", current: cur, requested: p.dailyLossQuote });
  }
  for (const [s, v] of Object.entries(p.caps ?? {})) {
    const cur = portfolio.caps[s] ?? portfolio.defaultCap;
    if (v > cur) out.push({ field: `caps.${s}`, current: cur, requested: v });
  }
  return out;
}

/**
 * The gate step (order 20, before control mode): runs when the call's facts carry `limitChange`.
 * @throws TwError FORBIDDEN_SCOPE when the change loosens a field and the caller lacks control:loosen.
 */
export function limitScopeStep(app: App): GateStep {
  return {
    name: "limit_scope",
    order: 20,
    check(call) {
      const change = call.facts.limitChange as LimitChange | undefined;
      if (!change || call.caller.scopes.has("control:loosen")) return undefined;
      const loosened = loosenedFields(
        change,
        currentLimits(app.db, app.config),
        currentPortfolioLimits(app.db, app.config),
        app.config.universe,
      );
      if (loosened.length === 0) return undefined;
      throw new TwError(
        "FORBIDDEN_SCOPE",
        `Raising a limit needs scope control:loosen (operator); this change loosens ${loosened.map((l) => l.field).join(", ")}.`,
        {
          hint: "You may only tighten limits. Ask the human operator to loosen them (risk_set_limits with an operator token).",
          details: { required_scope: "control:loosen", profile: call.caller.profile, loosened },
        },
      );
    },
  };
}
