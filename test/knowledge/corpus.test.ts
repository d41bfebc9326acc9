import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { RagIndex } from "../../src/knowledge/rag.js";
import { openDb, type Db } from "../../src/store/db.js";
import { DATA } from "../helpers/app.js";

/**
 * Judged queries over the real shipped corpus (data/knowledge). Each expected file was chosen
 * by reading the corpus (grep counts and headings), not from the engine's output; where two files are
 * equally about the query both are listed.
 */
const CORPUS = join(DATA, "knowledge");
const JUDGED: Array<[query: string, relevant: string[]]> = [
  ["funding rate", ["jesse-docs/strategies_api.md"]],
  ["Monte Carlo trade order shuffling", ["jesse-docs/monte-carlo_trade-order-shuffling.md"]],
  ["szDecimals", ["nktkas-hyperliquid-docs/utilities.md"]],
  ["rate limit", ["ccxt/README.md"]],
  ["overfitting", ["jesse-docs/optimize_overfitting.md"]],
  ["agent wallet", ["nktkas-hyperliquid-docs/guides_agent-wallets-and-vaults.md"]],
  ["risk_to_qty", ["jesse-docs/utils.md"]],
  [
    "stop loss take profit",
    ["jesse-docs/strategies_entering-and-exiting.md", "jesse-docs/strategies_events.md"],
  ],
  ["sharpe ratio", ["jesse-docs/backtest_results.md"]],
  ["bootstrap", ["jesse-docs/research_rule-significance-testing_bootstrap.md"]],
  ["tree shaking", ["nktkas-hyperliquid-docs/guides_tree-shaking.md"]],
  ["websocket transport", ["nktkas-hyperliquid-docs/transports.md"]],
  ["hyperparameters", ["jesse-docs/optimize_hyperparameters.md"]],
  ["candle pipelines", ["jesse-docs/monte-carlo_candle-pipelines.md"]],
  ["cointegrated", ["jesse-docs/utils.md"]],
  ["nonce", ["nktkas-hyperliquid-docs/signing.md"]],
  ["ApiRequestError", ["nktkas-hyperliquid-docs/error-handling.md"]],
  ["fetchOHLCV", ["ccxt/README.md"]],
  ["p-value", ["jesse-docs/research_rule-significance-testing_interpreting-results.md"]],
  ["sortino", ["jesse-docs/backtest_results.md"]],
  ["futures vs spot leverage", ["jesse-docs/strategies_futures-vs-spot.md"]],
  ["routes timeframe", ["jesse-docs/routes.md"]],
  ["market order slippage", ["nktkas-hyperliquid-docs/guides_market-orders.md"]],
  ["live trading", ["jesse-docs/livetrade.md"]],
  ["benchmark", ["jesse-docs/backtest_benchmark.md"]],
  ["exchange limitations", ["jesse-docs/supported-exchanges_exchange-limitations.md"]],
  ["kelly criterion", ["jesse-docs/utils.md"]],
];

let db: Db;
let rag: RagIndex;
beforeAll(() => {
  db = openDb(":memory:");
  rag = new RagIndex(db, new SimClock(0));
  rag.reindex(CORPUS);
});
afterAll(() => db.close());

const lines = new Map<string, string[]>();
function fileLines(path: string): string[] {
  if (!lines.has(path)) lines.set(path, readFileSync(join(CORPUS, path), "utf8").split(/\r?\n/));
  return lines.get(path) as string[];
}

describe("rag_search on the shipped corpus", () => {
  it.each(JUDGED)("%s: a relevant file is in the top 3", (query, relevant) => {
    const top3 = rag.search(query, 3).results.map((h) => h.path);
    expect(top3.some((p) => relevant.includes(p))).toBe(true);
  });

  it("has at least 20 judged queries and they all hit", () => {
    const hits = JUDGED.filter(([q, rel]) => rag.search(q, 3).results.some((h) => rel.includes(h.path)));
    expect(JUDGED.length).toBeGreaterThanOrEqual(20);
    expect(hits.length).toBe(JUDGED.length);
  });

  it("citations contain the matched words: all-word hits cite lines holding them, title hits name them in path or heading", () => {
    // Compare without separators, so "risk_to_qty", "stop-loss" and "tree shaking" all count.
    const squash = (x: string) => x.toLowerCase().replace(/[\\_\-\s]+/g, "");
    for (const [query] of JUDGED) {
      const words = query
        .toLowerCase()
        .split(/[\s-]+/)
        .filter((w) => w !== "vs")
        .map((w) => squash(w).replace(/s$/, ""));
      for (const h of rag.search(query, 5).results.filter((x) => x.matched !== "some")) {
        const where = `${query} → ${h.path}:${h.line_start}-${h.line_end}`;
        const cited = squash(
          fileLines(h.path)
            .slice(h.line_start - 1, h.line_end)
            .join("\n"),
        );
        const context = squash(`${h.heading} ${h.path}`);
        for (const w of words) expect(cited.includes(w) || context.includes(w), where).toBe(true);
        if (h.matched === "all")
          expect(
            words.some((w) => cited.includes(w)),
            where,
          ).toBe(true);
        else
          expect(
            words.every((w) => context.includes(w)),
            where,
          ).toBe(true);
        expect(h.match_line).toBeGreaterThanOrEqual(h.line_start);
        expect(h.match_line).toBeLessThanOrEqual(h.line_end);
      }
    }
  });

  it("line ranges are 1-based, inclusive and inside the file; snippets are bounded", () => {
    const r = rag.search("monte carlo", 20).results;
    expect(r.length).toBe(20);
    for (const h of r) {
      expect(h.line_start).toBeGreaterThanOrEqual(1);
      expect(h.line_end).toBeGreaterThanOrEqual(h.line_start);
      expect(h.line_end).toBeLessThanOrEqual(fileLines(h.path).length);
      expect(h.snippet.length).toBeLessThanOrEqual(282);
      const text = fileLines(h.path)
        .slice(h.line_start - 1, h.line_end)
        .join(" ")
        .toLowerCase();
      if (text.includes("monte")) expect(h.snippet.toLowerCase()).toContain("monte");
    }
  });

  it("the first line of a file's first chunk is its title line", () => {
    const h = rag
      .search("Monte Carlo Analysis", 10)
      .results.find((x) => x.path === "jesse-docs/monte-carlo_index.md");
    expect(h).toBeDefined();
    const first = rag.search("powerful way to test how robust", 1).results[0];
    expect(first.path).toBe("jesse-docs/monte-carlo_index.md");
    expect(first.line_start).toBe(1);
    expect(fileLines(first.path)[0]).toBe("# Monte Carlo Analysis");
  });
});
