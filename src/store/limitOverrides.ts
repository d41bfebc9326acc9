import { type Db, type StampedMemo, stampedMemo } from "./db.js";

/**
 * The stored override rows of a limits table, oldest first: their `limits` JSON texts. Both limit
 * sets (order-level risk limits, src/store/riskLimits.ts; the cycle's portfolio limits,
 * src/store/portfolioLimits.ts) are read by every order's risk check and several times a cycle, and
 * change only through their setters (which move the `limits` cache epoch) or another connection: read
 * once per cache stamp (src/store/db.ts `stampedMemo`; issue 15). Texts, not objects, so each caller
 * parses objects of its own.
 */
export function limitOverrideTexts(db: Db, table: LimitTable): readonly string[] {
  return stampedMemo(
    memos[table],
    db,
    () =>
      (db.prepare(`SELECT limits FROM ${table} ORDER BY id`).all() as Array<{ limits: string }>).map(
        (r) => r.limits,
      ),
    ["limits"],
  );
}

/** The tables holding limit overrides (one JSON object of changed fields per row). */
export type LimitTable = "risk_limits" | "portfolio_limits";

const memos: Record<LimitTable, WeakMap<Db, StampedMemo<string[]>>> = {
  risk_limits: new WeakMap(),
  portfolio_limits: new WeakMap(),
};
