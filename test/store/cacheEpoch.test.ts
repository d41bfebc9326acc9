import { Decimal } from "decimal.js";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  bumpCacheEpoch,
  cacheEpoch,
  type Db,
  dataVersion,
  markExclusive,
  openDb,
} from "../../src/store/db.js";
import { getControl, setControl } from "../../src/store/control.js";
import { insertFill, listFills } from "../../src/store/fills.js";
import { adoptMirror, readMirror } from "../../src/store/mirror.js";
import { getMeta, setMeta } from "../../src/store/meta.js";
import { insertOrder, type OrderRow, sentNotionalSince, updateOrder } from "../../src/store/orders.js";
import { currentPortfolioLimits, setPortfolioLimits } from "../../src/store/portfolioLimits.js";
import { upsertPosition } from "../../src/store/positions.js";
import { currentLimits, setLimits } from "../../src/store/riskLimits.js";
import { getMeta as getPaperMeta, setMeta as setPaperMeta } from "../../src/exchange/paper/store.js";
import { tempHome, testConfig } from "../helpers/app.js";
import { orderRow } from "../helpers/orders.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function fileDb(): { path: string; db: Db } {
  const { home, cleanup } = tempHome();
  const path = join(home, "t.db");
  const db = openDb(path);
  cleanups.push(() => {
    db.close();
    cleanup();
  });
  return { path, db };
}

function order(i: number, created_at: number, notional: string): OrderRow {
  return orderRow(i, created_at, { notional });
}

/** A meta value written inside a transaction that throws is read back inside it and gone after it. */
function expectMetaRollback(db: Db, kept: number, tried: number): void {
  expect(() =>
    db.transaction(() => {
      setMeta(db, "engine.peak_equity", tried);
      expect(getMeta<number>(db, "engine.peak_equity")).toBe(tried);
      throw new Error("undo");
    })(),
  ).toThrow("undo");
  expect(getMeta<number>(db, "engine.peak_equity")).toBe(kept);
}

describe("in-process caches of store rows (issue 15)", () => {
  it("a rolled-back transaction or savepoint moves the cache epoch on; a committed read-only one does not", () => {
    const db = openDb(":memory:");
    const e0 = cacheEpoch(db);
    db.transaction(() => db.prepare("SELECT 1").get())();
    expect(cacheEpoch(db)).toBe(e0);
    expect(() =>
      db.transaction(() => {
        db.prepare("INSERT INTO meta (key, value) VALUES ('k', '1')").run();
        throw new Error("boom");
      })(),
    ).toThrow("boom");
    expect(cacheEpoch(db)).toBe(e0 + 1);
    expect(db.prepare("SELECT COUNT(*) AS n FROM meta WHERE key = 'k'").get()).toEqual({ n: 0 });
    // Nested: the inner savepoint rolls back alone, the outer commits.
    db.transaction(() => {
      db.prepare("INSERT INTO meta (key, value) VALUES ('a', '1')").run();
      expect(() =>
        db.transaction(() => {
          db.prepare("INSERT INTO meta (key, value) VALUES ('b', '1')").run();
          throw new Error("inner");
        })(),
      ).toThrow("inner");
    })();
    expect(cacheEpoch(db)).toBe(e0 + 2);
    expect(
      (db.prepare("SELECT key FROM meta WHERE key IN ('a','b')").all() as Array<{ key: string }>).map(
        (r) => r.key,
      ),
    ).toEqual(["a"]);
    // The other variants are better-sqlite3's own, still guarded.
    expect(() =>
      db
        .transaction(() => {
          throw new Error("deferred");
        })
        .deferred(),
    ).toThrow("deferred");
    expect(cacheEpoch(db)).toBe(e0 + 3);
    expect(db.inTransaction).toBe(false);
    db.close();
  });

  it("the memoised rolling-24h sum follows order writes in this process and commits from another connection", () => {
    const { path, db } = fileDb();
    const now = 1_750_000_000_000;
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("0");
    insertOrder(db, order(1, now - 1000, "1234.5"));
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("1234.5");
    const other = openDb(path);
    insertOrder(other, order(2, now - 500, "0.25"));
    other.close();
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("1234.75");
    // A rolled-back insert is not counted.
    expect(() =>
      db.transaction(() => {
        insertOrder(db, order(3, now - 100, "1000"));
        expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("2234.75");
        throw new Error("undo");
      })(),
    ).toThrow("undo");
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("1234.75");
  });

  it("data_version moves with another connection's commit, not with this connection's own", () => {
    const { path, db } = fileDb();
    const v0 = dataVersion(db);
    upsertPosition(db, {
      venue: "paper",
      symbol: "BTC",
      size: "1",
      entry_px: "100",
      realized_pnl: "0",
      funding: "0",
      updated_at: 1,
    });
    expect(dataVersion(db)).toBe(v0);
    const other = openDb(path);
    other.prepare("UPDATE positions SET size = '2'").run();
    other.close();
    expect(dataVersion(db)).not.toBe(v0);
    const e = cacheEpoch(db);
    bumpCacheEpoch(db);
    expect(cacheEpoch(db)).toBe(e + 1);
  });

  it("an exclusive connection asks SQLite no data_version; its own writes and rollbacks still reach its caches", () => {
    const { path, db } = fileDb();
    markExclusive(db);
    const v0 = dataVersion(db);
    const other = openDb(path);
    other.prepare("UPDATE positions SET size = '2'").run(); // the contract is broken on purpose:
    other.close();
    expect(dataVersion(db)).toBe(v0); // not asked, so not seen
    setMeta(db, "engine.peak_equity", 100);
    expect(getMeta<number>(db, "engine.peak_equity")).toBe(100);
    expectMetaRollback(db, 100, 200);
  });

  it("meta values: another connection's write and a rollback are seen; an unchanged value is not rewritten", () => {
    const { path, db } = fileDb();
    setMeta(db, "engine.peak_equity", 100);
    expect(getMeta<number>(db, "engine.peak_equity")).toBe(100);
    const other = openDb(path);
    other.prepare("UPDATE meta SET value = '250' WHERE key = 'engine.peak_equity'").run();
    expect(getMeta<number>(db, "engine.peak_equity")).toBe(250);
    setMeta(other, "engine.peak_equity", 300);
    other.close();
    expect(getMeta<number>(db, "engine.peak_equity")).toBe(300);
    expectMetaRollback(db, 300, 400);
    const changes = () => (db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
    const before = changes();
    setMeta(db, "engine.peak_equity", 300);
    expect(changes()).toBe(before);
    setMeta(db, "engine.peak_equity", 301);
    expect(changes()).toBe(before + 1);
    expect(() => setMeta(db, "x", undefined)).toThrow();
  });

  it("a table's cache epoch moves with writes of that table and with rollbacks, not with other tables' writes (round 4)", () => {
    const db = openDb(":memory:");
    const orders0 = cacheEpoch(db, ["orders"]);
    const any0 = cacheEpoch(db);
    bumpCacheEpoch(db, "paper");
    bumpCacheEpoch(db, "positions");
    expect(cacheEpoch(db, ["orders"])).toBe(orders0);
    expect(cacheEpoch(db)).toBe(any0 + 2);
    const paper1 = cacheEpoch(db, ["paper", "positions"]);
    bumpCacheEpoch(db, "orders");
    expect(cacheEpoch(db, ["orders"])).not.toBe(orders0);
    expect(cacheEpoch(db, ["paper", "positions"])).toBe(paper1);
    // A bump naming no table (a rollback) moves every table's epoch.
    const orders1 = cacheEpoch(db, ["orders"]);
    bumpCacheEpoch(db);
    expect(cacheEpoch(db, ["orders"])).not.toBe(orders1);
    expect(cacheEpoch(db, ["paper", "positions"])).not.toBe(paper1);
    db.close();
  });

  it("the rolling-24h sum is not read again after other tables' writes, nor after this connection's order writes, which it follows in place (rounds 4, 8)", () => {
    const db = openDb(":memory:");
    const now = 1_750_000_000_000;
    insertOrder(db, order(1, now - 1000, "10"));
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("10");
    setPaperMeta(db, "paper.synced_at", "123");
    // Changing the row behind the cache on this connection (no store function) shows whether the
    // sum was re-read: it must not be after a paper write, nor after an order write.
    db.prepare("UPDATE orders SET notional_micros = 99000000").run();
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("10");
    insertOrder(db, order(2, now - 500, "1"));
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("11");
    updateOrder(db, "o2", { status: "rejected" }, now);
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("10");
    // A rollback reads the day again (and finds the tampered row).
    bumpCacheEpoch(db);
    expect(sentNotionalSince(db, "paper", now - 86_400_000).toString()).toBe("99");
    db.close();
  });

  it("the rolling-24h sum equals SQL's SUM after every one of 600 seeded order writes, rollbacks, other connections' orders and moves of the window (round 8)", () => {
    const { path, db } = fileDb();
    const other = openDb(path);
    cleanups.push(() => other.close());
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const statuses = ["pending", "open", "filled", "canceled", "rejected", "not_found", "unknown"] as const;
    const now = 1_750_000_000_000;
    const H = 3_600_000;
    let n = 0;
    const ids: string[] = [];
    const fresh = (conn: Db) => {
      n++;
      const parent = ids.length > 0 && rnd() < 0.15 ? ids[Math.floor(rnd() * ids.length)] : null;
      insertOrder(
        conn,
        orderRow(n, now - Math.floor(rnd() * 30 * H), {
          venue: rnd() < 0.8 ? "paper" : "hyperliquid",
          status: statuses[Math.floor(rnd() * statuses.length)],
          parent_id: parent,
          notional: (rnd() * 5_000).toFixed(Math.floor(rnd() * 7)),
        }),
      );
      ids.push(`o${n}`);
    };
    const sql = (venue: string, since: number) => {
      const r = db
        .prepare(
          "SELECT COALESCE(SUM(notional_micros), 0) AS m FROM orders WHERE venue = ? AND created_at > ? AND status NOT IN ('rejected','not_found') AND parent_id IS NULL",
        )
        .safeIntegers(true)
        .get(venue, since) as { m: bigint };
      return new Decimal(r.m.toString()).dividedBy(1_000_000).toString();
    };
    let since = now - 24 * H;
    // A row whose stored micro-units are not its notional text's: the window adds what SQL sums.
    insertOrder(db, orderRow(0, now - H, { status: "rejected", notional: "1000" }));
    db.prepare("UPDATE orders SET notional_micros = 7 WHERE id = 'o0'").run();
    expect(sentNotionalSince(db, "paper", since).toString()).toBe(sql("paper", since));
    updateOrder(db, "o0", { status: "open" }, now);
    expect(sentNotionalSince(db, "paper", since).toString()).toBe(sql("paper", since));
    ids.push("o0");
    for (let step = 0; step < 600; step++) {
      const op = rnd();
      if (op < 0.4) fresh(db);
      else if (op < 0.7 && ids.length > 0) {
        const id = ids[Math.floor(rnd() * ids.length)];
        updateOrder(db, id, { status: statuses[Math.floor(rnd() * statuses.length)] }, now);
      } else if (op < 0.8) {
        expect(() =>
          db.transaction(() => {
            fresh(db);
            updateOrder(db, ids[Math.floor(rnd() * ids.length)], { status: "rejected" }, now);
            throw new Error("undo");
          })(),
        ).toThrow("undo");
        ids.pop();
      } else if (op < 0.85) fresh(other);
      else if (op < 0.95)
        since += Math.floor(rnd() * 2 * H); // the window moves on
      else since -= Math.floor(rnd() * 3 * H); // an earlier window
      for (const venue of ["paper", "hyperliquid"])
        expect(sentNotionalSince(db, venue, since).toString(), `step ${step}`).toBe(sql(venue, since));
    }
  });

  it("paper meta keys are read and written through the meta cache: seen by both readers, rolled back, and another connection's write is seen", () => {
    const { path, db } = fileDb();
    setPaperMeta(db, "paper.cash", "1000.5");
    expect(getPaperMeta(db, "paper.cash")).toBe("1000.5");
    expect(db.prepare("SELECT value FROM meta WHERE key = 'paper.cash'").get()).toEqual({ value: "1000.5" });
    expect(() =>
      db.transaction(() => {
        setPaperMeta(db, "paper.cash", "1");
        expect(getPaperMeta(db, "paper.cash")).toBe("1");
        throw new Error("undo");
      })(),
    ).toThrow("undo");
    expect(getPaperMeta(db, "paper.cash")).toBe("1000.5");
    const other = openDb(path);
    setPaperMeta(other, "paper.cash", "7");
    other.close();
    expect(getPaperMeta(db, "paper.cash")).toBe("7");
    // An engine (JSON) write does not disturb a raw paper value of another key.
    setMeta(db, "engine.peak_equity", 5);
    expect(getPaperMeta(db, "paper.cash")).toBe("7");
  });

  it("risk limits, portfolio limits and the control mode follow their writers and another connection's commit", () => {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const cfg = testConfig(home);
    const { path, db } = fileDb();
    expect(currentLimits(db, cfg).max_open_orders).toBe(50);
    setLimits(db, { max_open_orders: 57 }, "test", "why", 1);
    expect(currentLimits(db, cfg).max_open_orders).toBe(57);
    expect(currentPortfolioLimits(db, cfg).maxGross).toBe(0.4);
    setPortfolioLimits(db, { maxGross: 0.3 }, "test", "why", 2);
    expect(currentPortfolioLimits(db, cfg).maxGross).toBe(0.3);
    expect(getControl(db).mode).toBe("NORMAL");
    setControl(db, "HALT", "why", "test", 3);
    expect(getControl(db)).toEqual({ mode: "HALT", reason: "why", actor: "test", since: 3 });
    const other = openDb(path);
    setControl(other, "NORMAL", "back", "other", 4);
    setLimits(other, { max_open_orders: 3 }, "other", "why", 5);
    other.close();
    expect(getControl(db).mode).toBe("NORMAL");
    expect(currentLimits(db, cfg).max_open_orders).toBe(3);
    // Each call hands out objects of its own.
    const a = currentLimits(db, cfg);
    const b = currentLimits(db, cfg);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
  });

  it("the fill list from one cursor follows fills written here and by another connection", () => {
    const { path, db } = fileDb();
    const fill = (time: number, size: string) => ({
      venue_order_id: `v${time}`,
      client_order_id: null,
      symbol: "BTC",
      side: "buy" as const,
      size,
      price: "100",
      fee: "0.01",
      liquidity: "taker" as const,
      realized_pnl: "0",
      time,
    });
    insertFill(db, "paper", fill(1000, "1"));
    expect(listFills(db, "paper", 1000, 0, 500).map((f) => f.size)).toEqual(["1"]);
    insertFill(db, "paper", fill(1000, "2"));
    expect(listFills(db, "paper", 1000, 0, 500).map((f) => f.size)).toEqual(["1", "2"]);
    const other = openDb(path);
    insertFill(other, "paper", fill(2000, "3"));
    other.close();
    expect(listFills(db, "paper", 1000, 0, 500).map((f) => f.size)).toEqual(["1", "2", "3"]);
    // Each call hands out its own objects.
    const a = listFills(db, "paper", 1000, 0, 500);
    a[0].size = "changed";
    expect(listFills(db, "paper", 1000, 0, 500)[0].size).toBe("1");
  });

  it("a mirror read follows the reconciler's adoption and another connection's", () => {
    const { path, db } = fileDb();
    const account = { equity: "1", cash: "1", open_orders: 0 };
    adoptMirror(db, "paper", [{ symbol: "BTC", size: "1", entry_px: "100" }], account, 1);
    expect(readMirror(db, "paper").rows.get("BTC")?.size).toBe("1");
    adoptMirror(db, "paper", [{ symbol: "BTC", size: "2", entry_px: "100" }], account, 2);
    expect(readMirror(db, "paper").rows.get("BTC")?.size).toBe("2");
    const other = openDb(path);
    adoptMirror(other, "paper", [{ symbol: "ETH", size: "-3", entry_px: "10" }], account, 3);
    other.close();
    expect([...readMirror(db, "paper").rows.keys()]).toEqual(["ETH"]);
  });
});
