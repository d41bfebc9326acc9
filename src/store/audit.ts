import { createHash, hash as sha } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { retryBusy, type Db } from "./db.js";

/**
 * The append-only, hash-chained audit log (DESIGN.md §6). Each row stores
 * `hash = sha256(prev_hash ‖ "\n" ‖ canonical(row))`, where canonical(row) is the JSON array of its
 * content columns in a fixed order, and `prev_hash` is the previous row's hash (64 zeros for the
 * first row). `audit_head` keeps the last id, hash and row count, so removing the newest rows is
 * detected too. SQL triggers refuse UPDATE/DELETE; `verifyAudit` catches edits made around them.
 *
 * Outside the database, the head is also appended (`<count> <hash>` lines, fsynced) to an anchor
 * file — `$TW_HOME/audit.anchor` for the home's database — so a wiped log, a dropped and recreated
 * table, a truncated tail with the head row moved, or rows re-hashed after an edit all disagree with
 * a head recorded earlier. `audit verify --expect COUNT:HASH` checks a head kept elsewhere too.
 *
 * Stored `args` and `result` are capped at {@link AUDIT_FIELD_MAX} bytes of JSON: a larger value is
 * replaced by `{ truncated, bytes, sha256, preview }`, so a caller cannot fill the log (the sha256
 * still proves what was sent).
 */

/** Largest JSON kept verbatim in an audit row's `args` or `result` (bytes). */
export const AUDIT_FIELD_MAX = 16_384;

/** A value capped to {@link AUDIT_FIELD_MAX} bytes of JSON (see the module docs). */
export function capAuditValue(v: unknown): string {
  const json = JSON.stringify(v ?? null);
  const bytes = Buffer.byteLength(json);
  if (bytes <= AUDIT_FIELD_MAX) return json;
  return JSON.stringify({
    truncated: true,
    bytes,
    sha256: createHash("sha256").update(json).digest("hex"),
    preview: json.slice(0, 1024),
  });
}

interface AnchorState {
  path: string;
  /** Write `durable` entries' heads at once (fsynced); off, they wait for the once-a-second line. */
  eager: boolean;
  /** Wall-clock ms of the last line written. */
  lastWrite: number;
  /** Head (count) last written. */
  lastCount: number;
}

const anchors = new WeakMap<Db, AnchorState>();

/**
 * Names the anchor file of a database (call once after opening it). Appends then mirror the head
 * there: every append marked `durable`, and others at most once a second (plus {@link flushAnchor}).
 * `eager: false` (a replay's own database, which only its process writes) trades the immediate
 * fsync of state-changing rows for speed: the head still lands at most a second late and at close.
 * The first time a database is anchored (a new home, or a log kept before anchors existed) its
 * current head becomes the first line and the database records that it is anchored, so from then
 * on a missing anchor file is itself a finding. An existing anchor file is never rewritten.
 */
export function setAuditAnchor(db: Db, path: string, opts: { eager?: boolean } = {}): void {
  const a: AnchorState = { path, eager: opts.eager !== false, lastWrite: 0, lastCount: -1 };
  anchors.set(db, a);
  const started = db.prepare("SELECT value FROM meta WHERE key = 'audit.anchor'").get() !== undefined;
  if (started || existsSync(path)) return;
  retryBusy(() => db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('audit.anchor', ?)").run(path));
  const h = auditHead(db);
  writeAnchorLine(path, h.count, h.hash);
  a.lastWrite = Date.now();
  a.lastCount = h.count;
}

function writeAnchorLine(path: string, count: number, hash: string): void {
  const fd = openSync(path, "a", 0o600);
  try {
    writeSync(fd, `${count} ${hash}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the current head to the anchor file if it moved since the last line. */
export function flushAnchor(db: Db): void {
  flushAuditQueue(db);
  const a = anchors.get(db);
  if (!a || !db.open) return;
  const h = auditHead(db);
  if (h.count === a.lastCount) return;
  writeAnchorLine(a.path, h.count, h.hash);
  a.lastWrite = Date.now();
  a.lastCount = h.count;
}

/** The chain head: number of rows and the newest row's hash (64 zeros for an empty log). */
export function auditHead(db: Db): { count: number; hash: string } {
  flushAuditQueue(db);
  const head = db.prepare("SELECT row_count, last_hash FROM audit_head WHERE singleton = 1").get() as
    | { row_count: number; last_hash: string }
    | undefined;
  return { count: head?.row_count ?? 0, hash: head?.last_hash ?? "0".repeat(64) };
}

/** Decision recorded for a call: allowed and executed, refused by policy, or failed while executing. */
export type AuditDecision = "allowed" | "refused" | "error";

/** One audit entry as written by the gate (and by background jobs: cycle, reconciler, CLI). */
export interface AuditEntry {
  /** ms UTC. */
  ts: number;
  /** Caller id, e.g. `stdio:agent`, `token:ci-bot`, `cli:operator`, `system:cycle`. */
  caller: string;
  /** Tool name or internal action (`cycle.run`, `control.halt`). */
  tool: string;
  /** Arguments with secrets redacted (JSON-serialisable). */
  args: unknown;
  decision: AuditDecision;
  /** Error code when refused or failed. */
  code?: string | null;
  /** Short result summary (JSON-serialisable), never a secret. */
  result?: unknown;
  durationMs: number;
  /** Idempotency / client order keys involved. */
  keys?: string[] | null;
  /**
   * Mirror the new head to the anchor file now (fsynced) instead of at most once a second: set for
   * anything that changed state (orders, control, limits, approvals), so no such row can be removed
   * without the anchor disagreeing.
   */
  durable?: boolean;
}

/** A stored audit row (snake_case, as returned by `audit_query`). */
export interface AuditRow {
  id: number;
  ts: number;
  caller: string;
  tool: string;
  args: unknown;
  decision: AuditDecision;
  code: string | null;
  result: unknown;
  duration_ms: number;
  keys: string[] | null;
  prev_hash: string;
  hash: string;
}

const GENESIS = "0".repeat(64);

interface RawRow {
  id: number;
  ts: number;
  caller: string;
  tool: string;
  args: string;
  decision: string;
  code: string | null;
  result: string | null;
  duration_ms: number;
  keys: string | null;
  prev_hash: string;
  hash: string;
}

function canonical(r: Omit<RawRow, "hash" | "prev_hash">): string {
  return JSON.stringify([
    r.id,
    r.ts,
    r.caller,
    r.tool,
    r.args,
    r.decision,
    r.code,
    r.result,
    r.duration_ms,
    r.keys,
  ]);
}

function chainHash(prev: string, r: Omit<RawRow, "hash" | "prev_hash">): string {
  // One-shot hash of the same bytes as prev ‖ "\n" ‖ canonical(r) (issue 15: cheaper than a
  // `createHash` object per row).
  return sha("sha256", `${prev}\n${canonical(r)}`, "hex");
}

/** An entry's stored columns, serialised when the entry is made (later edits to its objects are not kept). */
type PreparedEntry = Omit<RawRow, "id" | "hash" | "prev_hash">;

function prepareEntry(e: AuditEntry): PreparedEntry {
  return {
    ts: e.ts,
    caller: e.caller,
    tool: e.tool,
    args: capAuditValue(e.args),
    decision: e.decision,
    code: e.code ?? null,
    result: e.result === undefined ? null : capAuditValue(e.result),
    duration_ms: Math.max(0, Math.round(e.durationMs)),
    keys: e.keys && e.keys.length > 0 ? JSON.stringify(e.keys) : null,
  };
}

/**
 * Inserts rows after the current head, chaining each to the one before, and moves the head once
 * (inside the caller's transaction). Same rows as inserting them one at a time.
 * @returns the last row's id and hash.
 */
function insertRows(
  db: Db,
  entries: readonly PreparedEntry[],
  chained: readonly (RawRow | null)[] = [],
): { id: number; hash: string } {
  const head = db.prepare("SELECT last_id, last_hash, row_count FROM audit_head WHERE singleton = 1").get() as
    | { last_id: number; last_hash: string; row_count: number }
    | undefined;
  let id = head?.last_id ?? 0;
  let prev = head?.last_hash ?? GENESIS;
  const insert = db.prepare(
    `INSERT INTO audit_log (id, ts, caller, tool, args, decision, code, result, duration_ms, keys, prev_hash, hash)
     VALUES (@id, @ts, @caller, @tool, @args, @decision, @code, @result, @duration_ms, @keys, @prev_hash, @hash)`,
  );
  let i = 0;
  const first = chained[0];
  if (first && first.id === id + 1 && first.prev_hash === prev) {
    // Hashed when queued, against the head this process last wrote, and that is still the head (no
    // other process appended since): the same rows the loop below would make.
    for (; i < chained.length; i++) {
      const row = chained[i];
      if (row === null) break;
      insert.run(row);
      id = row.id;
      prev = row.hash;
    }
  }
  for (; i < entries.length; i++) {
    const e = entries[i];
    id += 1;
    // One object per row, hashed and then bound (issue 15: the former two spreads per row cost more).
    const row: RawRow = { id, ...e, prev_hash: prev, hash: "" };
    row.hash = chainHash(prev, row);
    insert.run(row);
    prev = row.hash;
  }
  db.prepare(
    `INSERT INTO audit_head (singleton, last_id, last_hash, row_count) VALUES (1, @id, @hash, @n)
     ON CONFLICT(singleton) DO UPDATE SET last_id = @id, last_hash = @hash, row_count = row_count + @n`,
  ).run({ id, hash: prev, n: entries.length });
  return { id, hash: prev };
}

/** Read-only entries waiting to be appended in one transaction (see {@link queueAudit}). */
interface AuditQueue {
  entries: PreparedEntry[];
  /**
   * Each entry's row as hashed when queued, chained from the head this process last committed
   * (null when that head was unknown): moves the hashing out of the flush, which holds the event
   * loop while it runs (issue 15: the call arriving meanwhile waits for it). Only used when the head
   * is still that one at the flush; otherwise the rows are hashed there, as before.
   */
  chained: (RawRow | null)[];
  timer: NodeJS.Timeout | null;
  /** A flush due on the next turn of the event loop (the group is full). */
  soon: NodeJS.Immediate | null;
}

const queues = new WeakMap<Db, AuditQueue>();

/** The head this process last committed per connection, outside any caller's transaction. */
const committedHeads = new WeakMap<Db, { id: number; hash: string }>();

/** Notes the head after a commit; inside a caller's transaction (which may roll back) forgets it. */
function noteHead(db: Db, written: { id: number; hash: string }): void {
  if (db.inTransaction) committedHeads.delete(db);
  else committedHeads.set(db, written);
}

/**
 * Appends one entry in a transaction (read head → hash → insert → move head), waiting out other
 * processes' write locks (never fails with "database is locked"), then mirrors the head to the
 * anchor file when one is set. Entries queued by {@link queueAudit} are appended first, in the same
 * transaction (unless the caller is inside a transaction of its own, which may still roll back), so
 * the chain keeps this process's order.
 * @returns the new row id.
 */
export function appendAudit(db: Db, e: AuditEntry): number {
  const q = queues.get(db);
  const pending =
    q && q.entries.length > 0 && !db.inTransaction ? takeQueue(q) : { entries: [], chained: [] };
  const rows = [...pending.entries, prepareEntry(e)];
  let written: { id: number; hash: string };
  try {
    written = retryBusy(() => db.transaction(() => insertRows(db, rows, pending.chained))());
  } catch (err) {
    if (q && pending.entries.length > 0) putBack(q, pending);
    throw err;
  }
  noteHead(db, written);
  mirrorHead(db, written, e.durable === true);
  return written.id;
}

/**
 * Queues a READ-ONLY call's entry to be appended together with the others of the next
 * `maxDelayMs` (issue 15: one write transaction per call was a third of a cheap call's cost). The
 * chain is the same as appending one by one: rows keep this process's order, and any
 * {@link appendAudit}, {@link flushAuditQueue}, reader in this module or {@link flushAnchor}
 * appends what is queued first. The price, written in docs/engineering.md: a kill -9 loses at most
 * the last `maxDelayMs` of read-only rows; state-changing calls never come here (their row is
 * committed, and anchored, before they return).
 *
 * A group is also written as soon as it holds {@link AUDIT_GROUP_MAX_ROWS} rows, on the next turn
 * of the event loop (after the call that filled it has answered): a flush holds the event loop
 * for ≈ 70 µs plus ≈ 10 µs a row (docs/engineering.md), and the call that arrives meanwhile waits
 * for it. Bounding the
 * group bounds that wait at any call rate (issue 15's p99: at 6,000 calls/s a 10 ms group was ≈ 40
 * rows, 0.6–1 ms, and set the p99 of a thin client at 1.1 ms).
 */
export function queueAudit(db: Db, e: AuditEntry, maxDelayMs: number): void {
  let q = queues.get(db);
  if (!q) {
    q = { entries: [], chained: [], timer: null, soon: null };
    queues.set(db, q);
  }
  const entry = prepareEntry(e);
  const base = q.chained.length > 0 ? q.chained[q.chained.length - 1] : (committedHeads.get(db) ?? null);
  let row: RawRow | null = null;
  if (base !== null) {
    row = { id: base.id + 1, ...entry, prev_hash: base.hash, hash: "" };
    row.hash = chainHash(base.hash, row);
  }
  q.entries.push(entry);
  q.chained.push(row);
  if (q.entries.length >= AUDIT_GROUP_MAX_ROWS) scheduleFlushSoon(db, q, maxDelayMs);
  else scheduleFlush(db, q, maxDelayMs);
}

/** Rows after which a queued group is written at once (see {@link queueAudit}). */
export const AUDIT_GROUP_MAX_ROWS = 16;

/** Replaces a pending timed flush with one on the next turn of the event loop. */
function scheduleFlushSoon(db: Db, q: AuditQueue, retryMs: number): void {
  if (q.soon) return;
  if (q.timer) clearTimeout(q.timer);
  q.timer = null;
  q.soon = setImmediate(() => {
    q.soon = null;
    flushScheduled(db, q, retryMs);
  });
}

function scheduleFlush(db: Db, q: AuditQueue, delayMs: number): void {
  q.timer ??= setTimeout(() => {
    q.timer = null;
    flushScheduled(db, q, delayMs);
  }, delayMs);
}

/** A scheduled flush: what is still queued after it (a failed write) is tried again in `retryMs`. */
function flushScheduled(db: Db, q: AuditQueue, retryMs: number): void {
  try {
    flushAuditQueue(db);
  } catch {
    // Put back by flushAuditQueue (a lock held past retryBusy's wait): tried again below.
  }
  // Still queued (the flush failed, or ran inside a transaction): try again shortly.
  if (db.open && q.entries.length > 0) scheduleFlush(db, q, retryMs);
}

function takeQueue(q: AuditQueue): Pick<AuditQueue, "entries" | "chained"> {
  const out = { entries: q.entries, chained: q.chained };
  q.entries = [];
  q.chained = [];
  if (q.timer) clearTimeout(q.timer);
  q.timer = null;
  if (q.soon) clearImmediate(q.soon);
  q.soon = null;
  return out;
}

/** Puts taken entries back in front of any queued since (a failed write), their rows with them. */
function putBack(q: AuditQueue, taken: Pick<AuditQueue, "entries" | "chained">): void {
  q.entries.unshift(...taken.entries);
  // Nothing is queued between taking and putting back (both run synchronously), so the rows stay
  // one chain in order.
  q.chained.unshift(...taken.chained);
}

/**
 * Appends every queued entry now, in one transaction. A no-op when nothing is queued, the database
 * is closed, or the caller is inside a transaction.
 * @throws Error from SQLite (the entries stay queued).
 */
export function flushAuditQueue(db: Db): void {
  const q = queues.get(db);
  if (!q || q.entries.length === 0 || !db.open || db.inTransaction) return;
  const pending = takeQueue(q);
  let last: { id: number; hash: string };
  try {
    last = retryBusy(() => db.transaction(() => insertRows(db, pending.entries, pending.chained))());
  } catch (err) {
    putBack(q, pending);
    throw err;
  }
  noteHead(db, last);
  mirrorHead(db, last, false);
}

/** Mirrors the head to the anchor file: at once for a durable row (eager anchors), else once a second. */
function mirrorHead(db: Db, written: { id: number; hash: string }, durable: boolean): void {
  const a = anchors.get(db);
  if (a && !db.inTransaction && ((durable && a.eager) || Date.now() - a.lastWrite >= 1000)) {
    // Outside a transaction only: inside one the row may still roll back.
    writeAnchorLine(a.path, written.id, written.hash);
    a.lastWrite = Date.now();
    a.lastCount = written.id;
  }
}

/** Result of {@link verifyAudit}. `firstBadId` names the first row that fails, when any. */
export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  /** The head found: `<count>:<hash>`. */
  head: string;
  firstBadId?: number;
  reason?: string;
  /** Anchor lines checked (0 when there is no anchor file). */
  anchorLines: number;
}

/** Options of {@link verifyAudit}. */
export interface AuditVerifyOptions {
  /** Anchor file to check against (default: the one set with {@link setAuditAnchor}, if any). */
  anchorPath?: string;
  /** A head kept elsewhere, `COUNT:HASH` (from `audit head`): row COUNT must have HASH. */
  expect?: string;
}

/** Parses `COUNT:HASH`. @throws RangeError when malformed. */
export function parseHead(s: string): { count: number; hash: string } {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(s.trim());
  if (!m) throw new RangeError(`expected COUNT:HASH (from \`tradewarden audit head\`), got "${s}"`);
  return { count: Number(m[1]), hash: m[2] };
}

/**
 * Walks the whole chain in id order and checks every link and hash, then the head, then every
 * recorded head (anchor file lines and `expect`): row COUNT must exist and carry HASH.
 * Detects an edited row (hash mismatch), a removed row (id gap / prev_hash mismatch), reordered or
 * swapped rows (prev_hash mismatch), truncation of the newest rows (head mismatch), and — against a
 * recorded head — a wiped log, a recreated table, a truncated tail with the head moved, and rows
 * re-hashed after an edit.
 * @throws RangeError when `expect` is malformed.
 */
export function verifyAudit(db: Db, opts: AuditVerifyOptions = {}): AuditVerifyResult {
  flushAuditQueue(db);
  const expect = opts.expect === undefined ? undefined : parseHead(opts.expect);
  let prev = GENESIS;
  let expectedId = 1;
  let rows = 0;
  const fail = (firstBadId: number, reason: string, anchorLines = 0): AuditVerifyResult => ({
    ok: false,
    rows,
    head: `${rows}:${prev}`,
    firstBadId,
    reason,
    anchorLines,
  });
  for (const r of db.prepare("SELECT * FROM audit_log ORDER BY id").iterate() as IterableIterator<RawRow>) {
    rows++;
    if (r.id !== expectedId) return fail(r.id, `row ${expectedId} is missing (found ${r.id} next)`);
    if (r.prev_hash !== prev) return fail(r.id, "prev_hash does not match the previous row");
    if (chainHash(prev, r) !== r.hash) return fail(r.id, "content does not match its hash (row altered)");
    prev = r.hash;
    expectedId++;
  }
  const head = auditHead(db);
  if (head.count !== rows || (rows > 0 && head.hash !== prev)) {
    return fail(
      rows + 1,
      `log ends at row ${rows} but the head records ${head.count} rows (newest rows removed)`,
    );
  }
  const recorded: Array<{ count: number; hash: string; from: string }> = [];
  const recordedPath = (
    db.prepare("SELECT value FROM meta WHERE key = 'audit.anchor'").get() as { value: string } | undefined
  )?.value;
  const anchorPath = opts.anchorPath ?? anchors.get(db)?.path ?? recordedPath;
  let anchorLines = 0;
  if (anchorPath !== undefined) {
    if (!existsSync(anchorPath)) {
      if (recordedPath !== undefined)
        return fail(rows, `the anchor file ${anchorPath} is missing (deleted?)`);
    } else {
      for (const [i, line] of readFileSync(anchorPath, "utf8").split("\n").entries()) {
        if (line.trim() === "") continue;
        const m = /^(\d+) ([0-9a-f]{64})$/.exec(line.trim());
        if (!m) return fail(rows, `anchor line ${i + 1} is malformed`, anchorLines);
        recorded.push({ count: Number(m[1]), hash: m[2], from: `anchor line ${i + 1}` });
        anchorLines++;
      }
    }
  }
  if (expect) recorded.push({ ...expect, from: "--expect" });
  // The longest recorded head first: its finding says the most (how many rows went missing).
  recorded.sort((a, b) => b.count - a.count);
  for (const h of recorded) {
    if (h.count > rows) {
      return fail(
        rows + 1,
        `${h.from} records ${h.count} rows but the log has ${rows} (rows removed, or the log wiped or recreated)`,
        anchorLines,
      );
    }
    const at =
      h.count > 0
        ? (db.prepare("SELECT hash FROM audit_log WHERE id = ?").get(h.count) as { hash: string })
        : null;
    if (at && at.hash !== h.hash) {
      return fail(
        h.count,
        `row ${h.count} does not have the hash ${h.from} records (rows rewritten)`,
        anchorLines,
      );
    }
  }
  return { ok: true, rows, head: `${rows}:${prev}`, anchorLines };
}

/** Filters of {@link queryAudit}. Times are ms UTC, inclusive. */
export interface AuditQuery {
  since?: number;
  until?: number;
  tool?: string;
  caller?: string;
  decision?: AuditDecision;
  /** 1..500. */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/** A page of audit rows, newest first. */
export interface AuditPage {
  rows: AuditRow[];
  truncated: boolean;
  next_cursor: string | null;
}

/** Encodes the last id of a page as an opaque cursor. */
export function encodeCursor(v: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

/**
 * Decodes an opaque cursor; returns undefined when it is not one of ours (callers turn that into
 * INVALID_INPUT).
 */
export function decodeCursor(c: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(c, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function parseRow(r: RawRow): AuditRow {
  return {
    id: r.id,
    ts: r.ts,
    caller: r.caller,
    tool: r.tool,
    args: JSON.parse(r.args),
    decision: r.decision as AuditDecision,
    code: r.code,
    result: r.result === null ? null : JSON.parse(r.result),
    duration_ms: r.duration_ms,
    keys: r.keys === null ? null : JSON.parse(r.keys),
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/** Filters of an audit read (times ms UTC, inclusive). */
export type AuditFilter = Omit<AuditQuery, "limit" | "cursor">;

function auditFilters(q: AuditFilter): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const filters: Array<[string, string, unknown]> = [
    ["since", "ts >= @since", q.since],
    ["until", "ts <= @until", q.until],
    ["tool", "tool = @tool", q.tool],
    ["caller", "caller = @caller", q.caller],
    ["decision", "decision = @decision", q.decision],
  ];
  for (const [name, clause, value] of filters) {
    if (value === undefined) continue;
    where.push(clause);
    params[name] = value;
  }
  return { where, params };
}

/** Every audit row matching the filters, oldest first, streamed (exports). */
export function* iterateAudit(db: Db, q: AuditFilter): Generator<AuditRow> {
  const { where, params } = auditFilters(q);
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id`;
  for (const r of db.prepare(sql).iterate(params) as IterableIterator<RawRow>) yield parseRow(r);
}

/**
 * Reads audit rows newest first with filters and cursor paging.
 * @throws RangeError when the cursor is malformed (the caller maps it to INVALID_INPUT).
 */
export function queryAudit(db: Db, q: AuditQuery): AuditPage {
  flushAuditQueue(db);
  const { where, params } = auditFilters(q);
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    if (!c || typeof c.before_id !== "number") throw new RangeError("cursor is not valid");
    where.push("id < @before_id");
    params.before_id = c.before_id;
  }
  params.limit = q.limit + 1;
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT @limit`;
  const raw = db.prepare(sql).all(params) as RawRow[];
  const truncated = raw.length > q.limit;
  const rows = raw.slice(0, q.limit).map(parseRow);
  return {
    rows,
    truncated,
    next_cursor: truncated ? encodeCursor({ before_id: rows[rows.length - 1].id }) : null,
  };
}
