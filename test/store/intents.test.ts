import { describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import {
  type CheckResult,
  compactIntentChecks,
  getIntent,
  insertIntent,
  type IntentRow,
  intentByClientId,
} from "../../src/store/intents.js";

const CHECKS: CheckResult[] = [
  {
    check: "symbol_allowed",
    passed: true,
    limit: ["BTC"],
    value: "BTC",
    message: "BTC must be in the allow-list",
  },
  { check: "max_leverage", passed: false, limit: 3, value: 4, message: "leverage after fill 4 must be ≤ 3" },
];

function intent(id: string, clientOrderId: string, venue = "paper"): IntentRow {
  return {
    id,
    created_at: 1000,
    caller: "system:cycle",
    venue,
    symbol: "BTC",
    side: "buy",
    type: "limit",
    tif: "GTC",
    size: "0.01",
    price: "100000",
    ref_price: "100000",
    notional: "1000",
    worst_notional: "1000",
    est_fee: "0.45",
    reduce_only: false,
    take_profit: null,
    stop_loss: null,
    trailing_stop_bps: null,
    max_hold_minutes: null,
    client_order_id: clientOrderId,
    payload_hash: "b".repeat(64),
    approval_needed: false,
    checks: CHECKS,
  };
}

describe("compactIntentChecks (a replay's finished cycles)", () => {
  it("keeps every field and each check's name and verdict for the cycle's intents on that venue only", () => {
    const db = openDb(":memory:");
    insertIntent(db, intent("int_a", "cyc-1:BTC:1:buy"));
    insertIntent(db, intent("int_b", "cyc-1:BTC:2:buy"));
    insertIntent(db, intent("int_c", "cyc-10:BTC:1:buy"));
    insertIntent(db, intent("int_d", "cyc-1:BTC:3:buy", "other"));

    compactIntentChecks(db, "paper", "cyc-1:");
    compactIntentChecks(db, "paper", "cyc-1:"); // idempotent

    const a = getIntent(db, "int_a");
    expect(a).toEqual({
      ...intent("int_a", "cyc-1:BTC:1:buy"),
      checks: [
        { check: "symbol_allowed", passed: true, limit: null, value: null, message: "" },
        { check: "max_leverage", passed: false, limit: null, value: null, message: "" },
      ],
    });
    expect(intentByClientId(db, "paper", "cyc-1:BTC:2:buy")?.checks.map((c) => c.check)).toEqual([
      "symbol_allowed",
      "max_leverage",
    ]);
    // Another cycle (`cyc-10:` is not under `cyc-1:`) and another venue stay whole.
    expect(getIntent(db, "int_c")).toEqual(intent("int_c", "cyc-10:BTC:1:buy"));
    expect(getIntent(db, "int_d")).toEqual(intent("int_d", "cyc-1:BTC:3:buy", "other"));
    // The (venue, client order id) stays taken.
    expect(() => insertIntent(db, intent("int_e", "cyc-1:BTC:1:buy"))).toThrow(/UNIQUE/);
    db.close();
  });

  it("an order referring to a compacted intent still finds it (the id is kept)", () => {
    const db = openDb(":memory:");
    insertIntent(db, intent("int_a", "cyc-1:BTC:1:buy"));
    db.prepare(
      `INSERT INTO orders (id, intent_id, venue, symbol, side, type, tif, size, price, reduce_only, notional,
         client_order_id, status, filled_size, caller, created_at, updated_at)
       VALUES ('o1', 'int_a', 'paper', 'BTC', 'buy', 'limit', 'GTC', '0.01', '100000', 0, '1000',
         'cyc-1:BTC:1:buy', 'filled', '0.01', 'system:cycle', 1000, 1000)`,
    ).run();
    compactIntentChecks(db, "paper", "cyc-1:");
    const row = db
      .prepare("SELECT i.id FROM orders o JOIN intents i ON i.id = o.intent_id WHERE o.id = 'o1'")
      .get() as { id: string };
    expect(row.id).toBe("int_a");
    expect(db.pragma("foreign_key_check")).toEqual([]);
    db.close();
  });
});
