import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, resolve as resolvePath } from "node:path";
import { gunzipSync } from "node:zlib";
import { isAscii } from "node:buffer";
import type * as CsvParseSync from "csv-parse/sync";
import { TwError } from "../../errors.js";
import type { Candle, FundingPoint } from "../types.js";

/**
 * CSV / CSV.gz loaders for historical candles and funding (format of data/README.md §1,
 * plus the common freqtrade/ccxt header variants). Shared by the replay source, the candle store
 * import and the backtester.
 *
 * Accepted headers (case-insensitive, any column order, extra columns ignored):
 * - time: `open_time_ms` | `open_time` | `timestamp` | `time` | `date` | `datetime` | `ts` | `t`
 * - prices: `open|o`, `high|h`, `low|l`, `close|c`; volume: `volume|vol|v` (base coins)
 * - funding: time as above or `funding_time_ms` | `funding_time` | `fundingTime`; rate
 *   `funding_rate` | `fundingRate` | `rate` | `open` (freqtrade stores the rate in `open`).
 *
 * Time values: integer epoch ms; integers below 10^11 are epoch SECONDS (ccxt/pandas exports) and are
 * multiplied by 1000; anything else must be an ISO-8601 date with a zone (freqtrade `date`).
 * Rows must be strictly increasing in time. Every problem throws TwError INVALID_INPUT whose message
 * starts with `<file>:<line>:` and whose details hold `{ file, line }`.
 */

/** Candles in columns (one typed array per field, same length, time ascending). */
export interface CandleColumns {
  /** Open times, ms UTC. */
  time: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  /** Base-asset volume, coins. */
  volume: Float64Array;
  length: number;
}

const TIME_NAMES = ["open_time_ms", "open_time", "timestamp", "time", "date", "datetime", "ts", "t"];
const FUNDING_TIME_NAMES = ["funding_time_ms", "funding_time", "fundingtime", ...TIME_NAMES];
const OHLCV_NAMES: Record<"open" | "high" | "low" | "close" | "volume", string[]> = {
  open: ["open", "o"],
  high: ["high", "h"],
  low: ["low", "l"],
  close: ["close", "c"],
  volume: ["volume", "vol", "v"],
};
const RATE_NAMES = ["funding_rate", "fundingrate", "rate", "open"];

function fail(file: string, line: number, msg: string): never {
  throw new TwError("INVALID_INPUT", `${basename(file)}:${line}: ${msg}`, {
    hint: "Fix or remove the file; see docs/market-data.md for the accepted CSV formats.",
    details: { file, line },
  });
}

/** Reads a file's bytes, gunzipping `.gz`. @throws TwError INVALID_INPUT (line 0) when unreadable. */
function readBytes(file: string): Buffer {
  try {
    const buf = readFileSync(file);
    return file.endsWith(".gz") ? gunzipSync(buf) : buf;
  } catch (e) {
    return fail(file, 0, `cannot read (${(e as Error).message})`);
  }
}

/**
 * Gunzipped bytes of files read lately, by the column cache's key, held weakly: the replay command
 * reads each file's last row for its range and then its window (issue 15: one gunzip, not two); the
 * collector may drop them at any time, and then they are read again.
 */
const BYTES = new Map<string, WeakRef<Buffer>>();

/** {@link readBytes} through {@link BYTES}. */
function keptBytes(file: string, key: string): Buffer {
  const kept = BYTES.get(key)?.deref();
  if (kept) return kept;
  const buf = readBytes(file);
  BYTES.set(key, new WeakRef(buf));
  return buf;
}

/** Reads a file as text, gunzipping `.gz`. @throws TwError INVALID_INPUT (line 0) when unreadable. */
function readText(file: string): string {
  return readBytes(file).toString("utf8");
}

/**
 * True when the bytes can be read line by line without decoding the whole text: ASCII only (no BOM,
 * no multi-byte character), no quote and no CR. What {@link splitCsvRows} reads of such text is
 * exactly its `\n`-separated lines cut at commas, which {@link lineCells} finds in the bytes.
 */
function plainBytes(buf: Buffer): boolean {
  return isAscii(buf) && buf.indexOf(0x22) < 0 && buf.indexOf(0x0d) < 0;
}

/**
 * The cells of the line `buf[start, end)` of plain bytes ({@link plainBytes}): `commas` is filled with
 * the comma positions and the returned function gives cell `k` trimmed (as {@link splitCsvRows} trims
 * it), or undefined past the last cell. Only the cells asked for become strings.
 */
function lineCells(
  buf: Buffer,
  start: number,
  end: number,
  commas: number[],
): (k: number) => string | undefined {
  commas.length = 0;
  for (let p = buf.indexOf(0x2c, start); p >= 0 && p < end; p = buf.indexOf(0x2c, p + 1)) commas.push(p);
  return (k) => {
    if (k > commas.length) return undefined;
    let a = k === 0 ? start : commas[k - 1] + 1;
    let b = k === commas.length ? end : commas[k];
    while (a < b && (buf[a] === 32 || buf[a] === 9)) a++;
    while (b > a && (buf[b - 1] === 32 || buf[b - 1] === 9)) b--;
    return buf.toString("latin1", a, b);
  };
}

/** True when the line `buf[start, end)` is one empty cell after trimming (splitCsvRows skips it). */
function blankLine(buf: Buffer, start: number, end: number): boolean {
  for (let p = start; p < end; p++) if (buf[p] !== 32 && buf[p] !== 9) return false;
  return true;
}

/**
 * Rows of a CSV without quotes by plain splitting — what csv-parse returns with the options below for
 * such text, about 10× faster on 50k-row exports (replay start-up). Null when the text has a quote, a
 * bare CR, mixed line ends or a BOM past the start: csv-parse handles those.
 */
export function splitCsvRows(text: string): Array<{ line: number; cells: string[] }> | null {
  let t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (t.includes("\r")) {
    // csv-parse takes the first line end it meets as the delimiter: only all-CRLF text splits alike.
    if (/(^|[^\r])\n/.test(t)) return null;
    t = t.replaceAll("\r\n", "\n");
  }
  if (t.includes("\r") || t.includes('"') || t.includes("\uFEFF")) return null;
  const out: Array<{ line: number; cells: string[] }> = [];
  const lines = t.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const cells = lines[i].split(",");
    for (let j = 0; j < cells.length; j++) cells[j] = trimCell(cells[j]);
    // An empty or blank line is skipped, as `skip_empty_lines` + `trim` do.
    if (cells.length === 1 && cells[0] === "") continue;
    out.push({ line: i + 1, cells });
  }
  return out;
}

/** Trims spaces and tabs around a cell, as csv-parse's `trim` does. */
function trimCell(c: string): string {
  let a = 0;
  let b = c.length;
  while (a < b && (c.charCodeAt(a) === 32 || c.charCodeAt(a) === 9)) a++;
  while (b > a && (c.charCodeAt(b - 1) === 32 || c.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === c.length ? c : c.slice(a, b);
}

let csvParse: typeof CsvParseSync.parse | undefined;

/** csv-parse, loaded on first use: only files with quotes or bare CRs need it (issue 15: start-up). */
function parse(text: string, opts: CsvParseSync.Options): unknown {
  csvParse ??= (createRequire(import.meta.url)("csv-parse/sync") as typeof CsvParseSync).parse;
  return csvParse(text, opts);
}

/** Parses the CSV into rows with their 1-based line numbers (header = line 1). */
function rows(
  file: string,
  text: string,
): { header: string[]; body: Array<{ line: number; cells: string[] }> } {
  let records: Array<{ line: number; cells: string[] }>;
  const fast = splitCsvRows(text);
  if (fast) records = fast;
  else
    try {
      // `info: true` keeps each record's physical line so errors can name it.
      const raw = parse(text, {
        bom: true,
        skip_empty_lines: true,
        trim: true,
        relax_column_count: true,
        info: true,
      }) as unknown as Array<{ info: { lines: number }; record: string[] }>;
      records = raw.map((r) => ({ line: r.info.lines, cells: r.record }));
    } catch (e) {
      const line = (e as { lines?: number }).lines ?? 0;
      return fail(file, line, `not valid CSV (${(e as Error).message})`);
    }
  if (records.length === 0) fail(file, 1, "empty file: expected a header line");
  const [head, ...body] = records;
  return { header: head.cells.map((h) => h.toLowerCase()), body };
}

function findColumn(file: string, header: string[], names: string[], what: string): number {
  for (const n of names) {
    const i = header.indexOf(n);
    if (i >= 0) return i;
  }
  return fail(
    file,
    1,
    `bad header "${header.join(",")}": no ${what} column (expected one of ${names.join(", ")})`,
  );
}

function parseTime(file: string, line: number, raw: string | undefined): number {
  if (raw === undefined || raw === "") fail(file, line, "missing time value");
  if (/^-?\d+(\.\d+)?$/.test(raw)) {
    const n = Number(raw);
    return n < 1e11 ? n * 1000 : n;
  }
  // Only zoned ISO dates: a date without a zone would be read in local time.
  const ms = /(Z|[+-]\d\d:?\d\d)$/i.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(ms)) fail(file, line, `time "${raw}" is neither epoch ms nor a zoned ISO-8601 date`);
  return ms;
}

function parseNum(file: string, line: number, col: string, raw: string | undefined): number {
  const n = raw === undefined || raw === "" ? Number.NaN : Number(raw);
  if (!Number.isFinite(n)) fail(file, line, `${col} "${raw ?? ""}" is not a number`);
  return n;
}

/**
 * Columns of a candle file, cached per process by path, size and modification time: replay, evals and
 * tests open the same files many times and parsing dominates. The arrays are shared: treat them as
 * read-only. Errors are as {@link parseCandleColumns}.
 */
export function loadCandleColumns(file: string): CandleColumns {
  const key = fileKey(file);
  let cols = COLUMN_CACHE.get(key);
  if (!cols) {
    cols = columnsOf(file, keptBytes(file, key));
    COLUMN_CACHE.set(key, cols);
    BYTES.delete(key);
  }
  return cols;
}

/** Cache key of a file: absolute path, size and modification time. */
function fileKey(file: string): string {
  const st = statSync(file);
  return `${resolvePath(file)}:${st.size}:${st.mtimeMs}`;
}

const COLUMN_CACHE = new Map<string, CandleColumns>();

/**
 * First and last open time of a candle file, ms UTC, without parsing every row (issue 15: a replay
 * server picks its start from these before it needs any bar): the header, the first and the last
 * non-blank rows only. Null when the file has no data row. A file already loaded answers from its
 * columns; one with quotes or bare CRs is loaded whole. A malformed row between the two is found
 * when the file is first loaded ({@link loadCandleColumns}), not here.
 * @throws TwError INVALID_INPUT when unreadable, without a time column, or a time value is invalid.
 */
export function candleTimeRange(file: string, store?: RangeStore): { start: number; end: number } | null {
  const key = fileKey(file);
  const kept = store?.get(key);
  if (kept !== undefined) return kept;
  const r = fileTimeRange(file, key);
  store?.set(key, r);
  return r;
}

/**
 * Where {@link candleTimeRange} keeps ranges between processes (a home's `meta`), keyed by absolute
 * path, size and modification time like the in-process column cache: a restarted server over
 * gzipped data does not gunzip every file again to find its last row. `get` answers undefined when
 * it has nothing for the key.
 */
export interface RangeStore {
  get(key: string): { start: number; end: number } | null | undefined;
  set(key: string, range: { start: number; end: number } | null): void;
}

function fileTimeRange(file: string, key: string): { start: number; end: number } | null {
  const cached = COLUMN_CACHE.get(key);
  const buf = cached ? null : keptBytes(file, key);
  if (buf && plainBytes(buf)) return bytesTimeRange(file, buf);
  const text = buf ? buf.toString("utf8") : "";
  if (cached || text.includes('"') || text.includes("\r")) {
    const c = cached ?? loadCandleColumns(file);
    return c.length === 0 ? null : { start: c.time[0], end: c.time[c.length - 1] };
  }
  const lines = text.split("\n");
  const nonBlank = (i: number) => lines[i].trim() !== "";
  let h = 0;
  while (h < lines.length && !nonBlank(h)) h++;
  if (h === lines.length) fail(file, 1, "empty file: expected a header line");
  let a = h + 1;
  while (a < lines.length && !nonBlank(a)) a++;
  if (a >= lines.length) return null;
  let b = lines.length - 1;
  while (!nonBlank(b)) b--;
  const header = lines[h]
    .replace(/^\uFEFF/, "")
    .split(",")
    .map((c) => trimCell(c).toLowerCase());
  const ti = findColumn(file, header, TIME_NAMES, "time");
  const timeOf = (i: number) => parseTime(file, i + 1, trimCell(lines[i].split(",")[ti] ?? ""));
  return { start: timeOf(a), end: timeOf(b) };
}

/**
 * {@link fileTimeRange} over plain bytes without splitting the text: the header, first and last
 * non-blank lines only (a line of spaces and tabs is blank, as `trim()` finds it).
 */
function bytesTimeRange(file: string, buf: Buffer): { start: number; end: number } | null {
  const blank = (a: number, b: number) => {
    for (let p = a; p < b; p++)
      if (buf[p] !== 32 && buf[p] !== 9 && buf[p] !== 11 && buf[p] !== 12) return false;
    return true;
  };
  // Lines forward: [start, end) and their 1-based numbers.
  let pos = 0;
  let line = 0;
  const next = (): { a: number; b: number; line: number } | null => {
    while (pos <= buf.length) {
      let end = buf.indexOf(0x0a, pos);
      if (end < 0) end = buf.length;
      const a = pos;
      pos = end + 1;
      line++;
      if (!blank(a, end)) return { a, b: end, line };
    }
    return null;
  };
  const head = next();
  if (!head) fail(file, 1, "empty file: expected a header line");
  const first = next();
  if (!first) return null;
  // The last non-blank line, from the end (it may be the first data line).
  let b = buf.length;
  let a = buf.lastIndexOf(0x0a, b - 1) + 1;
  while (blank(a, b)) {
    b = a - 1;
    a = buf.lastIndexOf(0x0a, b - 1) + 1;
  }
  let lastLine = line;
  for (let p = buf.indexOf(0x0a, first.b); p >= 0 && p < a; p = buf.indexOf(0x0a, p + 1)) lastLine++;
  const commas: number[] = [];
  const headCell = lineCells(buf, head.a, head.b, commas);
  const header: string[] = [];
  for (let k = 0; k <= commas.length; k++) header.push((headCell(k) as string).toLowerCase());
  const ti = findColumn(file, header, TIME_NAMES, "time");
  const timeOf = (l: { a: number; b: number; line: number }) =>
    parseTime(file, l.line, lineCells(buf, l.a, l.b, commas)(ti) ?? "");
  return { start: timeOf(first), end: timeOf({ a, b, line: lastLine }) };
}

/**
 * Loads a candle CSV/CSV.gz into columns.
 * @throws TwError INVALID_INPUT naming file and line: unreadable, bad header, non-numeric value,
 *   non-increasing time, or high/low inconsistent with open/close.
 */
export function parseCandleColumns(file: string): CandleColumns {
  return columnsOf(file, readBytes(file));
}

/** {@link parseCandleColumns} of the file's bytes. */
function columnsOf(file: string, buf: Buffer): CandleColumns {
  if (plainBytes(buf)) return columnsFromBytes(file, buf);
  const { header, body } = rows(file, buf.toString("utf8"));
  const fill = columnFiller(file, header, body.length);
  for (let i = 0; i < body.length; i++) {
    const { line, cells } = body[i];
    fill.row(line, (k) => cells[k]);
  }
  return fill.done();
}

/**
 * {@link parseCandleColumns} over plain bytes ({@link plainBytes}) without the whole text, its lines
 * or every cell as strings (issue 15: peak memory of a replay's start): the same rows, values and
 * errors as splitting the text.
 */
function columnsFromBytes(file: string, buf: Buffer): CandleColumns {
  const head = bytesHeader(file, buf);
  const fill = columnFiller(file, head.header, newlines(buf, head.dataStart, buf.length) + 1);
  fillLines(buf, head.dataStart, buf.length, head.line + 1, fill);
  return fill.done();
}

/** Number of `\n` in `buf[start, end)`. */
function newlines(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let p = buf.indexOf(0x0a, start); p >= 0 && p < end; p = buf.indexOf(0x0a, p + 1)) n++;
  return n;
}

/**
 * The header of plain bytes (the first non-blank line, lower-cased cells), its 1-based line number
 * and where the line after it starts.
 * @throws TwError INVALID_INPUT (line 1) when every line is blank.
 */
function bytesHeader(file: string, buf: Buffer): { header: string[]; line: number; dataStart: number } {
  const commas: number[] = [];
  let pos = 0;
  for (let line = 1; pos <= buf.length; line++) {
    let end = buf.indexOf(0x0a, pos);
    if (end < 0) end = buf.length;
    const start = pos;
    pos = end + 1;
    const cell = lineCells(buf, start, end, commas);
    if (commas.length === 0 && blankLine(buf, start, end)) continue;
    const header: string[] = [];
    for (let k = 0; k <= commas.length; k++) header.push((cell(k) as string).toLowerCase());
    return { header, line, dataStart: pos };
  }
  return fail(file, 1, "empty file: expected a header line");
}

/**
 * Stores the non-blank lines of `buf[start, end)` (`start` at a line start, whose number is `line`)
 * as rows of `fill`, at most `maxRows` of them.
 */
function fillLines(
  buf: Buffer,
  start: number,
  end: number,
  line: number,
  fill: ReturnType<typeof columnFiller>,
  maxRows = Number.POSITIVE_INFINITY,
): void {
  const commas: number[] = [];
  let pos = start;
  let rows = 0;
  for (; pos <= end && rows < maxRows; line++) {
    let e = buf.indexOf(0x0a, pos);
    if (e < 0 || e > end) e = end;
    const a = pos;
    pos = e + 1;
    const cell = lineCells(buf, a, e, commas);
    if (commas.length === 0 && blankLine(buf, a, e)) continue;
    fill.row(line, cell);
    rows++;
  }
}

/**
 * Candles of one file around a time window, for a caller that declared which times it reads (the
 * replay command): {@link loadCandleWindow}.
 */
export interface CandleWindow {
  /**
   * Every data row whose open time is in [from, to], plus the row just before `from` and the row
   * just after `to` when the file has them: a contiguous run of the file's rows, so a binary search
   * for any time in [time[0], time[length − 1]] answers as it would on the whole file.
   */
  cols: CandleColumns;
  /** Whether `cols` starts at the file's first data row (searches below time[0] are exact too). */
  fromStart: boolean;
  /** Whether `cols` ends at the file's last data row (searches above the last time are exact too). */
  toEnd: boolean;
  /** The file's first `headRows` data rows (all of them in a shorter file). */
  head: CandleColumns;
}

/**
 * The rows of a candle file around the open times [from, to] (ms UTC), without parsing the rest
 * (issue 15: a 1-day replay read all 30 days of every coin). Rows are time-sorted, so the first and
 * last lines needed are found by bisecting the (gunzipped) bytes on line starts, reading only the
 * time cell of the lines it lands on.
 *
 * Checks: every row returned — the window, its two neighbours and the first `headRows` rows — is
 * checked exactly as {@link parseCandleColumns} checks it and fails with the same error (file and
 * line); rows outside those are not read, so a malformed or out-of-order row there is not reported
 * (it is on any whole-file load). When a time the bisection reads is unreadable, when the file has
 * quotes or CRs, or when the file is already loaded whole, the whole file is parsed
 * ({@link loadCandleColumns}, with its errors) and the window cut from it.
 * @throws TwError INVALID_INPUT as {@link parseCandleColumns} for the rows it reads.
 */
export function loadCandleWindow(file: string, from: number, to: number, headRows: number): CandleWindow {
  const key = fileKey(file);
  const whole = COLUMN_CACHE.get(key);
  if (whole) return cutWindow(whole, from, to, headRows);
  const buf = keptBytes(file, key);
  const w = plainBytes(buf) ? bytesWindow(file, buf, from, to, headRows) : null;
  if (w) {
    BYTES.delete(key);
    return w;
  }
  return cutWindow(loadCandleColumns(file), from, to, headRows);
}

/** {@link CandleWindow} of columns already loaded whole. */
function cutWindow(c: CandleColumns, from: number, to: number, headRows: number): CandleWindow {
  let first = 0;
  while (first < c.length && c.time[first] < from) first++;
  const a = Math.max(0, first - 1);
  let b = first;
  while (b < c.length && c.time[b] <= to) b++;
  b = Math.min(c.length, b + 1);
  return {
    cols: rowsOf(c, a, b),
    fromStart: a === 0,
    toEnd: b === c.length,
    head: rowsOf(c, 0, Math.min(headRows, c.length)),
  };
}

/** Rows [a, b) of columns, sharing their memory. */
function rowsOf(c: CandleColumns, a: number, b: number): CandleColumns {
  if (a === 0 && b === c.length) return c;
  return {
    time: c.time.subarray(a, b),
    open: c.open.subarray(a, b),
    high: c.high.subarray(a, b),
    low: c.low.subarray(a, b),
    close: c.close.subarray(a, b),
    volume: c.volume.subarray(a, b),
    length: b - a,
  };
}

/** {@link loadCandleWindow} over plain bytes; null when a time read while bisecting is unreadable. */
function bytesWindow(
  file: string,
  buf: Buffer,
  from: number,
  to: number,
  headRows: number,
): CandleWindow | null {
  const head = bytesHeader(file, buf);
  const ti = findColumn(file, head.header, TIME_NAMES, "time");
  const first = seekLine(buf, head.dataStart, ti, (t) => t >= from);
  if (!first) return null;
  const start = first.prev >= 0 ? first.prev : head.dataStart;
  const after = seekLine(buf, first.at, ti, (t) => t > to);
  if (!after) return null;
  let end = after.at >= buf.length ? buf.length : buf.indexOf(0x0a, after.at);
  if (end < 0) end = buf.length;
  // The file's last row is where only blank lines follow.
  let rest = end;
  while (rest < buf.length && (buf[rest] === 0x0a || buf[rest] === 32 || buf[rest] === 9)) rest++;
  const toEnd = rest >= buf.length;
  const line = head.line + 1 + newlines(buf, head.dataStart, start);
  const fill = columnFiller(file, head.header, newlines(buf, start, end) + 1);
  fillLines(buf, start, end, line, fill);
  const cols = fill.done();
  const fromStart = start === head.dataStart;
  let headCols: CandleColumns;
  if (fromStart && (cols.length >= headRows || toEnd))
    headCols = rowsOf(cols, 0, Math.min(headRows, cols.length));
  else {
    const h = columnFiller(file, head.header, headRows);
    fillLines(buf, head.dataStart, buf.length, head.line + 1, h, headRows);
    headCols = h.done();
  }
  return { cols, fromStart, toEnd, head: headCols };
}

/** Bytes below which {@link seekLine} reads line by line instead of bisecting (≈ 70 one-minute rows). */
const SEEK_LINEAR_BYTES = 4096;

/**
 * Bisects time-sorted plain bytes for the first non-blank line at or after `from` (a line start)
 * whose time satisfies `past` (false, then true, along the file): `at` is its start (`buf.length`
 * when no line does) and `prev` the start of the non-blank line before it (−1 when there is none at
 * or after `from`). Null when a time it reads is unreadable (the caller parses the whole file and
 * reports it properly).
 */
function seekLine(
  buf: Buffer,
  from: number,
  ti: number,
  past: (t: number) => boolean,
): { at: number; prev: number } | null {
  const commas: number[] = [];
  // Time of the first non-blank line starting at or after `s`: NaN when unreadable, null when none.
  const timeFrom = (s: number): { t: number; start: number; end: number } | null => {
    for (let p = s; p <= buf.length; ) {
      let e = buf.indexOf(0x0a, p);
      if (e < 0) e = buf.length;
      const cell = lineCells(buf, p, e, commas);
      if (!(commas.length === 0 && blankLine(buf, p, e))) return { t: probeTime(cell(ti)), start: p, end: e };
      p = e + 1;
    }
    return null;
  };
  // Invariant: the line at `lo` (when lo > from) is non-blank and not past; every non-blank line
  // starting at or after `hi` is past.
  let lo = from;
  let hi = buf.length;
  while (hi - lo > SEEK_LINEAR_BYTES) {
    const mid = (lo + hi) >>> 1;
    const s = buf.lastIndexOf(0x0a, mid - 1) + 1;
    if (s <= lo) break;
    const r = timeFrom(s);
    if (r && Number.isNaN(r.t)) return null;
    if (!r || r.start >= hi || past(r.t)) hi = s;
    else lo = r.start;
  }
  let prev = -1;
  for (let p = lo; ; ) {
    const r = timeFrom(p);
    if (!r) return { at: buf.length, prev };
    if (Number.isNaN(r.t)) return null;
    if (past(r.t)) return { at: r.start, prev };
    prev = r.start;
    p = r.end + 1;
  }
}

/** A time cell as {@link parseTime} reads it, NaN instead of an error. */
function probeTime(raw: string | undefined): number {
  try {
    return parseTime("", 0, raw);
  } catch {
    return Number.NaN;
  }
}

/**
 * Fills candle columns row by row for {@link parseCandleColumns}: `row(line, cell)` checks and stores
 * one data row (`cell(k)` = the row's k-th cell, undefined past its end), `done()` returns the columns
 * cut to the rows stored. `capacity` must be at least the number of rows.
 */
function columnFiller(file: string, header: string[], capacity: number) {
  const ti = findColumn(file, header, TIME_NAMES, "time");
  const idx = {
    open: findColumn(file, header, OHLCV_NAMES.open, "open"),
    high: findColumn(file, header, OHLCV_NAMES.high, "high"),
    low: findColumn(file, header, OHLCV_NAMES.low, "low"),
    close: findColumn(file, header, OHLCV_NAMES.close, "close"),
    volume: findColumn(file, header, OHLCV_NAMES.volume, "volume"),
  };
  const out: CandleColumns = {
    time: new Float64Array(capacity),
    open: new Float64Array(capacity),
    high: new Float64Array(capacity),
    low: new Float64Array(capacity),
    close: new Float64Array(capacity),
    volume: new Float64Array(capacity),
    length: 0,
  };
  let prev = Number.NEGATIVE_INFINITY;
  const row = (line: number, cell: (k: number) => string | undefined) => {
    const i = out.length;
    const t = parseTime(file, line, cell(ti));
    if (t <= prev)
      fail(
        file,
        line,
        `time ${t} is not after the previous row's ${prev} (rows must be strictly increasing)`,
      );
    prev = t;
    const o = parseNum(file, line, "open", cell(idx.open));
    const h = parseNum(file, line, "high", cell(idx.high));
    const l = parseNum(file, line, "low", cell(idx.low));
    const c = parseNum(file, line, "close", cell(idx.close));
    const v = parseNum(file, line, "volume", cell(idx.volume));
    if (h < Math.max(o, c) || l > Math.min(o, c) || v < 0) {
      fail(file, line, `inconsistent candle (need low ≤ open,close ≤ high and volume ≥ 0)`);
    }
    out.time[i] = t;
    out.open[i] = o;
    out.high[i] = h;
    out.low[i] = l;
    out.close[i] = c;
    out.volume[i] = v;
    out.length = i + 1;
  };
  const done = (): CandleColumns => {
    const n = out.length;
    if (n === capacity) return out;
    return {
      time: out.time.slice(0, n),
      open: out.open.slice(0, n),
      high: out.high.slice(0, n),
      low: out.low.slice(0, n),
      close: out.close.slice(0, n),
      volume: out.volume.slice(0, n),
      length: n,
    };
  };
  return { row, done };
}

/** Candle at index `i` of columns. */
export function candleAt(c: CandleColumns, i: number): Candle {
  return {
    time: c.time[i],
    open: c.open[i],
    high: c.high[i],
    low: c.low[i],
    close: c.close[i],
    volume: c.volume[i],
  };
}

/** Loads a candle CSV/CSV.gz as an array of {@link Candle}. Same errors as {@link loadCandleColumns}. */
export function loadCandleFile(file: string): Candle[] {
  const c = loadCandleColumns(file);
  const out: Candle[] = new Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = candleAt(c, i);
  return out;
}

/**
 * Loads a funding CSV/CSV.gz (`funding_time_ms,funding_rate`, or the Hyperliquid export
 * `funding_time_ms,coin,funding_rate,premium`). Rates are fractions per funding interval.
 * @throws TwError INVALID_INPUT naming file and line (bad header, non-numeric, non-increasing time).
 */
export function loadFundingFile(file: string): FundingPoint[] {
  const { header, body } = rows(file, readText(file));
  const ti = findColumn(file, header, FUNDING_TIME_NAMES, "funding time");
  const ri = findColumn(file, header, RATE_NAMES, "funding rate");
  const out: FundingPoint[] = [];
  let prev = Number.NEGATIVE_INFINITY;
  for (const { line, cells } of body) {
    const time = parseTime(file, line, cells[ti]);
    if (time <= prev) fail(file, line, `time ${time} is not after the previous row's ${prev}`);
    prev = time;
    out.push({ time, rate: parseNum(file, line, "funding_rate", cells[ri]) });
  }
  return out;
}
