import { describe, expect, it } from "vitest";
import {
  compactKeyResults,
  completeKey,
  getKey,
  replayDone,
  reserveKey,
} from "../../src/policy/idempotency.js";
import { openDb } from "../../src/store/db.js";

const HASH = "a".repeat(64);

/** A stored order_propose-like result: the whole proposal with ten checks (≈ 1.9 KB in a replay). */
function proposal(i: number): Record<string, unknown> {
  return {
    intent_id: `int_${i}`,
    venue: "paper",
    symbol: "BTC",
    size: "0.01",
    checks: Array.from({ length: 10 }, (_, k) => ({
      check: `check_${k}`,
      passed: true,
      limit: 100,
      value: k,
      message: `value ${k} must be ≤ 100 — a sentence long enough to matter`,
    })),
  };
}

describe("compactKeyResults (a replay's finished cycles)", () => {
  it("shrinks only the done keys under the prefix; the key still holds, conflicts and answers a retry with ids and status", () => {
    const db = openDb(":memory:");
    const keys = ["sys:paper:cyc-1:BTC:1:buy", "sys:paper:cyc-1:ETH:1:sell", "sys:paper:cyc-10:BTC:1:buy"];
    for (const [i, k] of keys.entries()) {
      expect(reserveKey(db, "order_propose", k, HASH, 1000)).toBe(true);
      completeKey(db, "order_propose", k, { ...proposal(i), status: "filled", order_id: `ord_${i}` }, 1001);
    }
    // Still in flight, and a stored refusal: neither is touched.
    reserveKey(db, "order_propose", "sys:paper:cyc-1:SOL:1:buy", HASH, 1000);
    reserveKey(db, "order_propose", "sys:paper:cyc-1:ADA:1:buy", HASH, 1000);
    const refusal = { error: { code: "EXCHANGE_REJECTED", message: "no", retryable: false } };
    completeKey(db, "order_propose", "sys:paper:cyc-1:ADA:1:buy", refusal, 1001);
    const before = getKey(db, "order_propose", keys[2]);

    compactKeyResults(db, "order_propose", "sys:paper:cyc-1:");
    compactKeyResults(db, "order_propose", "sys:paper:cyc-1:"); // idempotent

    const a = getKey(db, "order_propose", keys[0]);
    expect(a).toMatchObject({ status: "done", payload_hash: HASH, created_at: 1000, updated_at: 1001 });
    expect(JSON.parse(a?.result ?? "null")).toEqual({
      intent_id: "int_0",
      order_id: "ord_0",
      status: "filled",
      compacted: true,
    });
    expect(replayDone(a as NonNullable<typeof a>)).toEqual({
      intent_id: "int_0",
      order_id: "ord_0",
      status: "filled",
      compacted: true,
    });
    expect(JSON.parse(getKey(db, "order_propose", keys[1])?.result ?? "null").intent_id).toBe("int_1");
    // `cyc-10:` is not under `cyc-1:`: whole.
    expect(getKey(db, "order_propose", keys[2])).toEqual(before);
    expect(getKey(db, "order_propose", "sys:paper:cyc-1:SOL:1:buy")).toMatchObject({
      status: "reserved",
      result: null,
    });
    expect(JSON.parse(getKey(db, "order_propose", "sys:paper:cyc-1:ADA:1:buy")?.result ?? "null")).toEqual(
      refusal,
    );
    // A compacted key still blocks a second reservation.
    expect(reserveKey(db, "order_propose", keys[0], HASH, 2000)).toBe(false);
    // And the rows are smaller: far less than one whole proposal each.
    const bytes = db
      .prepare("SELECT SUM(length(result)) AS n FROM idempotency_keys WHERE key IN (?, ?)")
      .get(keys[0], keys[1]) as { n: number };
    expect(bytes.n).toBeLessThan(200);
    db.close();
  });
});
