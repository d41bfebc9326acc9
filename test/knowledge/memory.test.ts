import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { MemoryStore } from "../../src/knowledge/memory.js";
import { openDb, type Db } from "../../src/store/db.js";

let db: Db;
let clock: SimClock;
let mem: MemoryStore;
const base = { tags: [] as string[], confidence: 0.5, importance: 3, source: null, author: "stdio:agent" };

beforeEach(() => {
  db = openDb(":memory:");
  clock = new SimClock(1_750_000_000_000);
  mem = new MemoryStore(db, clock);
});
afterEach(() => db.close());

describe("memory store", () => {
  it("write then search finds the item with its fields", () => {
    const { id, created } = mem.write({
      ...base,
      kind: "observation",
      text: "BTC funding flipped negative during the Asia session",
      tags: ["BTC", "Funding"],
      confidence: 0.8,
      importance: 4,
      source: "market_get_funding",
    });
    expect(created).toBe(true);
    // bm25's idf is ~0 for a word found in half the documents or more, so add unrelated ones
    mem.write({ ...base, kind: "note", text: "unrelated text about ETH" });
    mem.write({ ...base, kind: "note", text: "another unrelated note" });
    const [hit] = mem.search({ query: "funding negative", limit: 5 });
    expect(hit.id).toBe(id);
    expect(hit.tags).toEqual(["btc", "funding"]);
    expect(hit.author).toBe("stdio:agent");
    expect(hit.source).toBe("market_get_funding");
    expect(hit.created_at).toBe(1_750_000_000_000);
    expect(hit.score).toBeGreaterThan(0);
  });

  it("search increments usage_count of the items it returns, and only those", () => {
    const a = mem.write({ ...base, kind: "note", text: "alpha decay in momentum" }).id;
    const b = mem.write({ ...base, kind: "note", text: "unrelated" }).id;
    expect(mem.search({ query: "momentum", limit: 5 })[0].usage_count).toBe(1);
    clock.advance(1000);
    const again = mem.search({ query: "momentum", limit: 5 })[0];
    expect(again.usage_count).toBe(2);
    expect(again.last_used_at).toBe(1_750_000_001_000);
    expect(mem.get(a)?.usage_count).toBe(2);
    expect(mem.get(b)?.usage_count).toBe(0);
  });

  it("a disabled item is never returned, unless include_disabled is asked", () => {
    const { id } = mem.write({ ...base, kind: "decision", text: "trade ETH only on weekdays" });
    const r = mem.disable(id, "wrong: based on one week", "stdio:agent");
    expect(r.alreadyDisabled).toBe(false);
    expect(r.item.disabled_reason).toBe("wrong: based on one week");
    expect(mem.search({ query: "ETH weekdays", limit: 5 })).toEqual([]);
    expect(mem.search({ limit: 5 })).toEqual([]);
    expect(mem.search({ query: "ETH weekdays", includeDisabled: true, limit: 5 })[0].id).toBe(id);
    expect(mem.disable(id, "again", "x").alreadyDisabled).toBe(true);
    expect(mem.get(id)?.disabled_reason).toBe("wrong: based on one week");
  });

  it("disabling an unknown id is NOT_FOUND", () => {
    expect(() => mem.disable(999, "x", "y")).toThrowError(expect.objectContaining({ code: "NOT_FOUND" }));
  });

  it("same idempotency key and payload returns the same id; another payload is IDEMPOTENCY_CONFLICT", () => {
    const w = { ...base, kind: "note" as const, text: "keep it", idempotencyKey: "k1" };
    const first = mem.write(w);
    const second = mem.write(w);
    expect(second).toEqual({ id: first.id, created: false });
    expect(() => mem.write({ ...w, text: "other" })).toThrowError(
      expect.objectContaining({ code: "IDEMPOTENCY_CONFLICT" }),
    );
    // keys are per author
    expect(mem.write({ ...w, author: "token:other" }).created).toBe(true);
    expect(db.prepare("SELECT count(*) FROM memory_items").pluck().get()).toBe(2);
  });

  it("filters by kind, every tag, min confidence and since", () => {
    mem.write({
      ...base,
      kind: "observation",
      text: "sol spread widened",
      tags: ["sol", "spread"],
      confidence: 0.9,
    });
    clock.advance(60_000);
    mem.write({ ...base, kind: "note", text: "sol spread note", tags: ["sol"], confidence: 0.3 });
    const t = clock.now();
    const texts = (q: Parameters<MemoryStore["search"]>[0]) => mem.search(q).map((h) => h.text);
    expect(texts({ query: "sol spread", kind: "observation", limit: 5 })).toEqual(["sol spread widened"]);
    expect(texts({ query: "sol", tags: ["SOL", "spread"], limit: 5 })).toEqual(["sol spread widened"]);
    expect(texts({ query: "sol", minConfidence: 0.5, limit: 5 })).toEqual(["sol spread widened"]);
    expect(texts({ since: t, limit: 5 })).toEqual(["sol spread note"]);
  });

  it("without a query lists newest first", () => {
    mem.write({ ...base, kind: "note", text: "first" });
    clock.advance(1);
    mem.write({ ...base, kind: "note", text: "second" });
    expect(mem.search({ limit: 5 }).map((h) => h.text)).toEqual(["second", "first"]);
  });

  it("rejects out-of-range confidence and importance", () => {
    expect(() => mem.write({ ...base, kind: "note", text: "x", confidence: 1.5 })).toThrowError(/confidence/);
    expect(() => mem.write({ ...base, kind: "note", text: "x", importance: 0 })).toThrowError(/importance/);
  });
});
