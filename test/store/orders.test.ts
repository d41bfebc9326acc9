import { describe, expect, it } from "vitest";
import type { OrderStatus } from "../../src/exchange/venue.js";
import { type Db, openDb, sqlLimit } from "../../src/store/db.js";
import {
  insertOrder,
  listOrders,
  type OrderRow,
  ordersOfIntent,
  sentNotionalSince,
} from "../../src/store/orders.js";
import { orderRow } from "../helpers/orders.js";

function order(i: number, status: OrderStatus, created_at: number, venue = "paper"): OrderRow {
  return orderRow(i, created_at, {
    id: `o${String(i).padStart(6, "0")}`,
    intent_id: `i${Math.floor(i / 2)}`,
    venue,
    status,
  });
}

/** Every SQL text the store prepares while `fn` runs, with the query plan SQLite picks for it. */
function plans(db: Db, fn: () => void): Array<{ sql: string; plan: string }> {
  const seen: string[] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    seen.push(sql);
    return prepare(sql);
  }) as typeof db.prepare;
  try {
    fn();
  } finally {
    db.prepare = prepare as typeof db.prepare;
  }
  return seen.map((sql) => {
    // Unbound parameters read as NULL, which does not change the plan of these statements.
    const names = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]))];
    const positional = (sql.match(/\?/g) ?? []).length;
    const stmt = prepare(`EXPLAIN QUERY PLAN ${sql}`);
    const args: unknown[] = names.length > 0 ? [Object.fromEntries(names.map((n) => [n, null]))] : [];
    for (let i = 0; i < positional; i++) args.push(null);
    const rows = stmt.all(...args) as Array<{ detail: string }>;
    return { sql, plan: rows.map((r) => r.detail).join(" | ") };
  });
}

describe("order reads on a hot path stay bounded by live rows, not by history", () => {
  const db = openDb(":memory:");
  // The reads under test touch only `orders`; its intents are not needed to exercise them.
  db.pragma("foreign_keys = OFF");
  // 3,000 finished orders of history, then a few live ones; two share a created_at (ties by id).
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insertOrder(db, order(i, i % 7 === 0 ? "canceled" : "filled", 1_000 + i));
    insertOrder(db, order(3000, "open", 5_000));
    insertOrder(db, order(3001, "open", 5_000));
    insertOrder(db, order(3002, "waiting_trigger", 4_000));
    insertOrder(db, order(3003, "pending", 6_000));
    insertOrder(db, order(3004, "open", 7_000, "other"));
  })();

  it("live-status lists use an index on status and never walk the venue's history", () => {
    const shapes: Array<() => unknown> = [
      () => listOrders(db, { venue: "paper", statuses: ["open"], limit: 10_000 }),
      () => listOrders(db, { venue: "paper", statuses: ["open", "waiting_trigger"], limit: 10_000 }),
      () => listOrders(db, { venue: "paper", statuses: ["unknown", "pending"], limit: 10_000 }),
      () => listOrders(db, { statuses: ["pending"], limit: 10_000 }),
      () => ordersOfIntent(db, "i1500"),
      () => sentNotionalSince(db, "paper", 0),
    ];
    for (const shape of shapes) {
      for (const { sql, plan } of plans(db, shape)) {
        expect(plan, sql).not.toMatch(/\bSCAN orders\b/);
        expect(plan, sql).not.toContain("orders_created");
      }
    }
  });

  it("live-status lists keep newest-first order with ties broken by id, and the limit", () => {
    const ids = (rows: OrderRow[]) => rows.map((r) => r.id);
    expect(ids(listOrders(db, { venue: "paper", statuses: ["open", "waiting_trigger"], limit: 10 }))).toEqual(
      ["o003001", "o003000", "o003002"],
    );
    // limit + 1 rows come back so the caller can tell the list was truncated.
    expect(ids(listOrders(db, { venue: "paper", statuses: ["open", "waiting_trigger"], limit: 1 }))).toEqual([
      "o003001",
      "o003000",
    ]);
    expect(ids(listOrders(db, { statuses: ["open"], limit: 10 }))).toEqual(["o003004", "o003001", "o003000"]);
    expect(ids(listOrders(db, { venue: "paper", statuses: ["canceled"], limit: 2 }))).toEqual([
      "o002996",
      "o002989",
      "o002982",
    ]);
    expect(ids(ordersOfIntent(db, "i1500"))).toEqual(["o003000", "o003001"]);
  });

  it("a row limit is inlined only as a non-negative integer", () => {
    expect(sqlLimit(501)).toBe("501");
    expect(() => sqlLimit(1.5)).toThrow(RangeError);
    expect(() => sqlLimit(-1)).toThrow(RangeError);
    expect(() => sqlLimit(Number.NaN)).toThrow(RangeError);
  });
});
