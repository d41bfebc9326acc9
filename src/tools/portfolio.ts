import { z } from "zod";
import { TargetPortfolioSchema } from "../engine/decision/schema.js";
import type { PortfolioLimitSet } from "../store/portfolioLimits.js";
import { portfolioShape, portfolioView } from "./portfolioLimits.js";
import { defineTool } from "./registry.js";

const weights = z.record(z.string(), z.number());
const rejection = z.object({
  symbol: z.string(),
  reason: z.string(),
  original_weight: z.number(),
  approved_weight: z.number(),
});

/** portfolio toolset: targets for the minute cycle and its status (src/engine). */
export const portfolioTools = [
  defineTool({
    name: "portfolio_set_target",
    toolset: "portfolio",
    title: "Set target portfolio weights",
    description:
      "Sets target weights (signed fractions of equity) for the minute cycle, valid 5 cycles; confidence < 0.5 halves them; traded only when decision_source is agent. Returns at once what the risk layer approves from the actual book, each rejection, and whether the cycle runs. Idempotent by idempotency_key.",
    scope: "portfolio:target",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    // The same schema every model answer passes (src/engine/decision/schema.ts).
    input: TargetPortfolioSchema.extend({ idempotency_key: z.string().min(1).max(128).optional() }).strict(),
    output: z.object({
      target_id: z.number(),
      expires_at: z.number(),
      next_cycle_at: z.number(),
      cycle_enabled: z.boolean(),
      decision_source: z.string(),
      warnings: z.array(z.string()),
      approved: z.object({
        weights,
        rejections: z.array(rejection),
        gross: z.number(),
        net: z.number(),
        turnover: z.number(),
        mode: z.string(),
      }),
    }),
    facts: (a) => ({
      mutating: true,
      exposure: "none",
      idempotencyKey: a.idempotency_key ? `portfolio_set_target:${a.idempotency_key}` : undefined,
    }),
    summarize: (r) => ({
      target_id: r.target_id,
      rejections: r.approved.rejections.length,
      gross: r.approved.gross,
    }),
    handler: async (a, { app, caller }) => {
      const { idempotency_key, ...target } = a;
      return app.engine.setTarget(caller.id, target, idempotency_key);
    },
  }),
  defineTool({
    name: "portfolio_get_status",
    toolset: "portfolio",
    title: "Portfolio cycle status",
    description:
      "The minute cycle: control mode and why, last cycle (target used or baseline and why, approved gross/net/turnover, rejections, report), next tick, current vs target weights, the effective portfolio limits, equity and drawdown, last reconcile, recent events, the decision source and the last decisions (raw answer, target, clip, fallback reason).",
    scope: "portfolio:target",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z.object({}).strict(),
    output: z.object({
      enabled: z.boolean(),
      venue: z.string(),
      mode: z.string(),
      mode_reason: z.string(),
      now: z.number(),
      next_tick: z.number(),
      equity: z.number(),
      peak_equity: z.number(),
      drawdown: z.number(),
      current_weights: weights,
      current_gross: z.number(),
      current_net: z.number(),
      limits: portfolioShape,
      target_weights: weights.nullable(),
      last_cycle: z.record(z.string(), z.unknown()).nullable(),
      last_reconcile: z.record(z.string(), z.unknown()).nullable(),
      recent_events: z.array(z.record(z.string(), z.unknown())),
      decision: z.record(z.string(), z.unknown()),
      last_decisions: z.array(z.record(z.string(), z.unknown())),
    }),
    summarize: (r) => ({
      mode: r.mode,
      last_cycle: (r.last_cycle as { cycle_id?: string } | null)?.cycle_id ?? null,
    }),
    handler: async (_a, { app }) => {
      const st = await app.engine.status();
      return { ...st, limits: portfolioView(st.limits as PortfolioLimitSet) } as never;
    },
  }),
];
