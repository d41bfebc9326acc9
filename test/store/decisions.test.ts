import { describe, expect, it } from "vitest";
import type { ApprovedTarget } from "../../src/engine/types.js";
import { compactCycles, finishCycle, insertCycle } from "../../src/store/cycles.js";
import { openDb } from "../../src/store/db.js";
import { countDecisions, dropDecisions, insertDecision } from "../../src/store/decisions.js";

type Used = "agent" | "baseline" | "baseline_fallback" | "llm";

function addCycle(db: ReturnType<typeof openDb>, id: string, ts: number, used: Used, reason: string | null) {
  insertCycle(db, {
    id,
    ts,
    venue: "paper",
    mode: "NORMAL",
    equity: "100000",
    features: [],
    target: { used, reason, target_id: null, target: null },
    approved: {
      weights: { BTC: 0 },
      rejections: [],
      gross: 0,
      net: 0,
      turnover: 0,
      mode: "NORMAL",
    } as unknown as ApprovedTarget,
    plan: { cycle_id: id, equity: 100000, slices: [], skipped: [] },
    current_weights: { BTC: 0 },
  });
  insertDecision(db, {
    cycle_id: id,
    ts,
    source: used === "llm" || used === "baseline_fallback" ? "llm" : "agent",
    used,
    mode: "weights",
    asked: used === "llm",
    held_from: null,
    model: "m",
    client: null,
    latency_ms: null,
    error: reason,
    raw: null,
    prompt_hash: null,
    cached: false,
    answer: null,
    target: null,
    clipped: null,
  });
  finishCycle(
    db,
    id,
    "done",
    {
      sent: 0,
      filled: 0,
      rejected: 0,
      refused: [],
      skipped_budget: 0,
      fees: "0",
      end_equity: "100000",
      end_cash: "100000",
      end_positions: [],
    },
    ts + 1,
  );
}

describe("decisions dropped with their compacted cycle", () => {
  it("are still counted by their cycle's used, once, and a model's answers are never dropped", () => {
    const db = openDb(":memory:");
    const used: Used[] = ["agent", "baseline", "baseline", "baseline_fallback", "llm", "agent"];
    used.forEach((u, i) => {
      addCycle(db, `cyc-${i}`, (i + 1) * 60_000, u, u === "baseline" ? "no_target" : null);
    });
    const want = { agent: 2, sampling: 0, llm: 1, baseline: 2, baseline_fallback: 1 };
    expect(countDecisions(db, 0, 1e9)).toEqual(want);
    // The first five cycles are compacted, their non-model decisions dropped; the sixth stays whole.
    compactCycles(db, 0, 5 * 60_000 + 1);
    dropDecisions(db, 0, 5 * 60_000 + 1);
    const left = db.prepare("SELECT cycle_id FROM cycle_decisions ORDER BY ts").all() as Array<{
      cycle_id: string;
    }>;
    expect(left.map((r) => r.cycle_id)).toEqual(["cyc-4", "cyc-5"]);
    expect(countDecisions(db, 0, 1e9)).toEqual(want);
    // A window counts only its own cycles.
    expect(countDecisions(db, 2 * 60_000, 3 * 60_000)).toEqual({
      agent: 0,
      sampling: 0,
      llm: 0,
      baseline: 2,
      baseline_fallback: 0,
    });
    db.close();
  });
});
