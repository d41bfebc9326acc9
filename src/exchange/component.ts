import type { App } from "../app.js";
import type { Clock, ReplayClock } from "../clock.js";
import type { Component } from "../components.js";
import type { LimiterRegistry } from "../policy/ratelimit.js";
import { CandleStore } from "../store/candles.js";
import { getMeta, setMeta } from "../store/meta.js";
import { createSource, defaultLimiters } from "./factory.js";
import { MarketService } from "./service.js";

declare module "../app.js" {
  interface App {
    /** The active market data (config.marketData) with symbol validation, freshness and features. */
    market: MarketService;
    /** Per-venue exchange-weight limiters (`hyperliquid`, `hyperliquid:testnet`, `ccxt:<id>`). */
    marketLimiter: LimiterRegistry;
    /** The clock market data is read on: app.clock, or the replay SimClock in serve + replay. */
    marketClock: Clock;
    /**
     * The moving replay clock (wall time × TW_REPLAY_SPEED) of a replay source outside a driven
     * SimClock: the app clock itself in `serve`, the market's own clock in one-shot commands; else null.
     */
    replayClock: ReplayClock | null;
    /** The candle/funding cache. */
    candleStore: CandleStore;
  }
}

/** Meta key of the replay clock's last position on this home: `{ source, at }` (ms UTC). */
const REPLAY_POSITION = "replay.position";

/**
 * A server living on a replay clock records where the clock is (every 5 s of wall time and at
 * close), so a restart on the same home resumes its market there rather than rewinding below the
 * fills, cycles and funding it already booked. A clock never read is not recorded (and not started).
 */
function keepReplayPosition(app: App, clock: ReplayClock): void {
  const save = () => {
    if (clock.started && app.db.open) {
      setMeta(app.db, REPLAY_POSITION, { source: app.config.marketData, at: clock.now() });
    }
  };
  const timer = setInterval(save, 5_000);
  timer.unref();
  app.onClose(() => {
    clearInterval(timer);
    save();
  });
}

/**
 * Installs market data: limiters, the configured source, the MarketService (`app.market`), and a
 * `market_data` status section `{ source, as_of, stale }` (as_of = newest data time seen, ms UTC).
 * Must be installed first: venues, the cycle and backtests use `app.market`.
 */
export const marketComponent: Component = {
  name: "market",
  install(app: App) {
    app.marketLimiter = defaultLimiters(app.clock);
    app.candleStore = new CandleStore(app.db);
    const built = createSource(app.config, {
      clock: app.clock,
      log: app.log,
      limiters: app.marketLimiter,
      resumeAt: () => {
        const p = getMeta<{ source: string; at: number }>(app.db, REPLAY_POSITION);
        return p && p.source === app.config.marketData ? p.at : null;
      },
      replayRanges: {
        get: (key) => getMeta<{ start: number; end: number } | null>(app.db, `replay.range:${key}`),
        set: (key, range) => {
          try {
            setMeta(app.db, `replay.range:${key}`, range);
          } catch (err) {
            // Only a cache: the next start computes the range again.
            app.log.warn({ err }, "could not keep a replay file's time range");
          }
        },
      },
    });
    if (built.replayClock && built.replayClock === app.clock) keepReplayPosition(app, built.replayClock);
    app.marketClock = built.clock;
    app.replayClock = built.replayClock;
    app.market = new MarketService(built.source, {
      clock: built.clock,
      staleAfterMs: app.config.staleAfterMs,
      universe: app.config.universe,
      log: app.log,
      store: app.candleStore,
    });
    app.statusProviders.set("market_data", () => {
      const asOf = app.market.lastAsOf;
      return {
        source: app.market.id,
        now: built.clock.now(),
        as_of: asOf,
        stale: asOf === null ? null : built.clock.now() - asOf > app.config.staleAfterMs,
      };
    });
  },
};
