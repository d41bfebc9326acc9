import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { cosine, type EmbeddingsProvider, rrfFuse } from "../../src/knowledge/embeddings.js";
import { testApp } from "../helpers/app.js";

/**
 * Deterministic local stand-in for an embeddings endpoint: each vector dimension is a "concept" and a
 * text scores 1 on a concept for each of its trigger words. Only used to exercise the fusion path.
 */
class StubEmbeddings implements EmbeddingsProvider {
  readonly model = "stub-concepts-v1";
  calls = 0;
  texts = 0;
  fail = false;
  private readonly concepts = [
    ["liquidation", "forced", "collateral", "margin"],
    ["funding", "longs", "shorts"],
    ["latency", "slow", "timeout"],
  ];
  async embed(texts: string[]): Promise<number[][]> {
    this.calls++;
    this.texts += texts.length;
    if (this.fail) throw new Error("stub down");
    return texts.map((t) => {
      const words = t.toLowerCase().split(/[^a-z]+/);
      return this.concepts.map((c) => words.filter((w) => c.includes(w)).length);
    });
  }
}

describe("rrfFuse", () => {
  it("adds 1/(60 + rank) over lists and sorts by the sum", () => {
    const f = rrfFuse([
      [1, 2, 3],
      [3, 4],
    ]);
    expect(f.map((x) => x.id)).toEqual([3, 1, 2, 4]);
    expect(f[0].score).toBeCloseTo(1 / 63 + 1 / 61, 12);
    expect(f[1].score).toBeCloseTo(1 / 61, 12);
  });
  it("cosine of orthogonal vectors is 0 and of parallel ones 1", () => {
    expect(cosine([1, 0], [0, 3])).toBe(0);
    expect(cosine([1, 2], [2, 4])).toBeCloseTo(1, 12);
    expect(cosine([0, 0], [1, 1])).toBe(0);
  });
});

describe("hybrid rag_search with a stub provider", () => {
  let dir: string;
  let app: App;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tw-emb-"));
    writeFileSync(join(dir, "a.md"), "# Margin\nPositions are forced closed when collateral runs out.\n");
    writeFileSync(join(dir, "b.md"), "# Funding\nPayments between longs and shorts every hour.\n");
    writeFileSync(join(dir, "c.md"), "# Ops\nA slow venue answer ends in a timeout.\n");
    ({ app, cleanup } = await testApp({ TW_KNOWLEDGE_DIR: dir }));
  });
  afterEach(async () => {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("bm25 alone finds nothing for a synonym; hybrid finds it by meaning", async () => {
    expect((await app.knowledge.search("liquidation", 5)).results).toEqual([]);
    const stub = new StubEmbeddings();
    app.knowledge.useEmbeddings(stub);
    const r = await app.knowledge.reindex();
    expect(r.embedded).toBe(3);
    const h = await app.knowledge.search("liquidation", 5);
    expect(h.results[0].path).toBe("a.md");
    expect(h.results[0].matched).toBe("semantic");
  });

  it("a lexical hit that is also the nearest vector ranks first with the fused score", async () => {
    app.knowledge.useEmbeddings(new StubEmbeddings());
    await app.knowledge.reindex();
    const h = await app.knowledge.search("funding longs", 5);
    expect(h.results[0].path).toBe("b.md");
    expect(h.results[0].matched).toBe("all");
    expect(h.results[0].score).toBeCloseTo(2 / 61, 6);
  });

  it("only new chunks are embedded on the next reindex", async () => {
    const stub = new StubEmbeddings();
    app.knowledge.useEmbeddings(stub);
    await app.knowledge.reindex();
    writeFileSync(join(dir, "d.md"), "# New\nmargin call\n");
    const r = await app.knowledge.reindex();
    expect(r.embedded).toBe(1);
    expect(stub.texts).toBe(4);
  });

  it("a failing provider falls back to bm25 results with a note", async () => {
    const stub = new StubEmbeddings();
    app.knowledge.useEmbeddings(stub);
    await app.knowledge.reindex();
    stub.fail = true;
    const h = await app.knowledge.search("timeout", 5);
    expect(h.results[0].path).toBe("c.md");
    expect(h.results[0].matched).toBe("all");
    expect(h.message).toMatch(/bm25 only/);
  });
});
