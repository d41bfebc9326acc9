import type { App } from "../app.js";
import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import { assertVenueAllowed } from "../policy/venueGuard.js";
import { CcxtVenue } from "./ccxt/venue.js";
import { HyperliquidVenue } from "./hyperliquid/exchange.js";
import { type PaperEvent, PaperVenue } from "./paper/venue.js";
import type { MarketData } from "./types.js";
import type { Venue } from "./venue.js";
import type { Db } from "../store/db.js";
import { appendAudit } from "../store/audit.js";
import { appendEvent } from "../store/cycles.js";

/**
 * Venue registry (DESIGN.md §4): builds one long-lived Venue per id on first use —
 * `paper`, `hyperliquid:testnet|mainnet`, `<ccxtId>:demo|testnet|mainnet` (okx, bitget,
 * binanceusdm, ...). Mainnet ids are refused here too (defence in depth behind the gate's venue
 * guard), so no code path reaches a mainnet venue without `venues.allowMainnet`.
 */

/** Syntax of a venue id, as tool schemas accept it (defined with the config, which checks it too). */
export { VENUE_ID_RE } from "../config.js";

/** A parsed venue id. */
export type VenueId =
  | { kind: "paper"; id: "paper"; network: "paper" }
  | { kind: "hyperliquid"; id: string; network: "testnet" | "mainnet" }
  | { kind: "ccxt"; id: string; exchange: string; network: "demo" | "testnet" | "mainnet" };

/** Parses a venue id. @throws TwError INVALID_INPUT when malformed. */
export function parseVenueId(id: string): VenueId {
  if (id === "paper") return { kind: "paper", id, network: "paper" };
  const m = /^([a-z0-9]+):(demo|testnet|mainnet)$/.exec(id);
  if (!m) {
    throw new TwError("INVALID_INPUT", `Unknown venue id "${id}".`, {
      hint: "Use paper, hyperliquid:testnet, or <ccxtId>:demo|testnet (e.g. okx:demo, binanceusdm:testnet).",
    });
  }
  const network = m[2] as "demo" | "testnet" | "mainnet";
  if (m[1] === "hyperliquid") {
    if (network === "demo")
      throw new TwError("INVALID_INPUT", "Hyperliquid has testnet and mainnet, no demo.");
    return { kind: "hyperliquid", id, network };
  }
  return { kind: "ccxt", id, exchange: m[1], network };
}

/** The market-data source of the App (installed by the market component). */
export function marketOf(app: App): MarketData {
  const m = (app as unknown as { market?: MarketData }).market;
  if (!m) {
    throw new TwError("EXCHANGE_UNAVAILABLE", "No market-data source is configured.", {
      hint: "Check the marketData setting; market data is needed to price and check orders.",
    });
  }
  return m;
}

/** The clock market data is read on (the replay clock in serve + replay), else the App clock. */
export function marketClockOf(app: App): Clock {
  return (app as unknown as { marketClock?: Clock }).marketClock ?? app.clock;
}

/** Builds and caches venues for an App. */
export class VenueRegistry {
  private readonly venues = new Map<string, Venue>();

  constructor(private readonly app: App) {}

  /** Installs a venue instance for its id (tests, alternative wiring). */
  register(venue: Venue): void {
    this.venues.set(venue.id, venue);
  }

  /** Ids built so far plus the configured default and cycle venues. */
  ids(): string[] {
    const c = this.app.config;
    return [...new Set(["paper", c.venues.default, c.cycle.venue, ...this.venues.keys()])];
  }

  /**
   * The venue of an id, built on first use.
   * @throws TwError INVALID_INPUT (malformed id), MAINNET_BLOCKED, CONFIG_INVALID (missing keys).
   */
  get(id: string): Venue {
    const parsed = parseVenueId(id);
    assertVenueAllowed(this.app.config, id);
    let v = this.venues.get(id);
    if (v) return v;
    const app = this.app;
    if (parsed.kind === "paper") {
      const p = app.config.paper;
      v = new PaperVenue({
        db: app.db,
        clock: marketClockOf(app),
        log: app.log,
        market: () => marketOf(app),
        startingEquity: p.startingEquity,
        slippageBps: p.slippageBps,
        takerFeeBps: p.takerFeeBps,
        makerFeeBps: p.makerFeeBps,
        maxParticipation: p.maxParticipation,
        maintenanceMargin: p.maintenanceMargin,
        onEvent: (e) => auditPaperEvent(app.db, e),
      });
    } else if (parsed.kind === "hyperliquid") {
      v = HyperliquidVenue.fromConfig(app.config, parsed.network, app.clock, app.log);
    } else {
      v = CcxtVenue.fromConfig(app.config, parsed.exchange, parsed.network, app.log);
    }
    this.venues.set(id, v);
    return v;
  }
}

/**
 * Records what the paper venue did on its own — a position-guard exit or a liquidation — as an audit
 * row (`paper.guard_exit` / `paper.liquidation`, caller `venue:paper`, with the reason) and an engine
 * event, in the venue's booking transaction.
 */
export function auditPaperEvent(db: Db, e: PaperEvent): void {
  appendAudit(db, {
    ts: e.time,
    caller: "venue:paper",
    tool: `paper.${e.kind}`,
    args: { symbol: e.symbol, client_order_id: e.client_order_id },
    decision: "allowed",
    result: { side: e.side, size: e.size, price: e.price, reason: e.reason },
    durationMs: 0,
  });
  appendEvent(db, { ts: e.time, kind: e.kind, detail: e });
}
