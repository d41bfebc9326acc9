import type { TargetPortfolio } from "../../src/engine/types.js";

/** A one-coin agent target for cycle-store tests (BTC 0.1, cash 0.9). */
export const TEST_TARGET = {
  targets: [{ symbol: "BTC", weight: 0.1 }],
  cash_weight: 0.9,
  confidence: 0.5,
  rationale: "test",
  model: { name: "t", version: "1" },
} as TargetPortfolio;
