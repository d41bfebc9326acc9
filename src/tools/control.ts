import { z } from "zod";
import { changeMode } from "../policy/control.js";
import type { ControlMode } from "../store/control.js";
import { currentLimits, type RiskLimits, setLimits } from "../store/riskLimits.js";
import { SYMBOL } from "../exchange/symbols.js";
import { defineTool } from "./registry.js";

/**
 * control toolset: the kill switch and risk limits. Tightening (halt, reduce-only from NORMAL) needs
 * control:tighten — the agent has it; loosening (resume, reduce-only from HALT) and risk_set_limits
 * need control:loosen — operator only. Modes persist in SQLite; every change records who and why.
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
      "Overrides order-level risk limits (operator only): min_notional, max_order_notional, max_daily_notional (rolling " +
      "24 h per venue) in quote currency; max_leverage (gross/equity); price_band_fraction (0.05 = ±5% from mid); " +
      "max_open_orders; allowed_symbols (base coins; empty = the universe). Omitted fields keep their value. Returns the " +
      "effective limits.",
    scope: "control:loosen",
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    input: z
      .object({
        min_notional: z.number().min(0).optional(),
        max_order_notional: z.number().positive().optional(),
        max_daily_notional: z.number().positive().optional(),
        max_leverage: z.number().positive().max(100).optional(),
        price_band_fraction: z.number().positive().max(1).optional(),
        max_open_orders: z.number().int().positive().max(10_000).optional(),
        allowed_symbols: z.array(SYMBOL).max(500).optional(),
        reason,
        idempotency_key: idemKey,
      })
      .strict(),
    output: z.object({ limits: limitsShape, changed: z.array(z.string()) }),
    facts: (args) => ({ mutating: true, exposure: "none", idempotencyKey: args.idempotency_key }),
    handler: async (args, { app, caller }) => {
      const { reason: why, idempotency_key: _k, ...patch } = args;
      const clean = Object.fromEntries(
        Object.entries(patch).filter(([, v]) => v !== undefined),
      ) as Partial<RiskLimits>;
      setLimits(app.db, clean, caller.id, why, app.clock.now());
      return { limits: currentLimits(app.db, app.config), changed: Object.keys(clean) };
    },
  }),
];
