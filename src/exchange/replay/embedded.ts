import { join } from "node:path";
import { packageRoot } from "../../packageRoot.js";

/**
 * The real data shipped in the repository's `data/` folder (provenance in data/README.md). Paths are
 * resolved from the package root (src/packageRoot.ts), so they hold from `src/` (vitest), `dist/`
 * and the bundled CLI alike.
 */

/** Absolute path of the package's `data/` folder. */
export function dataDir(): string {
  return join(packageRoot(), "data");
}

/** The 30 days of 1m candles (BTC, ETH, SOL, ADA, DOGE; 2025-05-25 → 2025-06-24), absolute. */
export function embeddedCandlesDir(): string {
  return `${dataDir()}/ohlcv/binance_usdm_perp_1m_2025-05-25_2025-06-24`;
}

/** 8-hourly funding of the same five coins, 2025-05-01 → 2025-06-30, absolute. */
export function embeddedFundingDir(): string {
  return `${dataDir()}/funding/binance_usdm`;
}

/**
 * The embedded replay default: candles + funding. Used by `replay` and `backtest` without `--data`
 * and by `TW_MARKET_DATA=replay` without a folder.
 */
export function embeddedReplayDirs(): string[] {
  return [embeddedCandlesDir(), embeddedFundingDir()];
}
