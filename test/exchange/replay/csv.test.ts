import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candleTimeRange, parseCandleColumns, splitCsvRows } from "../../../src/exchange/replay/csv.js";

/** The reference: csv-parse with the options the loader uses. */
function reference(text: string): Array<{ line: number; cells: string[] }> {
  const raw = parse(text, {
    bom: true,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    info: true,
  }) as unknown as Array<{ info: { lines: number }; record: string[] }>;
  return raw.map((r) => ({ line: r.info.lines, cells: r.record }));
}

function dataFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? dataFiles(join(dir, e.name)) : /\.csv(\.gz)?$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe("the split-based CSV path reads exactly what csv-parse reads", () => {
  it("on every shipped data file (rows, cells and line numbers)", () => {
    const files = [...dataFiles("data/ohlcv"), ...dataFiles("data/funding")];
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const buf = readFileSync(f);
      const text = (f.endsWith(".gz") ? gunzipSync(buf) : buf).toString("utf8");
      const fast = splitCsvRows(text);
      expect(fast, f).not.toBeNull();
      expect(fast, f).toEqual(reference(text));
    }
  });

  it("on BOM, CRLF, blank lines, padded cells and ragged rows", () => {
    const cases = [
      "\uFEFFtime,open\n1,2\n",
      "time,open\r\n1,2\r\n\r\n3,4\r\n",
      "time , open\n\n 1 ,\t2\n\n\n3,4,5\n6",
      "a\n,\n,,\n",
    ];
    for (const text of cases) expect(splitCsvRows(text), JSON.stringify(text)).toEqual(reference(text));
  });

  it("on random unquoted text, or it defers to csv-parse", () => {
    const chars = fc.constantFrom("1", "a", ".", "-", ",", " ", "\t", "\n", "\r\n", "\r", '"', "\uFEFF");
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 60 }), (parts) => {
        const text = parts.join("");
        let ref: Array<{ line: number; cells: string[] }> | undefined;
        try {
          ref = reference(text);
        } catch {
          ref = undefined; // csv-parse refuses it; the fast path must then defer
        }
        const fast = splitCsvRows(text);
        if (fast !== null) expect(fast).toEqual(ref);
      }),
      { numRuns: 3000 },
    );
  });
});

/** Columns (or the error message) of a file, read through the byte path or, for CRLF text, the text path. */
function columnsOrError(file: string): unknown {
  try {
    const c = parseCandleColumns(file);
    return {
      ...c,
      time: [...c.time],
      open: [...c.open],
      high: [...c.high],
      low: [...c.low],
      close: [...c.close],
      volume: [...c.volume],
    };
  } catch (e) {
    return (e as Error).message;
  }
}

describe("candle columns read from the bytes equal those read from the split text", () => {
  it("on every shipped candle file, and with the same errors on random rows", () => {
    const dir = mkdtempSync(join(tmpdir(), "tw-bytes-"));
    try {
      mkdirSync(join(dir, "p"));
      mkdirSync(join(dir, "c"));
      const plain = join(dir, "p", "x.csv");
      const crlf = join(dir, "c", "x.csv"); // all-CRLF text takes the text path with the same rows and lines
      const same = (text: string) => {
        writeFileSync(plain, text);
        writeFileSync(crlf, text.replaceAll("\n", "\r\n"));
        expect(columnsOrError(plain), JSON.stringify(text)).toEqual(columnsOrError(crlf));
      };
      const files = dataFiles("data/ohlcv").filter((f) => !f.includes("funding"));
      expect(files.length).toBeGreaterThan(5);
      for (const f of files) {
        const buf = readFileSync(f);
        const text = (f.endsWith(".gz") ? gunzipSync(buf) : buf).toString("utf8");
        expect(text.includes('"') || text.includes("\r")).toBe(false);
        same(text);
        expect((columnsOrError(plain) as { length: number }).length).toBeGreaterThan(100);
      }
      const header = fc.constantFrom(
        "open_time_ms,open,high,low,close,volume",
        " time ,o,h,l,c,v,x",
        "t,open",
      );
      const cell = fc.constantFrom(
        "1",
        "2",
        "1700000000",
        "2024-01-01T00:00:00Z",
        "x",
        "",
        " 3 ",
        "\t4",
        "-1",
        "1e3",
      );
      const row = fc.array(cell, { maxLength: 8 }).map((cells) => cells.join(","));
      const blank = fc.constantFrom("", "  ", "\t");
      fc.assert(
        fc.property(
          fc.array(blank, { maxLength: 2 }),
          header,
          fc.array(fc.oneof(row, blank), { maxLength: 12 }),
          (pre, h, body) => {
            same([...pre, h, ...body].join("\n"));
          },
        ),
        { numRuns: 400 },
      );
      same("");
      same("\n\n");
      same("open_time_ms,open,high,low,close,volume\n60000,1,2,0.5,1.5,3\n120000,1.5,1.5,1.5,1.5,0\n\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("candleTimeRange (a replay server's start from first and last rows only)", () => {
  it("equals the first and last open time of the fully parsed file on every shipped candle file", () => {
    const files = dataFiles("data/ohlcv").filter((f) => !/funding/i.test(f));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const c = parseCandleColumns(f);
      expect(candleTimeRange(f), f).toEqual({ start: c.time[0], end: c.time[c.length - 1] });
    }
  });

  it("keeps ranges in a store keyed by path, size and mtime: a later process reads them back, an edited file is read again", () => {
    const dir = mkdtempSync(join(tmpdir(), "tw-range-"));
    try {
      const f = join(dir, "x.csv");
      writeFileSync(
        f,
        "open_time_ms,open,high,low,close,volume\n1700000000000,1,1,1,1,1\n1700000060000,1,1,1,1,1\n",
      );
      const kept = new Map<string, { start: number; end: number } | null>();
      const store = {
        get: (k: string) => kept.get(k),
        set: (k: string, r: { start: number; end: number } | null) => kept.set(k, r),
      };
      expect(candleTimeRange(f, store)).toEqual({ start: 1_700_000_000_000, end: 1_700_000_060_000 });
      expect([...kept.values()]).toEqual([{ start: 1_700_000_000_000, end: 1_700_000_060_000 }]);
      const [key] = kept.keys();
      kept.set(key, { start: 7, end: 8 }); // what a store hands back is used as is
      expect(candleTimeRange(f, store)).toEqual({ start: 7, end: 8 });
      writeFileSync(
        f,
        "open_time_ms,open,high,low,close,volume\n1700000000000,1,1,1,1,1\n1700000060000,1,1,1,1,1\n1700000120000,1,1,1,1,1\n",
      );
      expect(candleTimeRange(f, store)).toEqual({ start: 1_700_000_000_000, end: 1_700_000_120_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("skips blank lines, reads seconds and ISO dates, and answers null for a header-only file", () => {
    const dir = mkdtempSync(join(tmpdir(), "tw-range-"));
    try {
      const f = join(dir, "x.csv");
      writeFileSync(
        f,
        "\n\uFEFFdate,open,high,low,close,volume\n\n2024-01-01T00:00:00Z,1,1,1,1,1\n1704067260,1,1,1,1,1\n\n  \n",
      );
      expect(candleTimeRange(f)).toEqual({ start: Date.parse("2024-01-01T00:00:00Z"), end: 1704067260_000 });
      writeFileSync(f, "open_time_ms,open,high,low,close,volume\n");
      expect(candleTimeRange(f)).toBeNull();
      writeFileSync(f, "when,open,high,low,close,volume\n1,1,1,1,1,1\n");
      expect(() => candleTimeRange(f)).toThrow(/no time column/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
