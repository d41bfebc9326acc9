import { describe, expect, it } from "vitest";
import type { ApprovedTarget, TargetPortfolio } from "../../src/engine/types.js";
import {
  type CycleReport,
  compactCycles,
  finishCycle,
  getCycle,
  insertCycle,
} from "../../src/store/cycles.js";
import { openDb } from "../../src/store/db.js";

const TARGET: TargetPortfolio = {
  targets: [{ symbol: "BTC", weight: 0.1 }],
  cash_weight: 0.9,
  confidence: 0.5,
  rationale: "test",
  model: { name: "t", version: "1" },
} as TargetPortfolio;

const REPORT: CycleReport = {
  sent: 1,
  filled: 1,
  rejected: 0,
  refused: [],
  skipped_budget: 0,
  fees: "0.45",
  end_equity: "100000.5",
  end_cash: "99000.25",
  end_positions: [],
  end_gross: 0.01,
  end_net: 0.01,
  executed_turnover: 0.01,
};

function cycle(
  id: string,
  ts: number,
  mode: string,
  approvedMode: ApprovedTarget["mode"],
  targetId: number | null,
) {
  return {
    id,
    ts,
    venue: "paper",
    mode,
    equity: "100000",
    features: [],
    target: { used: "agent" as const, reason: null, target_id: targetId, target: TARGET },
    approved: {
      weights: { BTC: 0.1 },
      rejections: [{ symbol: "BTC", reason: "cap" }],
      gross: 0.1,
      net: 0.1,
      turnover: 0.1,
      mode: approvedMode,
    } as unknown as ApprovedTarget,
    plan: { cycle_id: id, equity: 100000, slices: [], skipped: [] },
    current_weights: { BTC: 0 },
  };
}

describe("compactCycles", () => {
  it("a compacted row reads back the agent target id and the approved mode, whether or not they were stored", () => {
    const db = openDb(":memory:");
    insertCycle(db, cycle("cyc-1", 60_000, "NORMAL", "NORMAL", null));
    insertCycle(db, cycle("cyc-2", 120_000, "HALT", "REDUCE_ONLY", 7));
    insertCycle(db, cycle("cyc-3", 180_000, "NORMAL", "NORMAL", 8));
    finishCycle(db, "cyc-1", "done", REPORT, 61_000);
    finishCycle(db, "cyc-2", "done", REPORT, 121_000);
    // cyc-3 stays planned: a restart may resume it, so it is never compacted.
    expect(compactCycles(db, 0, 200_000)).toEqual(["cyc-1", "cyc-2"]);
    expect(compactCycles(db, 0, 200_000)).toEqual([]);

    const a = getCycle(db, "cyc-1");
    const b = getCycle(db, "cyc-2");
    expect(a?.compacted && b?.compacted).toBe(true);
    expect(a?.target).toEqual({ used: "agent", reason: null, target_id: null, target: null });
    expect(b?.target).toEqual({ used: "agent", reason: null, target_id: 7, target: null });
    expect(a?.approved.mode).toBe("NORMAL");
    expect(b?.approved.mode).toBe("REDUCE_ONLY");
    expect(b?.mode).toBe("HALT");
    expect(b?.clips).toBe(1);
    expect(getCycle(db, "cyc-3")?.compacted).toBe(false);
    // Only what is not implied is stored.
    const raw = db.prepare("SELECT target, approved FROM cycles WHERE id = 'cyc-1'").get() as {
      target: string;
      approved: string;
    };
    expect(JSON.parse(raw.target)).toEqual({ used: "agent", reason: null });
    expect(JSON.parse(raw.approved)).toEqual({ weights: { BTC: 0.1 }, clips: 1 });
    db.close();
  });
});
