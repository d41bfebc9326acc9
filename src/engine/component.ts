import type { App } from "../app.js";
import type { Component } from "../components.js";
import { llmApiKey } from "../secrets.js";
import { DecisionService } from "./decision/service.js";
import { EngineService } from "./service.js";

declare module "../app.js" {
  interface App {
    /** The minute cycle, the reconciler and portfolio targets (src/engine). */
    engine: EngineService;
    /** Who decides each cycle's target, the sampling-capable sessions, decision records (src/engine/decision). */
    decisions: DecisionService;
  }
}

/**
 * Installs the engine after venues and orders. In `serve`, when `cycle.enabled` is set, the loop
 * runs as a background job (reconcile first, then a cycle per tick); one-shot commands and tests do
 * not start it. Live (non-paper) cycling needs the operator's `cycle.venue`; no tool can change it.
 * The decision source (`cycle.decision`) is built first: a misconfigured `llm` source stops start-up.
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
