import { delimiter } from "node:path";
import { type Clock, ReplayClock, SimClock } from "../clock.js";
import type { Config } from "../config.js";
import { TwError } from "../errors.js";
import type { Logger } from "../log.js";
import { HL_BUDGET_PER_MIN, LimiterRegistry } from "../policy/ratelimit.js";
import { CcxtSource } from "./ccxt/source.js";
import { HyperliquidSource } from "./hyperliquid/source.js";
import { openReplayDir, replayDirsOf } from "./replay/dir.js";
import type { RangeStore } from "./replay/csv.js";
import { embeddedReplayDirs } from "./replay/embedded.js";
import { ReplaySource } from "./replay/source.js";
import { FEATURE_BARS } from "./service.js";
import type { MarketData } from "./types.js";

/**
 * Builds the market-data source named by `config.marketData` (TW_MARKET_DATA):
 * `hyperliquid` | `ccxt:<exchangeId>` | `replay:<dir>[<path delimiter><dir>...]` | `replay` (the embedded
 * data/ folders: 30 days of 1m candles with funding), and the clocks replay runs on.
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
  /** The clock the source reads: the app clock, or the replay clock. */
  clock: Clock;
  /**
   * The moving replay clock (serve, and one-shot commands) of a replay source; null for live
   * sources and for replays driven on a SimClock (the replay command, evals, tests).
   */
  replayClock: ReplayClock | null;
}

const DAY = 86_400_000;

/**
 * Default replay start in `serve`: the first bar every symbol shares + 7 days, so research tools see
 * a week of history at once. With less data: the latest start that still leaves a day to replay,
 * but never before every symbol has the {@link FEATURE_BARS} closed 1m bars the features need
 * (clock ≥ first + 61 min: the bar opening at first + 60 min has closed).
 * @param range first and last bar open times all symbols share, ms UTC.
 */
export function defaultReplayStart(range: { start: number; end: number }): number {
  const warm = range.start + FEATURE_BARS * 60_000;
  return Math.max(warm, Math.min(range.start + 7 * DAY, range.end + 60_000 - DAY));
}

/**
 * Creates the configured source. Replay: when the app runs on a {@link SimClock} (the replay
 * command, evals, tests) the source reads it and whoever drives it moves it; otherwise the source
 * reads a {@link ReplayClock} moving with wall time × `config.replaySpeed` from
 * `config.replayStart`, else where a previous server on the home left it (`deps.resumeAt`), else
 * {@link defaultReplayStart} — the app's own clock when it is one (serve), else a clock of its own.
 * The start is resolved on first use.
 * @throws TwError CONFIG_INVALID for an unknown ccxt exchange or an empty/missing replay folder.
 */
export function createSource(
  config: Config,
  deps: {
    clock: Clock;
    log: Logger;
    limiters: LimiterRegistry;
    /**
     * Where a previous server on this home left the replay clock (ms UTC), or null: without
     * TW_REPLAY_START a restarted server resumes there instead of rewinding its market.
     */
    resumeAt?: () => number | null;
    /** Where replay file time ranges are kept between processes (the home's meta). */
    replayRanges?: RangeStore;
  },
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
  if (isReplaySpec(spec)) {
    const dir = openReplayDir(replayDirsOfSpec(spec));
    if (deps.clock instanceof SimClock) {
      return {
        source: new ReplaySource(dir, deps.clock, deps.replayRanges),
        clock: deps.clock,
        replayClock: null,
      };
    }
    const clock = deps.clock instanceof ReplayClock ? deps.clock : new ReplayClock(config.replaySpeed);
    const source = new ReplaySource(dir, clock, deps.replayRanges);
    clock.startFrom(() => replayStartOf(config, source, deps.resumeAt?.() ?? null));
    return { source, clock, replayClock: clock };
  }
  throw new TwError("CONFIG_INVALID", `Unknown market data source ${spec}.`);
}

/** Whether a market-data spec names replay data (`replay` or `replay:<dirs>`). */
export function isReplaySpec(spec: string): boolean {
  return spec === "replay" || spec.startsWith("replay:");
}

/** The folders of a replay spec: the embedded default for `replay`, else the listed folders. */
export function replayDirsOfSpec(spec: string): string[] {
  return spec === "replay" ? embeddedReplayDirs() : replayDirsOf(spec.slice(7), delimiter);
}

function replayStartOf(config: Config, source: ReplaySource, resumeAt: number | null): number {
  if (config.replayStart !== undefined) return config.replayStart;
  const range = source.commonRange();
  if (!range) {
    throw new TwError(
      "CONFIG_INVALID",
      "The replay files do not share a common time range, so there is no default start.",
      { hint: "Set TW_REPLAY_START (ISO-8601 or ms UTC) to a time inside the data you want to replay." },
    );
  }
  const start = defaultReplayStart(range);
  // A restart continues the market where it was (fills and cycles of this home are up to there).
  return resumeAt !== null && resumeAt > start && resumeAt <= range.end ? resumeAt : start;
}
