import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type CandleColumns,
  loadCandleColumns,
  loadCandleWindow,
  parseCandleColumns,
} from "../../../src/exchange/replay/csv.js";

const HEADER = "open_time_ms,open,high,low,close,volume";
const T0 = 1_700_000_040_000; // a minute boundary, ms UTC

const tmp = mkdtempSync(join(tmpdir(), "tw-window-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function candleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? candleFiles(join(dir, e.name))
      : /_\d+[mhd]\.csv(\.gz)?$/.test(e.name)
        ? [join(dir, e.name)]
        : [],
  );
}

/** Rows of columns as plain objects, for comparisons. */
function rowsOf(c: CandleColumns, from = 0, to = c.length): unknown[] {
  const out: unknown[] = [];
  for (let i = from; i < to; i++)
    out.push([c.time[i], c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]]);
  return out;
}

/**
 * What a window must hold, computed row by row from the whole file: the rows with time in
 * [from, to], the last row before `from` and the first row after `to`.
 */
function expected(c: CandleColumns, from: number, to: number) {
  const keep: number[] = [];
  let before = -1;
  let after = -1;
  for (let i = 0; i < c.length; i++) {
    if (c.time[i] < from) before = i;
    else if (c.time[i] <= to) keep.push(i);
    else if (after < 0) after = i;
  }
  const idx = [...(before >= 0 ? [before] : []), ...keep, ...(after >= 0 ? [after] : [])];
  const a = idx.length > 0 ? idx[0] : 0;
  const b = idx.length > 0 ? idx[idx.length - 1] + 1 : 0;
  return { rows: rowsOf(c, a, b), fromStart: a === 0, toEnd: b === c.length };
}

/** A plain CSV of `n` one-minute rows from T0 (row i: every price 100 + i, volume i). */
function minuteFile(name: string, n: number, edit?: (i: number, line: string) => string): string {
  const lines = [HEADER];
  for (let i = 0; i < n; i++) {
    const p = 100 + i;
    const line = `${T0 + i * 60_000},${p},${p},${p},${p},${i}`;
    lines.push(edit ? edit(i, line) : line);
  }
  const f = join(tmp, name);
  writeFileSync(f, `${lines.join("\n")}\n`);
  return f;
}

describe("loadCandleWindow (a replay parses only the rows around its window)", () => {
  it("holds exactly the whole parse's rows in and next to the window, on every shipped candle file and random windows", () => {
    const files = candleFiles("data/ohlcv");
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const whole = parseCandleColumns(f);
      const first = whole.time[0];
      const last = whole.time[whole.length - 1];
      const span = last - first;
      const windows: Array<[number, number]> = [
        [first, last],
        [first - 86_400_000, first + 3_600_000],
        [last - 3_600_000, last + 86_400_000],
        [last + 1, last + 2],
        [first - 2, first - 1],
      ];
      fc.assert(
        fc.property(
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 0.2, noNaN: true }),
          (a, w) => {
            windows.push([first + Math.floor(a * span), first + Math.floor((a + w) * span)]);
          },
        ),
        { numRuns: 6 },
      );
      for (const [from, to] of windows) {
        const got = loadCandleWindow(f, from, to, 2000);
        const want = expected(whole, from, to);
        expect(rowsOf(got.cols), `${f} [${from}, ${to}]`).toEqual(want.rows);
        expect({ fromStart: got.fromStart, toEnd: got.toEnd }).toEqual({
          fromStart: want.fromStart,
          toEnd: want.toEnd,
        });
        expect(rowsOf(got.head)).toEqual(rowsOf(whole, 0, Math.min(2000, whole.length)));
      }
    }
  });

  it("cuts the same window from a file already loaded whole", () => {
    const f = join(tmp, "BTCUSDT_1m.csv.gz");
    const [src] = candleFiles("data/ohlcv").filter((x) => x.endsWith("BTCUSDT_1m.csv.gz"));
    copyFileSync(src, f);
    const from = Date.UTC(2025, 5, 3, 7, 30);
    const to = Date.UTC(2025, 5, 4);
    const parsed = loadCandleWindow(f, from, to, 50);
    const whole = loadCandleColumns(f);
    const cut = loadCandleWindow(f, from, to, 50);
    expect(rowsOf(cut.cols)).toEqual(rowsOf(parsed.cols));
    expect(rowsOf(cut.head)).toEqual(rowsOf(whole, 0, 50));
    expect(cut.cols.length).toBe(Math.round((to - from) / 60_000) + 3);
  });

  it("fails on a malformed row inside the window with the whole parse's error (file and line)", () => {
    const f = minuteFile("bad_in.csv", 5000, (i, l) => (i === 3000 ? l.replace(/,3100,/, ",x,") : l));
    const whole = (() => {
      try {
        parseCandleColumns(f);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(whole).toBe('bad_in.csv:3002: open "x" is not a number');
    expect(() => loadCandleWindow(f, T0 + 2900 * 60_000, T0 + 3100 * 60_000, 10)).toThrow(whole as string);
  });

  it("does not read a malformed row outside the window and the first rows (the documented decision)", () => {
    const f = minuteFile("bad_out.csv", 5000, (i, l) => (i === 1000 ? l.replace(/,1100,/, ",x,") : l));
    expect(() => parseCandleColumns(f)).toThrow(/bad_out\.csv:1002: open "x"/);
    const w = loadCandleWindow(f, T0 + 4000 * 60_000, T0 + 4100 * 60_000, 10);
    expect(w.cols.time[0]).toBe(T0 + 3999 * 60_000);
    expect(w.cols.length).toBe(103);
    expect(w.head.close[9]).toBe(109);
  });

  it("parses the whole file, with its error, when a time the search reads is unreadable", () => {
    const f = minuteFile("bad_time.csv", 5000, (i, l) =>
      i >= 1000 && i < 4000 ? l.replace(/^\d+/, "soon") : l,
    );
    expect(() => loadCandleWindow(f, T0 + 4500 * 60_000, T0 + 4600 * 60_000, 10)).toThrow(
      'bad_time.csv:1002: time "soon" is neither epoch ms nor a zoned ISO-8601 date',
    );
  });

  it("checks order inside the window as the whole parse does", () => {
    const f = minuteFile("order.csv", 3000, (i, l) => (i === 2000 ? l.replace(/^\d+/, String(T0)) : l));
    expect(() => loadCandleWindow(f, T0 + 1990 * 60_000, T0 + 2010 * 60_000, 10)).toThrow(
      /order\.csv:2002: time 1700000040000 is not after the previous row's/,
    );
  });
});
