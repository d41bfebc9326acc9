import { delimiter } from "node:path";
import { type Clock, SimClock, wallClock } from "../clock.js";
import type { Config } from "../config.js";
import { TwError } from "../errors.js";
import type { Logger } from "../log.js";
import { HL_BUDGET_PER_MIN, LimiterRegistry } from "../policy/ratelimit.js";
import { CcxtSource } from "./ccxt/source.js";
import { HyperliquidSource } from "./hyperliquid/source.js";
import { openReplayDir, replayDirsOf } from "./replay/dir.js";
import { embeddedReplayDirs } from "./replay/embedded.js";
import { ReplaySource } from "./replay/source.js";
import type { MarketData } from "./types.js";

/**
 * Builds the market-data source named by `config.marketData` (TW_MARKET_DATA):
 * `hyperliquid` | `ccxt:<exchangeId>` | `replay:<dir>[<path delimiter><dir>...]` | `replay` (the embedded
 * data/ folders: 30 days of 1m candles with funding).
 */

/** Per-venue limiter budgets, weight per 60 s: Hyperliquid 1200 (docs); ccxt venues 1 per request, 600/min. */
export function defaultLimiters(clock: Clock): LimiterRegistry {
  return new LimiterRegistry((venue) => ({
    budget: venue.startsWith("hyperliquid") ? HL_BUDGET_PER_MIN : 600,
    windowMs: 60_000,
    clock,
  }));
}

/** The built source and the clock it reads. */
export interface BuiltSource {
  source: MarketData;
  /** The clock the source reads (a SimClock for replay when the app runs on the wall clock). */
  clock: Clock;
  /** Set for replay sources on their own SimClock, so a replay driver can advance it. */
  replayClock: SimClock | null;
}

/**
 * Creates the configured source. Replay: when `appClock` is the wall clock (serve), the source gets
 * its own SimClock at `config.replayStart`, else at the first bar shared by all symbols + 1 h (so
 * 1h features are computable at once); when the app already runs on a simulated clock (evals,
 * tests), the source reads that one.
 * @throws TwError CONFIG_INVALID for an unknown ccxt exchange or an empty/missing replay folder.
 */
export function createSource(
  config: Config,
  deps: { clock: Clock; log: Logger; limiters: LimiterRegistry },
): BuiltSource {
  const spec = config.marketData;
  const maxWaitMs = config.rateLimit.maxWaitMs;
  if (spec === "hyperliquid") {
    const source = new HyperliquidSource({
      apiUrl: config.hyperliquid.apiUrl,
      testnet: config.hyperliquid.testnet,
      clock: deps.clock,
      limiter: deps.limiters.for(config.hyperliquid.testnet ? "hyperliquid:testnet" : "hyperliquid"),
      maxWaitMs,
      log: deps.log,
    });
    return { source, clock: deps.clock, replayClock: null };
  }
  if (spec.startsWith("ccxt:")) {
    const id = spec.slice(5);
    const source = new CcxtSource(id, {
      clock: deps.clock,
      limiter: deps.limiters.for(spec),
      maxWaitMs,
      log: deps.log,
    });
    return { source, clock: deps.clock, replayClock: null };
  }
  if (spec === "replay" || spec.startsWith("replay:")) {
    const dirs = spec === "replay" ? embeddedReplayDirs() : replayDirsOf(spec.slice(7), delimiter);
    const dir = openReplayDir(dirs);
    let replayClock: SimClock | null = null;
    let clock = deps.clock;
    if (deps.clock === wallClock) {
      replayClock = new SimClock(0);
      clock = replayClock;
    }
    const source = new ReplaySource(dir, clock);
    if (replayClock) {
      const range = source.commonRange();
      const start = config.replayStart ?? (range ? range.start + 3_600_000 : null);
      if (start === null) {
        throw new TwError(
          "CONFIG_INVALID",
          "Replay files do not share a common time range; set TW_REPLAY_START.",
        );
      }
      replayClock.set(start);
    }
    return { source, clock, replayClock };
  }
  throw new TwError("CONFIG_INVALID", `Unknown market data source ${spec}.`);
}
