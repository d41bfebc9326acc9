import type { Migration } from "./index.js";

/**
 * Research diagnostics (issue 18, issue 11 §2): every stored backtest keeps the warnings and the
 * funding coverage its result reported, so `backtest_get` returns what `backtest_run` said. JSON
 * text; NULL on rows stored before this migration (read back as "not recorded").
 */
export const m012ResearchDiagnostics: Migration = {
  version: 12,
  name: "research_diagnostics",
  up: `
ALTER TABLE backtests ADD COLUMN warnings TEXT;
ALTER TABLE backtests ADD COLUMN funding_coverage TEXT;
`,
};
