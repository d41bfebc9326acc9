import type { Config } from "../config.js";
import { bumpCacheEpoch, type Db } from "./db.js";
import { limitOverrideTexts } from "./limitOverrides.js";

/**
 * Order-level risk limits (DESIGN.md §3 step 7): defaults from `config.risk`, overridden by rows of
 * `risk_limits` (append-only; newest wins per field). Units: notionals in quote currency, leverage
 * as a multiple of equity, price band as a fraction of mid (0.05 = ±5%).
 */
export interface RiskLimits {
  min_notional: number;
  max_order_notional: number;
  /** Rolling 24 h notional per venue. */
  max_daily_notional: number;
  /** Gross notional after fill / equity. */
  max_leverage: number;
  price_band_fraction: number;
  max_open_orders: number;
  /** Allowed canonical symbols; empty = the configured universe. */
  allowed_symbols: string[];
}

/** Limits from config only. */
export function defaultLimits(cfg: Config): RiskLimits {
  const r = cfg.risk;
  return {
    min_notional: r.minNotional,
    max_order_notional: r.maxOrderNotional,
    max_daily_notional: r.maxDailyNotional,
    max_leverage: r.maxLeverage,
    price_band_fraction: r.priceBandFraction,
    max_open_orders: r.maxOpenOrders,
    allowed_symbols: r.allowedSymbols,
  };
}

/** Effective limits: config defaults with every stored override applied in order. */
export function currentLimits(db: Db, cfg: Config): RiskLimits {
  const out = defaultLimits(cfg);
  for (const t of limitOverrideTexts(db, "risk_limits"))
    Object.assign(out, JSON.parse(t) as Partial<RiskLimits>);
  return out;
}

/** Stores an override (only the given fields) with who and why. */
export function setLimits(
  db: Db,
  patch: Partial<RiskLimits>,
  actor: string,
  reason: string,
  now: number,
): void {
  bumpCacheEpoch(db, "limits");
  db.prepare("INSERT INTO risk_limits (ts, actor, reason, limits) VALUES (?, ?, ?, ?)").run(
    now,
    actor,
    reason,
    JSON.stringify(patch),
  );
}
