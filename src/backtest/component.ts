import type { App } from "../app.js";
import type { Component } from "../components.js";
import { ResearchService } from "./service.js";

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
    app.research = new ResearchService(app);
  },
};
