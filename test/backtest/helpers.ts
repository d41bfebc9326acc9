import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

/**
 * Independent reading of the shipped CSV files (data/) for expected values: plain gunzip + split, no project
 * code, so expectations never come from the code under test.
 */
export interface Rows {
  time: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
}

/** Parses `open_time_ms,open,high,low,close,volume` rows. */
export function readCsv(path: string): Rows {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").trim().split("\n").slice(1);
  const r: Rows = { time: [], open: [], high: [], low: [], close: [] };
  for (const line of lines) {
    const [t, o, h, l, c] = line.split(",").map(Number);
    r.time.push(t);
    r.open.push(o);
    r.high.push(h);
    r.low.push(l);
    r.close.push(c);
  }
  return r;
}

/** Parses `funding_time_ms,funding_rate` rows. */
export function readFunding(path: string): Array<{ time: number; rate: number }> {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").trim().split("\n").slice(1);
  return lines.map((l) => {
    const [t, r] = l.split(",").map(Number);
    return { time: t, rate: r };
  });
}

/** |a − b| ≤ tol × max(|b|, 1). */
export function relClose(a: number, b: number, tol = 1e-9): boolean {
  return Math.abs(a - b) <= tol * Math.max(Math.abs(b), 1);
}
