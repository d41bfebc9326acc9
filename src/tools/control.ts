import { z } from "zod";
import { TwError } from "../errors.js";
import { flatten } from "../orders/flatten.js";
import { VENUE_ARG } from "../orders/ops.js";
import { changeMode } from "../policy/control.js";
import type { LimitChange } from "../policy/limitScope.js";
import {
  currentPortfolioLimits,
  type PortfolioLimitSet,
  setPortfolioLimits,
} from "../store/portfolioLimits.js";
import type { ControlMode } from "../store/control.js";
import { currentLimits, type RiskLimits, setLimits } from "../store/riskLimits.js";
import { SYMBOL } from "../exchange/symbols.js";
import { PORTFOLIO_ARGS, portfolioShape, portfolioView } from "./portfolioLimits.js";
import { defineTool } from "./registry.js";

/**
 * control toolset: the kill switch, flatten and risk limits. Tightening (halt, reduce-only from NORMAL,
 * lowering a limit) needs control:tighten — the agent has it; loosening (resume, reduce-only from HALT,
 * raising a limit: decided per field by the gate's limit-scope step) and control_flatten need
 * control:loosen — operator only. Modes and limits persist in SQLite; every change records who and why.
 */

const reason = z.string().min(3).max(500).describe("Why (recorded with your identity).");
const idemKey = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe("Retry key: a retry with the same key returns the first result.");
const controlOut = z.object({
  mode: z.string(),
  previous_mode: z.string(),
  /** False when the mode was already in effect (nothing written). */
  changed: z.boolean(),
  reason: z.string(),
  actor: z.string(),
  since: z.number(),
});
/** Control calls are idempotent by nature (see changeMode), so a key is recorded, never replayed. */
const controlKey = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe("Recorded for your bookkeeping; repeating a call re-applies its mode if it no longer holds.");

function modeTool(
  name: string,
  title: string,
  mode: ControlMode,
  scope: "control:tighten" | "control:loosen",
  description: string,
) {
  return defineTool({
    name,
    toolset: "control",
    title,
    description,
    scope,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    input: z.object({ reason, idempotency_key: controlKey }).strict(),
    output: controlOut,
    facts: (args) => ({
      mutating: true,
      exposure: "none",
      auditKeys: args.idempotency_key ? [args.idempotency_key] : undefined,
    }),
    handler: async (args, { app, caller }) => {
      const { previous, current, changed } = changeMode(app.db, app.clock, caller, mode, args.reason);
      return { ...current, previous_mode: previous.mode, changed };
    },
  });
}

const limitsShape = z.object({
  min_notional: z.number(),
  max_order_notional: z.number(),
  max_daily_notional: z.number(),
  max_leverage: z.number(),
  price_band_fraction: z.number(),
  max_open_orders: z.number(),
  allowed_symbols: z.array(z.string()),
});

const frac = z.number().min(0).max(1);

const riskSetLimitsInput = z
  .object({
    min_notional: z.number().min(0).optional(),
    max_order_notional: z.number().positive().optional(),
    max_daily_notional: z.number().positive().optional(),
    max_leverage: z.number().positive().max(100).optional(),
    price_band_fraction: z.number().positive().max(1).optional(),
    max_open_orders: z.number().int().positive().max(10_000).optional(),
    allowed_symbols: z.array(SYMBOL).max(500).optional(),
    max_gross: frac.optional(),
    max_net: frac.optional(),
    caps: z.record(z.string().regex(/^[A-Z0-9]{1,20}$/), frac).optional(),
    default_cap: frac.optional(),
    turnover_cap: frac.optional(),
    daily_turnover_cap: z.number().positive().max(1_000).optional(),
    ewma_alpha: z.number().positive().max(1).optional(),
    low_confidence_threshold: frac.optional(),
    low_confidence_scale: frac.optional(),
    headroom: z.number().min(0).max(0.5).optional(),
    drawdown_reduce_only: z.number().positive().max(1).optional(),
    drawdown_halt: z.number().positive().max(1).optional(),
    daily_loss_fraction: z.number().positive().max(1).optional(),
    daily_loss_quote: z.number().positive().optional(),
    reason,
    idempotency_key: idemKey,
  })
  .strict();

type RiskSetLimitsArgs = z.infer<typeof riskSetLimitsInput>;

/** Splits risk_set_limits arguments into order-level and portfolio patches (only the given fields). */
function limitChange(args: RiskSetLimitsArgs): LimitChange {
  const order: Partial<RiskLimits> = {};
  const portfolio: Partial<PortfolioLimitSet> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined || k === "reason" || k === "idempotency_key") continue;
    const pk = (PORTFOLIO_ARGS as Record<string, keyof PortfolioLimitSet>)[k];
    if (pk) (portfolio as Record<string, unknown>)[pk] = v;
    else (order as Record<string, unknown>)[k] = v;
  }
  return { order, portfolio };
}

const flattenClose = z.object({
  symbol: z.string(),
  client_order_id: z.string(),
  size: z.string(),
  status: z.string(),
  filled_size: z.string(),
  code: z.string().nullable(),
  message: z.string().nullable(),
});
const position = z.object({ symbol: z.string(), size: z.string() });

export const controlTools = [
  modeTool(
    "control_halt",
    "Halt trading",
    "HALT",
    "control:tighten",
    "Kill switch: refuses every order that opens or increases exposure (HALTED) until an operator resumes. Cancels and " +
      "reduce_only closes still work. You can halt but never resume.",
  ),
  modeTool(
    "control_reduce_only",
    "Reduce-only mode",
    "REDUCE_ONLY",
    "control:tighten",
    "Only orders with reduce_only: true are accepted (REDUCE_ONLY). From HALT this loosens and needs an operator.",
  ),
  modeTool(
    "control_resume",
    "Resume trading",
    "NORMAL",
    "control:loosen",
    "Back to NORMAL: orders that open or increase exposure are accepted again (operator only; needs control:loosen).",
  ),
  defineTool({
    name: "risk_set_limits",
    toolset: "control",
    title: "Set risk limits",
    description:
      "Changes risk limits (omitted fields keep their value) and returns the effective ones. control:tighten (the agent) may only tighten; loosening any field needs control:loosen (operator), else the whole call is FORBIDDEN_SCOPE. Order-level limits apply to the next order, portfolio limits (fractions of equity) from the next cycle.",
    scope: "control:tighten",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    input: riskSetLimitsInput,
    output: z.object({
      limits: limitsShape,
      portfolio_limits: portfolioShape,
      changed: z.array(z.string()),
      effective: z.string(),
    }),
    facts: (args) => ({
      mutating: true,
      exposure: "none",
      idempotencyKey: args.idempotency_key,
      limitChange: limitChange(args),
    }),
    handler: async (args, { app, caller }) => {
      const { order, portfolio } = limitChange(args);
      const next = { ...currentPortfolioLimits(app.db, app.config), ...portfolio };
      if (next.drawdownReduceOnly > next.drawdownHalt) {
        throw new TwError(
          "INVALID_INPUT",
          `drawdown_reduce_only (${next.drawdownReduceOnly}) must not exceed drawdown_halt (${next.drawdownHalt}).`,
          { hint: "Set the REDUCE_ONLY threshold at or below the HALT threshold." },
        );
      }
      const now = app.clock.now();
      app.db.transaction(() => {
        if (Object.keys(order).length > 0) setLimits(app.db, order, caller.id, args.reason, now);
        if (Object.keys(portfolio).length > 0)
          setPortfolioLimits(app.db, portfolio, caller.id, args.reason, now);
      })();
      const changed = Object.keys(args).filter(
        (k) => k !== "reason" && k !== "idempotency_key" && args[k as keyof RiskSetLimitsArgs] !== undefined,
      );
      return {
        limits: currentLimits(app.db, app.config),
        portfolio_limits: portfolioView(currentPortfolioLimits(app.db, app.config)),
        changed,
        effective: "order-level limits: the next order; portfolio limits: the next cycle",
      };
    },
  }),
  defineTool({
    name: "control_flatten",
    toolset: "control",
    title: "Halt and flatten",
    description:
      "Operator kill-and-close: sets HALT, cancels every resting order of the venue (default: the cycle venue), then " +
      "closes every position with reduce-only market orders through the gate (split at max_order_notional), all audited. " +
      "Returns the cancels, each close with its status, and the positions left (a close may fill partially when " +
      "liquidity is short: call again). Idempotent by idempotency_key.",
    scope: "control:loosen",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    input: z
      .object({
        venue: VENUE_ARG.optional().describe("Venue id; default the cycle venue."),
        reason,
        idempotency_key: idemKey,
      })
      .strict(),
    output: z.object({
      venue: z.string(),
      mode: z.string(),
      previous_mode: z.string(),
      canceled: z.array(z.object({ order_id: z.string(), ok: z.boolean(), error: z.string().nullable() })),
      closes: z.array(flattenClose),
      positions_before: z.array(position),
      remaining: z.array(position),
    }),
    facts: (args) => ({
      mutating: true,
      exposure: "reduce",
      venue: args.venue,
      idempotencyKey: args.idempotency_key,
    }),
    summarize: (r) => ({ venue: r.venue, closes: r.closes.length, remaining: r.remaining }),
    handler: async (args, { app, caller }) =>
      flatten(app, caller, args.venue ?? app.config.cycle.venue, args.reason),
  }),
];
