import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { appendAudit } from "../store/audit.js";
import { MemoryStore } from "./memory.js";

/**
 * Strategy evidence cards (DESIGN.md §7): every completed backtest and experiment records what was
 * tested and how it did, so `memory_search "ema_cross BTC"` finds prior evidence before an agent
 * repeats the work.
 */

/** What the backtester / experiment runner reports about one finished run. */
export interface EvidenceCard {
  /** Strategy id, e.g. `ema_cross`. */
  strategy: string;
  /** Strategy parameters (JSON-serialisable). */
  params: unknown;
  /** Canonical symbols, e.g. `["BTC", "ETH"]`. */
  symbols: string[];
  /** Candle interval, e.g. `1m`. */
  interval: string;
  /** Data range tested, ms UTC, inclusive. */
  data_range: { start: number; end: number };
  /** Key metrics (fractions for returns/drawdowns, ratios as plain numbers), e.g. `{ sharpe: 1.2 }`. */
  metrics: Record<string, number>;
  /**
   * Acceptance gate of the run, when it had one: which gate (`default`, or `custom` when the caller
   * chose its thresholds), the verdict, the failed criteria, and every criterion with its value,
   * threshold and pass/fail (src/backtest/gate.ts).
   */
  gate?: {
    name?: string;
    passed: boolean;
    failed?: string[];
    criteria?: EvidenceCriterion[];
  } | null;
  /** Warnings the run's result carried (src/backtest/warnings.ts). */
  warnings?: string[];
  /** Id of the run record (backtest_get / experiment id). */
  run_id: string;
  run_kind: "backtest" | "experiment";
  /** Caller id that started the run (audit identity). */
  author: string;
}

/** One gate criterion as the card records it. */
export interface EvidenceCriterion {
  criterion: string;
  value: number | null;
  op: ">" | ">=";
  threshold: number;
  passed: boolean;
  /** False when the gate in force did not require it. */
  required: boolean;
}

function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

function isoMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

/**
 * The card's searchable text. Strategy id, symbols and interval appear as plain words, so a search
 * for `ema_cross BTC` or `ema cross btc 1h` matches.
 */
export function evidenceText(card: EvidenceCard): string {
  let params = JSON.stringify(card.params ?? null) ?? "null";
  if (params.length > 600) params = `${params.slice(0, 600)}…`;
  const metrics = Object.entries(card.metrics)
    .map(([k, v]) => `${k}=${fmtNumber(v)}`)
    .join(", ");
  const g = card.gate;
  const gateName = g?.name ? ` (${g.name} gate)` : "";
  const gate =
    g == null
      ? "no gate"
      : g.passed
        ? `gate passed${gateName}`
        : `gate failed${g.failed?.length ? ` (${g.failed.join(", ")})` : ""}${gateName}`;
  const criteria = g?.criteria?.length ? ` Criteria: ${criteriaText(g.criteria)}.` : "";
  const warnings = card.warnings?.length ? ` Warnings: ${card.warnings.join(" ")}` : "";
  return (
    `Strategy evidence: ${card.strategy} ${card.run_kind} on ${card.symbols.join(", ")} ${card.interval}, ` +
    `${isoMinute(card.data_range.start)} to ${isoMinute(card.data_range.end)}. ` +
    `Params: ${params}. Metrics: ${metrics || "none"}. Result: ${gate}.${criteria}${warnings} ` +
    `Run: ${card.run_kind}:${card.run_id}.`
  );
}

/** "positive_return -0.0178 vs > 0: fail; ..." — every criterion with value, threshold and verdict. */
function criteriaText(criteria: readonly EvidenceCriterion[]): string {
  const f = (x: number | null) => (x === null ? "undefined" : fmtNumber(x));
  return criteria
    .map(
      (c) =>
        `${c.criterion} ${f(c.value)} vs ${c.op} ${f(c.threshold)}: ` +
        `${c.passed ? "pass" : "fail"}${c.required ? "" : " (not required)"}`,
    )
    .join("; ");
}

/**
 * Writes a `strategy_evidence` memory item for a finished run and appends an audit row
 * (`memory.write_evidence`, caller = card.author), since it is written outside a memory tool call.
 * Idempotent per run: the same run_kind + run_id + content returns the same id (no second audit row).
 * Confidence 1 (the numbers are measured, not guessed); importance 4 when the gate passed, else 3.
 * @returns the memory item id.
 * @throws TwError INVALID_INPUT for an empty strategy/run_id, no symbols, or an inverted data range;
 *   IDEMPOTENCY_CONFLICT when the same run id was recorded with different content.
 */
export function writeEvidence(app: App, card: EvidenceCard): number {
  if (card.strategy.trim() === "" || card.run_id.trim() === "" || card.symbols.length === 0) {
    throw new TwError(
      "INVALID_INPUT",
      "An evidence card needs a strategy, a run_id and at least one symbol.",
    );
  }
  if (!(card.data_range.start <= card.data_range.end)) {
    throw new TwError("INVALID_INPUT", "Evidence data_range.start must not be after data_range.end.");
  }
  const t0 = performance.now();
  const memory: MemoryStore = app.knowledge?.memory ?? new MemoryStore(app.db, app.clock);
  const source = `${card.run_kind}:${card.run_id}`;
  const tags = [card.strategy, ...card.symbols, card.interval, card.run_kind];
  if (card.gate) tags.push(card.gate.passed ? "gate_passed" : "gate_failed");
  if (card.gate?.name === "custom") tags.push("gate_custom");
  if (card.warnings?.length) tags.push("warnings");
  const { id, created } = memory.write({
    kind: "strategy_evidence",
    text: evidenceText(card),
    tags,
    confidence: 1,
    importance: card.gate?.passed ? 4 : 3,
    source,
    author: card.author,
    idempotencyKey: `evidence:${source}`,
  });
  if (created) {
    appendAudit(app.db, {
      ts: app.clock.now(),
      caller: card.author,
      tool: "memory.write_evidence",
      args: { strategy: card.strategy, symbols: card.symbols, interval: card.interval, source },
      decision: "allowed",
      result: { id },
      durationMs: performance.now() - t0,
      keys: [`evidence:${source}`],
    });
  }
  return id;
}
