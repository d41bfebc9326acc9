import { afterEach, describe, expect, it } from "vitest";
import { PORTFOLIO_LIMIT_DEFAULTS } from "../../src/config.js";
import { evaluateBreakers } from "../../src/engine/breakers.js";
import { getControl, setControl } from "../../src/store/control.js";
import { type Db, openDb } from "../../src/store/db.js";

/** The daily-loss limit and the drawdown breaker on a store (issue 13). */

const DAY = 86_400_000;
const D0 = Date.UTC(2025, 5, 2);
const limits = {
  ...PORTFOLIO_LIMIT_DEFAULTS,
  caps: { ...PORTFOLIO_LIMIT_DEFAULTS.caps },
  drawdownReduceOnly: 0.5,
  drawdownHalt: 0.6,
};

let db: Db;
afterEach(() => db?.close());

function audit(): Array<{ caller: string; tool: string }> {
  return db.prepare("SELECT caller, tool FROM audit_log ORDER BY id").all() as Array<{
    caller: string;
    tool: string;
  }>;
}

describe("daily-loss limit", () => {
  it("a loss of 2 % of the UTC day's starting equity switches to REDUCE_ONLY, audited; the next UTC day lifts it", () => {
    db = openDb(":memory:");
    expect(evaluateBreakers(db, "c1", D0 + 60_000, 100_000, limits).mode).toBe("NORMAL");
    expect(evaluateBreakers(db, "c2", D0 + 3_600_000, 98_001, limits).mode).toBe("NORMAL");
    const tripped = evaluateBreakers(db, "c3", D0 + 7_200_000, 98_000, limits);
    expect(tripped).toMatchObject({ mode: "REDUCE_ONLY", actor: "system:daily_loss" });
    expect(audit()).toEqual([{ caller: "system:daily_loss", tool: "control.reduce_only" }]);
    // Same day: stays REDUCE_ONLY even if equity recovers.
    expect(evaluateBreakers(db, "c4", D0 + DAY - 60_000, 99_500, limits).mode).toBe("REDUCE_ONLY");
    // Next UTC day: lifted back to NORMAL, and the new day's start is measured from here.
    const next = evaluateBreakers(db, "c5", D0 + DAY, 99_000, limits);
    expect(next).toMatchObject({ mode: "NORMAL", actor: "system:daily_loss" });
    expect(audit().at(-1)).toEqual({ caller: "system:daily_loss", tool: "control.resume" });
    expect(evaluateBreakers(db, "c6", D0 + DAY + 60_000, 97_021, limits).mode).toBe("NORMAL");
    expect(evaluateBreakers(db, "c7", D0 + DAY + 120_000, 97_020, limits).mode).toBe("REDUCE_ONLY");
  });

  it("a quote limit replaces the fraction; a mode set by someone else is never lifted by the new day", () => {
    db = openDb(":memory:");
    const quote = { ...limits, dailyLossQuote: 500 };
    evaluateBreakers(db, "c1", D0, 100_000, quote);
    expect(evaluateBreakers(db, "c2", D0 + 60_000, 99_501, quote).mode).toBe("NORMAL");
    expect(evaluateBreakers(db, "c3", D0 + 120_000, 99_500, quote).mode).toBe("REDUCE_ONLY");
    setControl(db, "REDUCE_ONLY", "operator keeps it", "cli:ops", D0 + 180_000);
    evaluateBreakers(db, "c4", D0 + DAY, 99_500, quote);
    expect(getControl(db)).toMatchObject({ mode: "REDUCE_ONLY", actor: "cli:ops" });
  });

  it("the drawdown breaker is not lifted by a new day", () => {
    db = openDb(":memory:");
    const dd = { ...limits, drawdownReduceOnly: 0.01, drawdownHalt: 0.5, dailyLossFraction: 0.5 };
    evaluateBreakers(db, "c1", D0, 100_000, dd);
    expect(evaluateBreakers(db, "c2", D0 + 60_000, 98_900, dd)).toMatchObject({
      mode: "REDUCE_ONLY",
      actor: "system:drawdown",
    });
    expect(evaluateBreakers(db, "c3", D0 + DAY, 98_900, dd).mode).toBe("REDUCE_ONLY");
  });
});
