import type { App } from "../../../src/app.js";
import { cycleIdAt } from "../../../src/engine/cycle.js";
import type { DecisionRecord } from "../../../src/engine/decision/types.js";
import { getDecision } from "../../../src/store/decisions.js";

/** 2025-05-25 15:00 UTC: inside the 30-day replay set; cycle `i` runs at T0 + (i + 1) minutes. */
export const T0 = Date.UTC(2025, 4, 25, 15, 0, 0);

/** Runs the cycle of minute `i` after T0 (reconcile + cycle) and returns its decision record. */
export async function decideCycle(app: App, i: number): Promise<DecisionRecord> {
  const t = T0 + (i + 1) * 60_000;
  await app.engine.tick(t);
  const d = getDecision(app.db, cycleIdAt(t));
  if (!d) throw new Error(`no decision for ${cycleIdAt(t)}`);
  return d;
}
