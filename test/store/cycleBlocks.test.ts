import { describe, expect, it } from "vitest";
import type { ApprovedTarget } from "../../src/engine/types.js";
import { changeMarks } from "../../src/store/changes.js";
import { blockCycles, CYCLE_BLOCK_ROWS, decodeBlock, encodeBlock } from "../../src/store/cycleBlocks.js";
import {
  type CycleReport,
  compactCycles,
  finishCycle,
  getCycle,
  insertCycle,
  iterateCycles,
  lastCycle,
  type RawCycle,
  recentCycles,
} from "../../src/store/cycles.js";
import { type Db, openDb } from "../../src/store/db.js";
import { TEST_TARGET as TARGET } from "../helpers/cycles.js";
import { countDecisions } from "../../src/store/decisions.js";

const MIN = 60_000;

/** Cycle i: weights and equity that differ every cycle, so every double must come back bit for bit. */
function insert(db: Db, i: number, finish = true): void {
  const id = `cyc-${String(i).padStart(5, "0")}`;
  const w = { BTC: Math.sin(i) / 7, ETH: -Math.cos(i) / 9, SOL: i % 3 === 0 ? 0 : 1 / (i + 3) };
  insertCycle(db, {
    id,
    ts: i * MIN,
    venue: "paper",
    mode: i % 17 === 0 ? "REDUCE_ONLY" : "NORMAL",
    equity: String(100_000 + Math.PI * i),
    features: [],
    target: {
      used: i % 5 === 0 ? "agent" : "baseline",
      reason: i % 5 === 0 ? null : "no_target",
      target_id: null,
      target: TARGET,
    },
    approved: {
      weights: w,
      rejections: [{ symbol: "BTC", reason: "cap" }],
      gross: Math.abs(w.BTC) + Math.abs(w.ETH) + Math.abs(w.SOL),
      net: w.BTC + w.ETH + w.SOL,
      turnover: Math.E / (i + 1),
      mode: "NORMAL",
    } as unknown as ApprovedTarget,
    plan: { cycle_id: id, equity: 100_000, slices: [], skipped: [] },
    current_weights: { BTC: w.BTC / 2, ETH: w.ETH / 3, SOL: 0.1 / (i + 1) },
  });
  if (!finish) return;
  const report: CycleReport = {
    sent: i % 4,
    filled: i % 4,
    rejected: 0,
    refused: [],
    skipped_budget: 0,
    fees: i % 4 === 0 ? "0" : `0.${i}`,
    end_equity: String(100_000 + Math.PI * i + 0.25),
    end_cash: String(99_000 + Math.SQRT2 * i),
    end_positions: [],
    end_gross: 1 / (i + 7),
    end_net: -1 / (i + 11),
    executed_turnover: 1 / (i + 13),
  };
  finishCycle(db, id, "done", report, i * MIN + 1_234);
}

/** A database of `n` cycles, those before cycle `compactBefore` compacted. */
function history(n: number, compactBefore: number, planned?: number): Db {
  const db = openDb(":memory:");
  for (let i = 1; i <= n; i++) insert(db, i, i !== planned);
  compactCycles(db, 0, compactBefore * MIN);
  return db;
}

const rowsLeft = (db: Db) => (db.prepare("SELECT COUNT(*) AS n FROM cycles").get() as { n: number }).n;

describe("cycle blocks", () => {
  it("cycles moved into blocks read back exactly as their rows did, through every reader", () => {
    const db = history(200, 191);
    const before = {
      all: [...iterateCycles(db)],
      recent: recentCycles(db, 150),
      since: recentCycles(db, 500, 70 * MIN),
      last: lastCycle(db),
      marks: changeMarks(db),
      decisions: countDecisions(db, 0, 300 * MIN),
      some: [2, 61, 119, 150, 191, 200].map((i) => getCycle(db, `cyc-${String(i).padStart(5, "0")}`)),
    };
    expect(before.all.filter((c) => c.compacted)).toHaveLength(190);

    // 190 compacted cycles before the bound: blocks of 60 while more than 60 are left → 3 blocks.
    expect(blockCycles(db, 191 * MIN)).toBe(3 * CYCLE_BLOCK_ROWS);
    expect((db.prepare("SELECT COUNT(*) AS n FROM cycle_blocks").get() as { n: number }).n).toBe(3);
    expect(rowsLeft(db)).toBe(20);

    expect([...iterateCycles(db)]).toEqual(before.all);
    expect(recentCycles(db, 150)).toEqual(before.recent);
    expect(recentCycles(db, 500, 70 * MIN)).toEqual(before.since);
    expect(lastCycle(db)).toEqual(before.last);
    expect(changeMarks(db)).toEqual(before.marks);
    expect(countDecisions(db, 0, 300 * MIN)).toEqual(before.decisions);
    expect([2, 61, 119, 150, 191, 200].map((i) => getCycle(db, `cyc-${String(i).padStart(5, "0")}`))).toEqual(
      before.some,
    );
    expect(getCycle(db, "cyc-00000")).toBeUndefined();
    expect(getCycle(db, "cyc-00201")).toBeUndefined();
    // Idempotent: nothing more to move until more cycles are compacted.
    expect(blockCycles(db, 191 * MIN)).toBe(0);
  });

  it("the newest compacted cycle stays a row, and a planned cycle stops blocking where it stands", () => {
    // Exactly 120 compacted: one block, and 60 stay (never all of them: the next cycle's fallback
    // event reads its predecessor's row).
    const even = history(130, 121);
    expect(blockCycles(even, 121 * MIN)).toBe(CYCLE_BLOCK_ROWS);
    expect(getCycle(even, "cyc-00120")?.compacted).toBe(true);
    expect(rowsLeft(even)).toBe(70);

    // Cycle 90 is still planned (a restart may resume it): the first block moves, the second would
    // hold it, so it and everything after it stay rows.
    const planned = history(200, 191, 90);
    expect(blockCycles(planned, 191 * MIN)).toBe(CYCLE_BLOCK_ROWS);
    expect(getCycle(planned, "cyc-00090")?.status).toBe("planned");
    expect(rowsLeft(planned)).toBe(140);
  });

  it("a block round-trips rows of every shape: JSON-text weights, no report, no finish time, mixed widths", () => {
    const db = history(70, 71);
    const rows = db.prepare("SELECT * FROM cycles ORDER BY ts").all() as RawCycle[];
    const mixed: RawCycle[] = rows.slice(0, 5).map((r, i) => ({
      ...r,
      current_weights: i === 1 ? '{"BTC":0.1}' : i === 2 ? Buffer.alloc(0) : r.current_weights,
      report: i === 3 ? null : r.report,
      finished_at: i === 4 ? null : r.finished_at,
    }));
    expect(decodeBlock(encodeBlock(mixed))).toEqual(mixed);
    expect(decodeBlock(encodeBlock(rows))).toEqual(rows);
    // Doubles in binary, byte-shuffled: far below the rows' own size.
    const raw = rows.reduce((a, r) => a + JSON.stringify(r).length, 0);
    expect(encodeBlock(rows).length).toBeLessThan(raw / 3);
  });
});
