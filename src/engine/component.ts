import type { App } from "../app.js";
import type { Component } from "../components.js";
import { llmApiKey } from "../secrets.js";
import { DecisionService } from "./decision/service.js";
import { PositionGuard } from "./guard.js";
import { EngineService } from "./service.js";

declare module "../app.js" {
  interface App {
    /** The minute cycle, the reconciler and portfolio targets (src/engine). */
    engine: EngineService;
    /** The position-guard loop for venues without native guards (src/engine/guard.ts). */
    guard: PositionGuard;
    /** Who decides each cycle's target, the sampling-capable sessions, decision records (src/engine/decision). */
    decisions: DecisionService;
  }
}

/**
 * Installs the engine after venues and orders. In `serve`, when `cycle.enabled` is set, the loop
 * runs as a background job (reconcile first, then a cycle per tick), and the position-guard loop
 * always does; one-shot commands and tests do not start them. Live (non-paper) cycling needs the
 * operator's `cycle.venue`; no tool can change it. The decision source (`cycle.decision`) is built
 * first: a misconfigured `llm` source stops start-up.
 */
export const engineComponent: Component = {
  name: "engine",
  install(app: App) {
    app.decisions = new DecisionService({
      db: app.db,
      clock: app.clock,
      log: app.log,
      cycle: app.config.cycle,
      universe: app.config.universe,
      llmApiKey: llmApiKey(app.config),
    });
    app.engine = new EngineService(app);
    app.guard = new PositionGuard(app);
    // Trailing stops and time exits of live venues (paper evaluates its own, bar by bar).
    app.background.push({ name: "position-guard", start: () => app.guard.start() });
    if (app.config.cycle.enabled) {
      app.background.push({ name: "minute-cycle", start: () => app.engine.start() });
    }
    app.statusProviders.set("cycle", () => ({
      enabled: app.config.cycle.enabled,
      venue: app.config.cycle.venue,
      seconds: app.config.cycle.seconds,
      decision: app.config.cycle.decision,
    }));
  },
};
