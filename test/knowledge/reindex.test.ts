import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { RagIndex } from "../../src/knowledge/rag.js";
import { openDb, type Db } from "../../src/store/db.js";

let dir: string;
let db: Db;
let rag: RagIndex;
const chunkIds = (path: string) =>
  db.prepare("SELECT id FROM rag_chunks WHERE path = ? ORDER BY ord").pluck().all(path) as number[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tw-kn-"));
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "alpha.md"), "# Alpha\nThe basis trade uses funding.\n");
  writeFileSync(join(dir, "sub", "beta.md"), "# Beta\nSlippage grows with size.\n");
  writeFileSync(join(dir, "notes.txt"), "plain text about vaults\n");
  writeFileSync(join(dir, "image.png"), "not indexed");
  db = openDb(":memory:");
  rag = new RagIndex(db, new SimClock(1_000));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("incremental reindex", () => {
  it("indexes .md and .txt files with paths relative to the knowledge dir", () => {
    const r = rag.reindex(dir);
    expect(r.files_seen).toBe(3);
    expect(r.files_indexed).toBe(3);
    expect(rag.search("slippage", 5).results[0].path).toBe("sub/beta.md");
    expect(rag.search("vaults", 5).results[0].path).toBe("notes.txt");
  });

  it("unchanged files are not re-chunked: chunk ids stay the same", () => {
    rag.reindex(dir);
    const before = chunkIds("alpha.md");
    const r = rag.reindex(dir);
    expect(r.files_unchanged).toBe(3);
    expect(r.files_indexed).toBe(0);
    expect(r.chunks_added).toBe(0);
    expect(chunkIds("alpha.md")).toEqual(before);
  });

  it("editing a file changes its chunks and its search results", () => {
    rag.reindex(dir);
    const betaBefore = chunkIds("sub/beta.md");
    writeFileSync(
      join(dir, "alpha.md"),
      "# Alpha\nNow about liquidation cascades.\n\n## More\nSecond section.\n",
    );
    const r = rag.reindex(dir);
    expect(r.files_indexed).toBe(1);
    expect(r.files_unchanged).toBe(2);
    expect(r.chunks_removed).toBe(1);
    expect(r.chunks_added).toBe(2);
    expect(rag.search("basis trade", 5).results).toEqual([]);
    expect(rag.search("liquidation cascades", 5).results[0].path).toBe("alpha.md");
    expect(chunkIds("sub/beta.md")).toEqual(betaBefore);
  });

  it("deleting a file removes its chunks from the index", () => {
    rag.reindex(dir);
    unlinkSync(join(dir, "sub", "beta.md"));
    const r = rag.reindex(dir);
    expect(r.files_removed).toBe(1);
    expect(r.chunks_removed).toBe(1);
    expect(chunkIds("sub/beta.md")).toEqual([]);
    const res = rag.search("slippage", 5);
    expect(res.results).toEqual([]);
    expect(res.message).toMatch(/No matches/);
  });

  it("an empty index says so and suggests reindexing", () => {
    const r = rag.search("funding", 5);
    expect(r.results).toEqual([]);
    expect(r.indexed_chunks).toBe(0);
    expect(r.message).toMatch(/rag_reindex/);
  });

  it("a missing directory is CONFIG_INVALID and leaves the index untouched", () => {
    rag.reindex(dir);
    expect(() => rag.reindex(join(dir, "nope"))).toThrowError(/does not exist/);
    expect(rag.stats().files).toBe(3);
  });

  it("a cancelled reindex stops with CANCELLED and keeps files already done", () => {
    const ac = new AbortController();
    expect(() =>
      rag.reindex(dir, {
        signal: ac.signal,
        onFile: (done) => {
          if (done === 1) ac.abort();
        },
      }),
    ).toThrowError(/cancelled/);
    expect(rag.stats().files).toBe(1);
  });
});

describe("tokenizer", () => {
  it("finds CJK words inside unspaced sentences, and not characters out of order", () => {
    writeFileSync(
      join(dir, "zh.md"),
      "# 术语\n永续合约的资金费率每八小时结算一次。\n\n## 风险\n最大回撤达到百分之三时暂停交易。\n",
    );
    rag.reindex(dir);
    const hit = rag.search("资金费率", 5).results[0];
    expect(hit.path).toBe("zh.md");
    expect(hit.heading).toBe("术语");
    expect(hit.snippet).toContain("资金费率");
    expect(rag.search("最大回撤", 5).results[0].heading).toBe("术语 > 风险");
    expect(rag.search("率费金资", 5).results).toEqual([]);
  });

  it("matches identifiers whole, by their parts, and numbers with dots exactly", () => {
    writeFileSync(
      join(dir, "ids.md"),
      "# Ids\nCall risk_to_qty with szDecimals set; fee 0.00045 per fill.\n",
    );
    rag.reindex(dir);
    for (const q of ["risk_to_qty", "szDecimals", "sz decimals", "risk qty", "0.00045", "szdec*"]) {
      expect(rag.search(q, 5).results[0]?.path, q).toBe("ids.md");
    }
    expect(rag.search("0.00046", 5).results).toEqual([]);
  });
});
