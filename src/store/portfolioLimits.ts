import type { Config } from "../config.js";
import { bumpCacheEpoch, type Db } from "./db.js";
import { limitOverrideTexts } from "./limitOverrides.js";

/**
 * Portfolio limits of the minute cycle (issue 13): defaults from `cycle.limits` in config, overridden
 * by rows of `portfolio_limits` (migration 8; append-only, newest wins per field; `caps` merge per
 * symbol). Written by `risk_set_limits`; the cycle reads them at the start of every cycle, so a change
 * takes effect at the next cycle. Units: fractions of equity (0.2 = 20 %), α in (0, 1], the daily-loss
 * limit as a fraction of the UTC day's starting equity or in quote currency.
 */
export type PortfolioLimitSet = Config["cycle"]["limits"];

/** Effective portfolio limits: config defaults with every stored override applied in order. */
export function currentPortfolioLimits(db: Db, cfg: Config): PortfolioLimitSet {
  const out: PortfolioLimitSet = { ...cfg.cycle.limits, caps: { ...cfg.cycle.limits.caps } };
  for (const t of limitOverrideTexts(db, "portfolio_limits")) {
    const { caps, ...rest } = JSON.parse(t) as Partial<PortfolioLimitSet>;
    Object.assign(out, rest);
    if (caps) Object.assign(out.caps, caps);
  }
  return out;
}

/** Stores an override (only the given fields) with who and why (`now` ms UTC). */
export function setPortfolioLimits(
  db: Db,
  patch: Partial<PortfolioLimitSet>,
  actor: string,
  reason: string,
  now: number,
): void {
  bumpCacheEpoch(db, "limits");
  db.prepare("INSERT INTO portfolio_limits (ts, actor, reason, limits) VALUES (?, ?, ?, ?)").run(
    now,
    actor,
    reason,
    JSON.stringify(patch),
  );
}
