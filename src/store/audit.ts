import { createHash } from "node:crypto";
import type { Db } from "./db.js";

/**
 * The append-only, hash-chained audit log (DESIGN.md §6). Each row stores
 * `hash = sha256(prev_hash ‖ "\n" ‖ canonical(row))`, where canonical(row) is the JSON array of its
 * content columns in a fixed order, and `prev_hash` is the previous row's hash (64 zeros for the
 * first row). `audit_head` keeps the last id, hash and row count, so removing the newest rows is
 * detected too. SQL triggers refuse UPDATE/DELETE; `verifyAudit` catches edits made around them.
 */

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
  return createHash("sha256").update(prev).update("\n").update(canonical(r)).digest("hex");
}

/**
 * Appends one entry in a transaction (read head → hash → insert → move head).
 * @returns the new row id.
 */
export function appendAudit(db: Db, e: AuditEntry): number {
  const tx = db.transaction((): number => {
    const head = db
      .prepare("SELECT last_id, last_hash, row_count FROM audit_head WHERE singleton = 1")
      .get() as { last_id: number; last_hash: string; row_count: number } | undefined;
    const id = (head?.last_id ?? 0) + 1;
    const prev = head?.last_hash ?? GENESIS;
    const row = {
      id,
      ts: e.ts,
      caller: e.caller,
      tool: e.tool,
      args: JSON.stringify(e.args ?? null),
      decision: e.decision,
      code: e.code ?? null,
      result: e.result === undefined ? null : JSON.stringify(e.result),
      duration_ms: Math.max(0, Math.round(e.durationMs)),
      keys: e.keys && e.keys.length > 0 ? JSON.stringify(e.keys) : null,
    };
    const hash = chainHash(prev, row);
    db.prepare(
      `INSERT INTO audit_log (id, ts, caller, tool, args, decision, code, result, duration_ms, keys, prev_hash, hash)
       VALUES (@id, @ts, @caller, @tool, @args, @decision, @code, @result, @duration_ms, @keys, @prev_hash, @hash)`,
    ).run({ ...row, prev_hash: prev, hash });
    db.prepare(
      `INSERT INTO audit_head (singleton, last_id, last_hash, row_count) VALUES (1, @id, @hash, 1)
       ON CONFLICT(singleton) DO UPDATE SET last_id = @id, last_hash = @hash, row_count = row_count + 1`,
    ).run({ id, hash });
    return id;
  });
  return tx();
}

/** Result of {@link verifyAudit}. `firstBadId` names the first row that fails, when any. */
export interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  firstBadId?: number;
  reason?: string;
}

/**
 * Walks the whole chain in id order and checks every link and hash, then the head.
 * Detects an edited row (hash mismatch), a removed row (id gap / prev_hash mismatch), reordered or
 * swapped rows (prev_hash mismatch) and truncation of the newest rows (head mismatch).
 */
export function verifyAudit(db: Db): AuditVerifyResult {
  let prev = GENESIS;
  let expectedId = 1;
  let rows = 0;
  for (const r of db.prepare("SELECT * FROM audit_log ORDER BY id").iterate() as IterableIterator<RawRow>) {
    rows++;
    if (r.id !== expectedId) {
      return {
        ok: false,
        rows,
        firstBadId: r.id,
        reason: `row ${expectedId} is missing (found ${r.id} next)`,
      };
    }
    if (r.prev_hash !== prev) {
      return { ok: false, rows, firstBadId: r.id, reason: "prev_hash does not match the previous row" };
    }
    if (chainHash(prev, r) !== r.hash) {
      return { ok: false, rows, firstBadId: r.id, reason: "content does not match its hash (row altered)" };
    }
    prev = r.hash;
    expectedId++;
  }
  const head = db.prepare("SELECT last_id, last_hash, row_count FROM audit_head WHERE singleton = 1").get() as
    | { last_id: number; last_hash: string; row_count: number }
    | undefined;
  const headCount = head?.row_count ?? 0;
  if (headCount !== rows || (head && head.last_hash !== prev)) {
    return {
      ok: false,
      rows,
      firstBadId: rows + 1,
      reason: `log ends at row ${rows} but the head records ${headCount} rows (newest rows removed)`,
    };
  }
  return { ok: true, rows };
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

/** The chain head: row count and the newest row's id and hash (64 zeros when empty). */
export function auditHead(db: Db): { rows: number; last_id: number; last_hash: string } {
  const h = db.prepare("SELECT last_id, last_hash, row_count FROM audit_head WHERE singleton = 1").get() as
    | { last_id: number; last_hash: string; row_count: number }
    | undefined;
  return { rows: h?.row_count ?? 0, last_id: h?.last_id ?? 0, last_hash: h?.last_hash ?? GENESIS };
}

/**
 * Reads audit rows newest first with filters and cursor paging.
 * @throws RangeError when the cursor is malformed (the caller maps it to INVALID_INPUT).
 */
export function queryAudit(db: Db, q: AuditQuery): AuditPage {
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
