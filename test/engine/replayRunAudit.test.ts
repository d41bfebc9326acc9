import { describe, expect, it } from "vitest";
import { RUN_COLUMNS, RunAuditGroup } from "../../src/engine/replayRunAudit.js";
import { AUDIT_FIELD_MAX, type AuditEntry, verifyAudit } from "../../src/store/audit.js";
import { openDb } from "../../src/store/db.js";

function entry(i: number, reason: string | null = null): AuditEntry {
  return {
    ts: 60_000 * i,
    caller: "system:cycle",
    tool: "cycle.run",
    args: { cycle_id: `cyc-${String(i).padStart(5, "0")}`, venue: "paper" },
    decision: "allowed",
    result: {
      used: "baseline",
      reason,
      clips: i % 3,
      slices: 1,
      sent: 1,
      refused: 0,
      ...(i === 2 ? { corrections: 4 } : {}),
    },
    durationMs: 1,
    keys: null,
  };
}

function groups(db: ReturnType<typeof openDb>) {
  return (
    db.prepare("SELECT ts, args, result FROM audit_log WHERE tool = 'cycle.run' ORDER BY id").all() as Array<{
      ts: number;
      args: string;
      result: string;
    }>
  ).map((r) => ({
    ts: r.ts,
    args: JSON.parse(r.args),
    result: JSON.parse(r.result),
    bytes: r.result.length,
  }));
}

describe("RunAuditGroup (a replay's cycle.run rows)", () => {
  it("one row names the group's cycles with what each did; a member a cycle left out is 0", () => {
    const db = openDb(":memory:");
    const g = new RunAuditGroup(db, "paper");
    for (const i of [1, 2, 3]) {
      g.beginTick();
      g.add(entry(i));
    }
    g.flush();
    g.flush(); // nothing left: no second row
    expect(groups(db)).toEqual([
      {
        ts: 60_000,
        args: { venue: "paper", first: "cyc-00001", last: "cyc-00003", count: 3 },
        result: {
          columns: ["cycle_id", ...RUN_COLUMNS],
          rows: [
            ["cyc-00001", "baseline", null, 1, 1, 1, 0, 0, 0],
            ["cyc-00002", "baseline", null, 2, 1, 1, 0, 0, 4],
            ["cyc-00003", "baseline", null, 0, 1, 1, 0, 0, 0],
          ],
        },
        bytes: expect.any(Number),
      },
    ]);
    expect(verifyAudit(db).ok).toBe(true);
    db.close();
  });

  it("a rolled-back tick's cycle is not named, and a long run is split into rows the audit never truncates", () => {
    const db = openDb(":memory:");
    const g = new RunAuditGroup(db, "paper");
    g.beginTick();
    g.add(entry(1));
    g.beginTick();
    g.add(entry(2));
    g.dropTick(); // tick 2 failed and was rolled back
    g.beginTick();
    g.add(entry(3));
    // Long reasons (a model's error text): 600 cycles of ≈ 260 bytes each.
    for (let i = 4; i < 604; i++) {
      g.beginTick();
      g.add(entry(i, "x".repeat(200)));
    }
    g.flush();
    const rows = groups(db);
    expect(rows.length).toBeGreaterThan(5);
    for (const r of rows) {
      expect(r.bytes).toBeLessThan(AUDIT_FIELD_MAX);
      expect(r.result.truncated).toBeUndefined();
    }
    const named = rows.flatMap((r) => r.result.rows.map((c: unknown[]) => c[0]));
    expect(named).toEqual([
      "cyc-00001",
      ...Array.from({ length: 601 }, (_, k) => `cyc-${String(k + 3).padStart(5, "0")}`),
    ]);
    g.clear();
    g.flush();
    expect(groups(db).length).toBe(rows.length);
    db.close();
  });
});
