import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { TwError } from "../../src/errors.js";
import { RagIndex } from "../../src/knowledge/rag.js";
import { parseQuery } from "../../src/knowledge/text.js";
import { openDb, type Db } from "../../src/store/db.js";

let db: Db;
let rag: RagIndex;
beforeAll(() => {
  db = openDb(":memory:");
  rag = new RagIndex(db, new SimClock(0));
  rag.indexDocument("a.md", '# Quotes\nHe said "near" the stop loss at 0.0001 and AND OR NOT.\n');
  rag.indexDocument("b.md", "# Tables\nDROP TABLE users; SELECT * FROM rag_chunks;\n");
});
afterAll(() => db.close());

describe("parseQuery", () => {
  it("quotes every term so FTS5 operators in user text are literal words", () => {
    expect(parseQuery('NEAR("x" y) col:z^ c*').map((t) => t.fts)).toEqual([
      '"NEAR"',
      '"x"',
      '"y"',
      '"col"',
      '"z"',
      '"c"',
    ]);
    expect(parseQuery("AND OR").map((t) => t.fts)).toEqual(['"AND OR"']);
  });
  it("keeps a trailing * as a prefix only on words of two or more characters", () => {
    expect(parseQuery("liquidat* x*").map((t) => t.fts)).toEqual(['"liquidat"*', '"x"']);
  });
  it("drops stop words; a query of stop words only becomes one exact phrase", () => {
    expect(parseQuery("how do I set the stop loss").map((t) => t.raw)).toEqual(["set", "stop", "loss"]);
    expect(parseQuery("to be or").map((t) => t.fts)).toEqual(['"to be or"']);
  });
  it("spaces CJK into a phrase of single characters", () => {
    expect(parseQuery("资金费率").map((t) => t.fts)).toEqual(['"资 金 费 率"']);
  });
  it("caps the number of terms for very long input", () => {
    const long = Array.from({ length: 5000 }, (_, i) => `w${i}`).join(" ");
    expect(parseQuery(long).length).toBe(24);
  });
});

describe("hostile queries never throw anything but a clear TwError", () => {
  const hostile = [
    '"',
    '""""',
    'stop" OR "1"="1',
    "NEAR(",
    "NEAR(stop loss, 2",
    "*",
    "**stop**",
    "stop*",
    "'; DROP TABLE rag_chunks; --",
    "SELECT * FROM rag_chunks",
    "title:stop",
    "^stop",
    "(((",
    "AND",
    "NOT",
    "x".repeat(100_000),
    "stop ".repeat(10_000),
    "\u0000\u0001",
    "🚀🚀",
  ];
  it.each(hostile.map((q) => [q.slice(0, 30), q]))("%s", (_label, q) => {
    try {
      const r = rag.search(q, 5);
      expect(Array.isArray(r.results)).toBe(true);
    } catch (e) {
      expect(e).toBeInstanceOf(TwError);
      expect((e as TwError).code).toBe("INVALID_INPUT");
    }
  });

  it("finds literal text that looks like SQL or FTS syntax", () => {
    expect(rag.search("DROP TABLE users", 5).results[0].path).toBe("b.md");
    expect(rag.search('"near"', 5).results[0].path).toBe("a.md");
    expect(rag.search("AND OR NOT", 5).results[0].path).toBe("a.md");
    expect(rag.search("and or", 5).results[0].path).toBe("a.md");
    expect(rag.search("or and", 5).results).toEqual([]);
  });

  it("a query made only of punctuation is INVALID_INPUT with a hint", () => {
    expect(() => rag.search('"*() :^', 5)).toThrowError(/no words/);
  });

  it("tables survive hostile queries", () => {
    rag.search("'; DROP TABLE rag_chunks; --", 5);
    expect(rag.stats().chunks).toBe(2);
  });
});
