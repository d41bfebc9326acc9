import type { App } from "../app.js";
import { type EvidenceCard, writeEvidence } from "../knowledge/evidence.js";

/**
 * The single call site through which research writes `strategy_evidence` memory items (DESIGN.md §7)
 * for every completed backtest and experiment, via the knowledge area's `writeEvidence`. A failure to
 * write evidence is logged and reported as a null id: the run itself is already stored and must not
 * be lost because memory is unavailable.
 */

export type { EvidenceCard };

/** Records an evidence card. @returns the memory item id, or null when it could not be written. */
export function recordEvidence(app: App, card: EvidenceCard): number | null {
  try {
    return writeEvidence(app, card);
  } catch (e) {
    app.log.error({ err: e, run: `${card.run_kind}:${card.run_id}` }, "could not write strategy evidence");
    return null;
  }
}

/** Picks the finite numeric metrics of a result for a card. */
export function cardMetrics(m: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  return out;
}
