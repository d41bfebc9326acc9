import { describe, expect, it } from "vitest";
import { chunkDocument, cleanHeading } from "../../src/knowledge/chunker.js";

const doc = [
  "# Guide", // 1
  "Intro line.", // 2
  "", // 3
  "## Risk", // 4
  "Limits apply.", // 5
  "```sh", // 6
  "# not a heading inside a fence", // 7
  "```", // 8
  "### Per order", // 9
  "Max notional 50000.", // 10
  "## Empty parent", // 11
  "### Child", // 12
  "Child text.", // 13
].join("\n");

describe("chunkDocument", () => {
  it("splits by heading, keeps heading paths and 1-based inclusive line ranges", () => {
    const c = chunkDocument(doc, true);
    expect(c.map((x) => [x.heading, x.lineStart, x.lineEnd])).toEqual([
      ["Guide", 1, 3],
      ["Guide > Risk", 4, 8],
      ["Guide > Risk > Per order", 9, 10],
      ["Guide > Empty parent > Child", 12, 13],
    ]);
    expect(c[1].text).toContain("# not a heading inside a fence");
  });

  it("text of a chunk is exactly its cited lines", () => {
    const lines = doc.split("\n");
    for (const x of chunkDocument(doc, true)) {
      expect(x.text).toBe(lines.slice(x.lineStart - 1, x.lineEnd).join("\n"));
    }
  });

  it("bounds chunk size and overlaps consecutive windows of a long section", () => {
    const body = Array.from({ length: 60 }, (_, i) => `line ${i + 1} ${"x".repeat(40)}`);
    const c = chunkDocument(["# Long", ...body].join("\n"), true, { maxChars: 500, overlapChars: 100 });
    expect(c.length).toBeGreaterThan(5);
    for (const x of c) expect(x.text.length).toBeLessThanOrEqual(500);
    for (let i = 1; i < c.length; i++) {
      expect(c[i].lineStart).toBeLessThanOrEqual(c[i - 1].lineEnd); // overlap
      expect(c[i].lineStart).toBeGreaterThan(c[i - 1].lineStart); // progress
    }
    expect(c[c.length - 1].lineEnd).toBe(61);
  });

  it("cuts a single over-long line into bounded pieces that all cite that line", () => {
    const c = chunkDocument(`# T\nshort\n${"y".repeat(2500)}\nend`, true, {
      maxChars: 1000,
      overlapChars: 100,
    });
    const pieces = c.filter((x) => x.lineStart === 3 && x.lineEnd === 3);
    expect(pieces.length).toBe(3);
    for (const x of c) expect(x.text.length).toBeLessThanOrEqual(1000);
    expect(pieces.map((p) => p.text.length).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2500);
  });

  it("treats plain text as one headless section", () => {
    const c = chunkDocument("# not markdown here\nsecond", false);
    expect(c).toEqual([{ heading: "", lineStart: 1, lineEnd: 2, text: "# not markdown here\nsecond" }]);
  });

  it("recognises setext headings and strips markdown from heading text", () => {
    const c = chunkDocument("Title\n=====\nbody\n## **risk\\_to\\_qty** [docs](x)\nmore", true);
    expect(c.map((x) => x.heading)).toEqual(["Title", "Title > risk_to_qty docs"]);
    expect(cleanHeading("`code` and <b>bold</b>")).toBe("code and bold");
  });
});
