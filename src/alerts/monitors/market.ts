import type { Clock } from "../../clock.js";
import { toTwError } from "../../errors.js";
import type { VenueHealthStore } from "../health.js";
import type { AlertInput } from "../types.js";
import { type ConditionMonitor, formatAge } from "./types.js";

const ANSWERED: ReadonlySet<string> = new Set(["STALE_DATA", "NOT_FOUND", "EXCHANGE_REJECTED"]);

/** What the stale-data probe reads of the market-data service (src/exchange/service.ts). */
export interface MarketProbe {
  /** Source id (`hyperliquid`, `ccxt:okx`, `replay:...`). */
  readonly id: string;
  /** The clock market data is read on (the replay clock under replay). */
  readonly clock: Clock;
  orderbook(symbol: string, depth: number): Promise<{ time: number } | null>;
  ticker(symbol: string): Promise<{ time: number }>;
}

/**
 * `stale_data` (warning, key `stale_data:<COIN>`): a universe coin whose newest data is older than
 * `staleAfterMs` on the market clock. Each pass probes every coin with the cheapest fresh read (the
 * top of the book — Hyperliquid weight 2 — else the ticker, which for replay is the last visible bar);
 * a failed probe keeps the last good time, so data that stops arriving ages into `stale_data`.
 * A pass where every probe failed with EXCHANGE_UNAVAILABLE counts one failure towards
 * `venue_unavailable` of the source; a pass that reached it, one success.
 */
export function staleDataMonitor(deps: {
  market: MarketProbe;
  universe: readonly string[];
  staleAfterMs: number;
  health: VenueHealthStore;
}): ConditionMonitor {
  const lastGood = new Map<string, number>();
  return {
    name: "stale_data",
    kinds: ["stale_data"],
    async check() {
      const { market, staleAfterMs } = deps;
      const out: AlertInput[] = [];
      // One outcome per pass for the source: a network blip that fails every coin is one failure.
      let reached = false;
      let unavailable: string | null = null;
      for (const symbol of deps.universe) {
        let error: string | null = null;
        try {
          const book = await market.orderbook(symbol, 1);
          const asOf = book ? book.time : (await market.ticker(symbol)).time;
          lastGood.set(symbol, Math.max(asOf, lastGood.get(symbol) ?? 0));
          reached = true;
        } catch (e) {
          const err = toTwError(e);
          error = `${err.code}: ${err.message}`;
          if (err.code === "EXCHANGE_UNAVAILABLE") unavailable = err.message;
          // The source answered, only not with fresh data for this coin.
          else if (ANSWERED.has(err.code)) reached = true;
        }
        const asOf = lastGood.get(symbol) ?? null;
        const age = asOf === null ? null : market.clock.now() - asOf;
        if (age !== null && age <= staleAfterMs) continue;
        out.push({
          kind: "stale_data",
          severity: "warning",
          key: `stale_data:${symbol}`,
          message:
            age === null
              ? `No data for ${symbol} from ${market.id}${error ? ` (${error})` : ""}; trading on it is refused.`
              : `${symbol} data from ${market.id} is ${formatAge(age)} old (limit ${formatAge(staleAfterMs)}); trading on it is refused.`,
          details: {
            symbol,
            source: market.id,
            as_of: asOf,
            age_ms: age,
            stale_after_ms: staleAfterMs,
            error,
          },
        });
      }
      if (reached) deps.health.record(market.id, true);
      else if (unavailable !== null) deps.health.record(market.id, false, unavailable);
      return out;
    },
  };
}

/**
 * `venue_unavailable` (critical, key `venue_unavailable:<venue>`): `threshold` or more consecutive
 * EXCHANGE_UNAVAILABLE outcomes of a venue or data source (src/alerts/health.ts); resolved by the
 * next success.
 */
export function venueMonitor(deps: {
  health: VenueHealthStore;
  threshold: number;
  clock: Clock;
}): ConditionMonitor {
  return {
    name: "venue_unavailable",
    kinds: ["venue_unavailable"],
    check() {
      const out: AlertInput[] = [];
      for (const [venue, h] of deps.health.all()) {
        if (h.failures < deps.threshold) continue;
        const since = h.since ?? deps.clock.now();
        out.push({
          kind: "venue_unavailable",
          severity: "critical",
          key: `venue_unavailable:${venue}`,
          message: `${venue} failed ${h.failures} times in a row for ${formatAge(deps.clock.now() - since)}: ${h.last_error ?? "unavailable"}.`,
          details: {
            venue,
            consecutive_failures: h.failures,
            since,
            last_error: h.last_error,
            last_ok_at: h.last_ok_at,
          },
        });
      }
      return out;
    },
  };
}
