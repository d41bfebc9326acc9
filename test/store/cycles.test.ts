import { describe, expect, it } from "vitest";
import type { ApprovedTarget } from "../../src/engine/types.js";
import {
  type CycleReport,
  compactCycles,
  finishCycle,
  getCycle,
  insertCycle,
} from "../../src/store/cycles.js";
import { openDb } from "../../src/store/db.js";
import { TEST_TARGET as TARGET } from "../helpers/cycles.js";

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
    expect(JSON.parse(raw.approved)).toEqual({ k: "BTC", clips: 1 });
    db.close();
  });

  it("a compacted row reads back every weight and report figure as the same double, its strings as their shortest decimal", () => {
    const db = openDb(":memory:");
    const c = cycle("cyc-1", 60_000, "NORMAL", "NORMAL", null);
    const odd = {
      BTC: 0.1 + 0.2,
      ETH: -0.003067219894077181,
      SOL: 5e-324,
      ADA: 1.7976931348623157e308,
      DOGE: 0,
    };
    c.approved = { ...c.approved, weights: odd };
    c.current_weights = { ETH: 0.019306186638729805, BTC: -1e-17 } as never;
    insertCycle(db, c);
    const whole = getCycle(db, "cyc-1");
    finishCycle(
      db,
      "cyc-1",
      "done",
      {
        ...REPORT,
        end_equity: "100016.416298720720",
        end_cash: "99995.95860124372",
        end_net: -0.07598593382211803,
      },
      61_000,
    );
    compactCycles(db, 0, 200_000);
    const got = getCycle(db, "cyc-1");
    expect(got?.compacted).toBe(true);
    expect(Object.entries(got?.approved.weights ?? {})).toEqual([
      ["BTC", 0.30000000000000004],
      ["ETH", -0.003067219894077181],
      ["SOL", 5e-324],
      ["ADA", 1.7976931348623157e308],
      ["DOGE", 0],
    ]);
    expect(Object.entries(got?.current_weights ?? {})).toEqual([
      ["ETH", 0.019306186638729805],
      ["BTC", -1e-17],
    ]);
    expect(got?.approved.gross).toBe(whole?.approved.gross);
    expect(got?.report).toMatchObject({
      sent: 1,
      filled: 1,
      fees: "0.45",
      end_equity: "100016.41629872072",
      end_cash: "99995.95860124372",
      end_gross: 0.01,
      end_net: -0.07598593382211803,
      executed_turnover: 0.01,
      end_positions: [],
    });
    // The figures are 8-byte doubles: 5 + 2 weights and 4 report figures (end equity stays a string).
    const raw = db.prepare("SELECT current_weights FROM cycles WHERE id = 'cyc-1'").get() as {
      current_weights: Buffer;
    };
    expect(raw.current_weights.length).toBe(11 * 8);
    db.close();
  });

  it("a report without end gross/net/turnover reads back without them", () => {
    const db = openDb(":memory:");
    insertCycle(db, cycle("cyc-1", 60_000, "NORMAL", "NORMAL", null));
    const { end_gross: _g, end_net: _n, ...old } = REPORT;
    finishCycle(db, "cyc-1", "done", old, 61_000);
    compactCycles(db, 0, 200_000);
    const r = getCycle(db, "cyc-1")?.report;
    expect(r).not.toHaveProperty("end_gross");
    expect(r).not.toHaveProperty("end_net");
    expect(r?.executed_turnover).toBe(0.01);
    expect(r?.end_cash).toBe("99000.25");
    db.close();
  });

  it("a row compacted in the earlier JSON form still reads back", () => {
    const db = openDb(":memory:");
    insertCycle(db, cycle("cyc-1", 60_000, "NORMAL", "NORMAL", null));
    db.prepare(
      `UPDATE cycles SET status = 'done', features = '[]', plan = '{}', target = '{"used":"agent","reason":null}',
         approved = '{"weights":{"BTC":0.1},"clips":1}', current_weights = '{"BTC":0.05}',
         report = '{"sent":1,"end_equity":"100000.5","end_cash":"99000.25","end_gross":0.01}', finished_at = 61000
       WHERE id = 'cyc-1'`,
    ).run();
    const got = getCycle(db, "cyc-1");
    expect(got?.approved.weights).toEqual({ BTC: 0.1 });
    expect(got?.current_weights).toEqual({ BTC: 0.05 });
    expect(got?.report).toMatchObject({ sent: 1, filled: 0, end_cash: "99000.25", end_gross: 0.01 });
    db.close();
  });
});
