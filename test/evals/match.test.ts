// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings test the harness's own ${var} syntax
import { describe, expect, it } from "vitest";
import { deepEqual, jsonPathProblems, subsetProblems, substitute } from "../../src/evals/match.js";

const doc = {
  metrics: { total_return: 0.0086565, sharpe: 1.2 },
  positions: [
    { symbol: "BTC", size: "0.01", entry_px: "104580.5" },
    { symbol: "ETH", size: "-0.5", entry_px: "2500" },
  ],
  tags: ["eval", "funding"],
  message: 'Invalid arguments: unknown argument "verbose".',
};

describe("JSON subset matching", () => {
  it("accepts a subset with extra keys and extra array elements in the actual value", () => {
    expect(subsetProblems(doc, { metrics: { sharpe: 1.2 }, positions: [{ symbol: "BTC" }] })).toEqual([]);
  });
  it("names the JSON path of every mismatch and missing key", () => {
    const p = subsetProblems(doc, { metrics: { sharpe: 2 }, positions: [{}, { symbol: "SOL" }], nope: 1 });
    expect(p).toEqual([
      "$.metrics.sharpe: expected 2, got 1.2",
      '$.positions[1].symbol: expected "SOL", got "ETH"',
      "$.nope: missing (expected 1)",
    ]);
  });
  it("treats an object where an array is expected as a mismatch", () => {
    expect(subsetProblems({ a: { 0: 1 } }, { a: [1] })).toEqual(['$.a: expected an array, got {"0":1}']);
  });
});

describe("JSONPath assertions", () => {
  it("compares numbers exactly without a tolerance", () => {
    expect(jsonPathProblems(doc, { path: "$.metrics.total_return", equals: 0.0086565 })).toEqual([]);
    expect(jsonPathProblems(doc, { path: "$.metrics.total_return", equals: 0.0086566 })).toHaveLength(1);
  });
  it("accepts a value within the absolute tolerance and refuses one just outside it", () => {
    expect(
      jsonPathProblems(doc, { path: "$.metrics.total_return", equals: 0.0086574, tolerance: 0.000001 }),
    ).toEqual([]);
    expect(
      jsonPathProblems(doc, { path: "$.metrics.total_return", equals: 0.0086577, tolerance: 0.000001 }),
    ).toHaveLength(1);
  });
  it("applies the relative tolerance to |expected| and reads decimal strings as numbers", () => {
    // 104580.5 vs 104570 differs by 1.0e-4 relative.
    expect(
      jsonPathProblems(doc, { path: "$.positions[0].entry_px", equals: 104570, rel_tolerance: 0.0002 }),
    ).toEqual([]);
    expect(
      jsonPathProblems(doc, { path: "$.positions[0].entry_px", equals: 104570, rel_tolerance: 0.00005 }),
    ).toHaveLength(1);
  });
  it("checks bounds, counts, existence and containment, with filters", () => {
    expect(
      jsonPathProblems(doc, { path: "$.positions[?(@.symbol == 'ETH')].size", lt: 0, gte: -0.5 }),
    ).toEqual([]);
    expect(jsonPathProblems(doc, { path: "$.positions[*]", count: 2 })).toEqual([]);
    expect(jsonPathProblems(doc, { path: "$.positions[*]", count: 3 })).toEqual([
      "$.positions[*]: expected 3 match(es), got 2",
    ]);
    expect(jsonPathProblems(doc, { path: "$.positions[?(@.symbol == 'SOL')]", exists: false })).toEqual([]);
    expect(jsonPathProblems(doc, { path: "$.tags", contains: "funding" })).toEqual([]);
    expect(jsonPathProblems(doc, { path: "$.message", contains: "verbose" })).toEqual([]);
    expect(jsonPathProblems(doc, { path: "$.message", contains: "limit" })).toHaveLength(1);
  });
  it("reports a value assertion on a path that matches nothing", () => {
    expect(jsonPathProblems(doc, { path: "$.metrics.sortino", gt: 0 })).toEqual([
      "$.metrics.sortino: no match",
    ]);
  });
  it("a bound on a non-numeric value fails instead of passing", () => {
    expect(jsonPathProblems(doc, { path: "$.message", gte: 0 })).toHaveLength(1);
  });
});

describe("deep equality", () => {
  it("does not equate a number with a non-numeric string", () => {
    expect(deepEqual("abc", 1)).toBe(false);
    expect(deepEqual("1.5", 1.5)).toBe(true);
    expect(deepEqual({ a: [1, 2] }, { a: [1, 2, 3] })).toBe(false);
  });
});

describe("variable substitution", () => {
  const vars = { intent: "int_42", id: 7, env: { HL_PRIVATE_KEY: "0xabc" } };
  it("keeps the type of a whole-string reference and interpolates partial ones", () => {
    expect(
      substitute({ intent_id: "${intent}", id: "${id}", q: "id=${id} ${env.HL_PRIVATE_KEY}" }, vars),
    ).toEqual({
      intent_id: "int_42",
      id: 7,
      q: "id=7 0xabc",
    });
  });
  it("refuses an unknown variable with its name", () => {
    expect(() => substitute(["${nope}"], vars)).toThrow(/unknown variable \$\{nope\}/);
  });
  it("leaves JSONPath dollars alone", () => {
    expect(substitute("$.items[?(@.id == ${id})]", vars)).toBe("$.items[?(@.id == 7)]");
  });
});
