import type { App } from "../app.js";
import type { Component } from "../components.js";
import { recordEvidence } from "./evidence.js";
import { ResearchService, researchSettings } from "./service.js";

declare module "../app.js" {
  interface App {
    /** Backtests and experiments over the active market data (src/backtest/service.ts). */
    research: ResearchService;
  }
}

/** Installs `app.research`. Needs `app.market` (market component) and memory (knowledge component). */
export const researchComponent: Component = {
  name: "research",
  install(app: App) {
    app.research = new ResearchService({
      db: app.db,
      clock: app.clock,
      // Read at each call: the market component owns the source and its clock.
      market: () => ({ service: app.market, clock: app.marketClock }),
      settings: researchSettings(app.config),
      evidence: (card) => recordEvidence(app, card),
    });
  },
};
