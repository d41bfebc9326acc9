import type { Migration } from "./index.js";

/**
 * Decision sources of the minute cycle (issue 17, docs/cycle.md "Who decides"): one row per cycle
 * saying where its target came from — the agent, the baseline, a model asked through MCP sampling or
 * an OpenAI-compatible endpoint — what the model said (raw, ≤ 4 KB), what the risk layer made of it
 * and when the baseline took over; and the replay cache of model answers by prompt hash, so a rerun
 * of a replay is deterministic and asks no model.
 */
export const m011Decisions: Migration = {
  version: 11,
  name: "decisions",
  up: `
CREATE TABLE cycle_decisions (
  cycle_id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('agent','sampling','llm','baseline')),
  used TEXT NOT NULL CHECK (used IN ('agent','sampling','llm','baseline','baseline_fallback')),
  mode TEXT NOT NULL CHECK (mode IN ('weights','risk_multiplier')),
  asked INTEGER NOT NULL,
  held_from TEXT,
  model TEXT,
  client TEXT,
  latency_ms REAL,
  error TEXT,
  raw TEXT,
  prompt_hash TEXT,
  cached INTEGER NOT NULL DEFAULT 0,
  answer TEXT,
  target TEXT NOT NULL,
  clipped TEXT NOT NULL
);
CREATE INDEX cycle_decisions_ts ON cycle_decisions(ts);

CREATE TABLE decision_cache (
  prompt_hash TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  reply TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`,
};
