import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { type EvidenceCard, writeEvidence } from "../../src/knowledge/evidence.js";
import { queryAudit, verifyAudit } from "../../src/store/audit.js";
import { testApp } from "../helpers/app.js";

let app: App;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ app, cleanup } = await testApp());
});
afterEach(async () => cleanup());

const card: EvidenceCard = {
  strategy: "ema_cross",
  params: { fast: 12, slow: 26 },
  symbols: ["BTC"],
  interval: "1h",
  data_range: { start: Date.UTC(2025, 4, 25, 10, 35), end: Date.UTC(2025, 5, 24, 10, 31) },
  metrics: { sharpe: 1.234567, total_return: 0.0421, max_drawdown: 0.031 },
  gate: { passed: false, failed: ["min_trades"] },
  run_id: "bt_42",
  run_kind: "backtest",
  author: "stdio:agent",
};

describe("evidence cards", () => {
  it('memory_search "ema_cross BTC" finds the card with strategy, params, range, metrics, gate and run link', () => {
    const id = writeEvidence(app, card);
    writeEvidence(app, { ...card, strategy: "rsi_revert", run_id: "bt_43" });
    const hits = app.knowledge.memory.search({ query: "ema_cross BTC", limit: 5 });
    expect(hits[0].id).toBe(id);
    const h = hits[0];
    expect(h.kind).toBe("strategy_evidence");
    expect(h.source).toBe("backtest:bt_42");
    expect(h.author).toBe("stdio:agent");
    expect(h.tags).toEqual(expect.arrayContaining(["ema_cross", "btc", "1h", "backtest", "gate_failed"]));
    expect(h.text).toContain('{"fast":12,"slow":26}');
    expect(h.text).toContain("2025-05-25T10:35Z to 2025-06-24T10:31Z");
    expect(h.text).toContain("sharpe=1.23457");
    expect(h.text).toContain("gate failed (min_trades)");
    expect(app.knowledge.memory.search({ query: "ema cross btc", limit: 5 })[0].id).toBe(id);
  });

  it("is idempotent per run and audits the write once, with the author as caller", () => {
    const a = writeEvidence(app, card);
    const b = writeEvidence(app, card);
    expect(b).toBe(a);
    const rows = queryAudit(app.db, { tool: "memory.write_evidence", limit: 10 }).rows;
    expect(rows.length).toBe(1);
    expect(rows[0].caller).toBe("stdio:agent");
    expect(rows[0].result).toEqual({ id: a });
    expect(verifyAudit(app.db).ok).toBe(true);
    expect(() => writeEvidence(app, { ...card, metrics: { sharpe: 2 } })).toThrowError(
      expect.objectContaining({ code: "IDEMPOTENCY_CONFLICT" }),
    );
  });

  it("records the gate by name with every criterion, and the run's warnings, in text and tags", () => {
    const id = writeEvidence(app, {
      ...card,
      run_id: "ex_7",
      run_kind: "experiment",
      gate: {
        name: "custom",
        passed: true,
        failed: [],
        criteria: [
          { criterion: "positive_return", value: 0.012, op: ">", threshold: 0, passed: true, required: true },
          {
            criterion: "deflated_sharpe",
            value: 0.31,
            op: ">",
            threshold: 0.95,
            passed: false,
            required: false,
          },
          { criterion: "min_trades", value: 7, op: ">=", threshold: 5, passed: true, required: true },
        ],
      },
      warnings: ["Only 7 closed round trips out of sample (fewer than 30): too few."],
    });
    const item = app.knowledge.memory.search({ query: "ema_cross", tags: ["gate_custom"], limit: 5 })[0];
    expect(item.id).toBe(id);
    expect(item.tags).toEqual(expect.arrayContaining(["gate_passed", "gate_custom", "warnings"]));
    expect(item.text).toContain(
      "Result: gate passed (custom gate). Criteria: positive_return 0.012 vs > 0: pass; " +
        "deflated_sharpe 0.31 vs > 0.95: fail (not required); min_trades 7 vs >= 5: pass. " +
        "Warnings: Only 7 closed round trips out of sample (fewer than 30): too few.",
    );
  });

  it("rejects a card without symbols or with an inverted range", () => {
    expect(() => writeEvidence(app, { ...card, symbols: [] })).toThrowError(/symbol/);
    expect(() => writeEvidence(app, { ...card, data_range: { start: 2, end: 1 } })).toThrowError(
      /data_range/,
    );
  });
});
