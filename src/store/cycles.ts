import type {
  ApprovedTarget,
  ExecutionPlan,
  FeatureSnapshot,
  TargetChoice,
  TargetPortfolio,
  Weights,
} from "../engine/types.js";
import { blockedCycle, blockedCycles, newestBlockedCycles } from "./cycleBlocks.js";
import type { Db } from "./db.js";

/**
 * Persistence of the minute cycle (migration 004): agent targets, cycles with every stage's output,
 * and engine events. Rows are never updated except a cycle's own completion (status planned → done
 * | failed, with its report) and, in a replay's own database, {@link compactCycles}.
 */

/** A stored agent target. */
export interface StoredTarget {
  id: number;
  ts: number;
  caller: string;
  target: TargetPortfolio;
  expires_at: number;
}

/** Records an agent target valid until `expiresAt` (ms UTC). @returns its id. */
export function insertTarget(
  db: Db,
  t: { ts: number; caller: string; target: TargetPortfolio; expiresAt: number; key?: string },
): number {
  return Number(
    db
      .prepare(
        "INSERT INTO portfolio_targets (ts, caller, payload, expires_at, idempotency_key) VALUES (?, ?, ?, ?, ?)",
      )
      .run(t.ts, t.caller, JSON.stringify(t.target), t.expiresAt, t.key ?? null).lastInsertRowid,
  );
}

/** The newest agent target set at or before `now`, whatever its expiry. */
export function latestTarget(db: Db, now: number): StoredTarget | undefined {
  const r = db
    .prepare(
      "SELECT id, ts, caller, payload, expires_at FROM portfolio_targets WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1",
    )
    .get(now) as { id: number; ts: number; caller: string; payload: string; expires_at: number } | undefined;
  return r
    ? { id: r.id, ts: r.ts, caller: r.caller, target: JSON.parse(r.payload), expires_at: r.expires_at }
    : undefined;
}

/** One cycle row with its stages. */
export interface CycleRecord {
  id: string;
  ts: number;
  venue: string;
  status: "planned" | "done" | "failed";
  mode: string;
  equity: string;
  features: FeatureSnapshot[];
  /** The stage-2 choice; `target.target` is null in a compacted row (see {@link compactCycles}). */
  target: Omit<TargetChoice, "target"> & { target: TargetPortfolio | null };
  approved: ApprovedTarget;
  plan: ExecutionPlan;
  report: CycleReport | null;
  current_weights: Weights;
  finished_at: number | null;
  /**
   * Clips of the risk clip, `approved.rejections.length`, also known when a compacted row dropped the
   * list. Set on every row read from the database.
   */
  clips?: number;
  /** True for a row shrunk by {@link compactCycles} (a replay's older cycles). Set on rows read back. */
  compacted?: boolean;
}

/** Stage 6: what execution did. */
export interface CycleReport {
  sent: number;
  filled: number;
  rejected: number;
  refused: Array<{ client_order_id: string; code: string; message: string }>;
  /** Increasing slices not sent because the rolling-24h notional budget was used up. */
  skipped_budget: number;
  /** Slices (or replaces, or cancels) skipped because the per-minute order/cancel budget was empty. */
  rate_limited?: number;
  /** GTC slices canceled at their timeout, and replaces sent closer to mid. */
  canceled?: number;
  replaced?: number;
  /** Orders that ended with only part filled (IOC remainder canceled, or canceled after a partial fill). */
  partially_filled?: number;
  /** Reduce-only orders sent after execution because the actual book was outside a limit. */
  corrections?: number;
  /** Σ |filled coins| × cycle mid / cycle start equity over this cycle's fills. */
  executed_turnover?: number;
  /** Gross and net of the actual book after execution (position × mark / end equity). */
  end_gross?: number;
  end_net?: number;
  fees: string;
  end_equity: string;
  /** The venue's cash and positions at the end of the cycle (equity = cash + Σ unrealised PnL). */
  end_cash: string;
  end_positions: Array<{
    symbol: string;
    size: string;
    entry_px: string;
    mark_px: string;
    unrealized_pnl: string;
  }>;
}

/** Persists a planned cycle (before any order is sent, so a restart resumes the same plan). */
export function insertCycle(
  db: Db,
  c: Omit<CycleRecord, "status" | "report" | "finished_at" | "clips" | "compacted">,
): void {
  db.prepare(
    `INSERT INTO cycles (id, ts, venue, status, mode, equity, features, target, approved, plan, gross, net, turnover, current_weights)
     VALUES (@id, @ts, @venue, 'planned', @mode, @equity, @features, @target, @approved, @plan, @gross, @net, @turnover, @current_weights)`,
  ).run({
    id: c.id,
    ts: c.ts,
    venue: c.venue,
    mode: c.mode,
    equity: c.equity,
    features: JSON.stringify(c.features),
    target: JSON.stringify(c.target),
    approved: JSON.stringify(c.approved),
    plan: JSON.stringify(c.plan),
    gross: c.approved.gross,
    net: c.approved.net,
    turnover: c.approved.turnover,
    current_weights: JSON.stringify(c.current_weights),
  });
}

/** Every column of a `cycles` row, named as in {@link RawCycle}. */
const INSERT_ROW = `INSERT INTO cycles (id, ts, venue, status, mode, equity, features, target, approved, plan, report,
   gross, net, turnover, current_weights, finished_at)
 VALUES (@id, @ts, @venue, @status, @mode, @equity, @features, @target, @approved, @plan, @report, @gross, @net,
   @turnover, @current_weights, @finished_at)`;

/**
 * Writes a finished cycle that was never stored as `planned`, already compacted: the row
 * {@link compactCycles} would make of it after {@link insertCycle} and {@link finishCycle}, in one
 * insert (issue 15: a replay's cycle was written whole, updated, read back, deleted and written
 * again in its own tick). For a replay's own database only, where a planned row is never committed
 * (src/engine/replay.ts); a live cycle's plan is stored before any order. Run it inside the caller's
 * transaction. @throws SqliteError on a duplicate id.
 */
export function insertCompactedCycle(
  db: Db,
  c: Omit<CycleRecord, "status" | "report" | "finished_at" | "clips" | "compacted">,
  status: "done" | "failed",
  report: CycleReport,
  at: number,
): void {
  // The columns compactParts replaces are left empty: it writes them from the objects.
  const row: RawCycle = {
    id: c.id,
    ts: c.ts,
    venue: c.venue,
    status,
    mode: c.mode,
    equity: c.equity,
    features: "",
    target: "",
    approved: "",
    plan: "",
    report: null,
    gross: c.approved.gross,
    net: c.approved.net,
    turnover: c.approved.turnover,
    current_weights: JSON.stringify(c.current_weights),
    finished_at: at,
  };
  db.prepare(INSERT_ROW).run(compactParts(row, c.target, c.approved, report));
}

/** Marks a cycle done or failed with its report. */
export function finishCycle(
  db: Db,
  id: string,
  status: "done" | "failed",
  report: CycleReport,
  at: number,
): void {
  db.prepare("UPDATE cycles SET status = ?, report = ?, finished_at = ? WHERE id = ?").run(
    status,
    JSON.stringify(report),
    at,
    id,
  );
}

/** A `cycles` row as stored (JSON text columns; see {@link compactCycles} for the compact form). */
export interface RawCycle {
  id: string;
  ts: number;
  venue: string;
  status: CycleRecord["status"];
  mode: string;
  equity: string;
  features: string;
  target: string;
  approved: string;
  plan: string;
  report: string | null;
  gross: number;
  net: number;
  turnover: number;
  /** JSON text; in a compacted row of {@link compactCycles} a BLOB of doubles (see `packNumbers`). */
  current_weights: string | Buffer;
  finished_at: number | null;
}

/** The `plan` column of a compacted row (a whole row always has a plan object with its cycle id). */
const COMPACT_PLAN = "{}";

/** Report counters a compacted row stores only when non-zero. */
const COUNTERS = [
  "sent",
  "filled",
  "rejected",
  "skipped_budget",
  "rate_limited",
  "canceled",
  "replaced",
  "partially_filled",
  "corrections",
] as const;

function parse(r: RawCycle): CycleRecord {
  if (r.plan === COMPACT_PLAN) return parseCompact(r);
  const approved = JSON.parse(r.approved) as ApprovedTarget;
  return {
    id: r.id,
    ts: r.ts,
    venue: r.venue,
    status: r.status,
    mode: r.mode,
    equity: r.equity,
    features: JSON.parse(r.features),
    target: JSON.parse(r.target),
    approved,
    plan: JSON.parse(r.plan),
    report: r.report === null ? null : JSON.parse(r.report),
    current_weights: JSON.parse(r.current_weights as string),
    finished_at: r.finished_at,
    clips: approved.rejections.length,
    compacted: false,
  };
}

/** A compacted row read back in the whole row's shape; what it dropped is empty (see {@link compactCycles}). */
function parseCompact(r: RawCycle): CycleRecord {
  const packed = typeof r.current_weights === "string" ? null : unpackNumbers(r);
  const { clips, ...kept } = packed
    ? packed.approved
    : (JSON.parse(r.approved) as Pick<ApprovedTarget, "weights"> &
        Partial<Pick<ApprovedTarget, "mode">> & { clips: number });
  // Stored only when it differs from the cycle's mode, and `target_id` only when set (see compactRow).
  const approved = { mode: r.mode as ApprovedTarget["mode"], ...kept };
  const stored = packed
    ? packed.report
    : r.report === null
      ? null
      : (JSON.parse(r.report) as Partial<CycleReport>);
  const report: CycleReport | null =
    stored === null
      ? null
      : ({
          ...Object.fromEntries(COUNTERS.map((k) => [k, 0])),
          refused: [],
          fees: "0",
          end_equity: r.equity,
          end_cash: "0",
          end_positions: [],
          ...stored,
        } as CycleReport);
  return {
    id: r.id,
    ts: r.ts,
    venue: r.venue,
    status: r.status,
    mode: r.mode,
    equity: r.equity,
    features: [],
    target: { target_id: null, ...JSON.parse(r.target), target: null },
    approved: { ...approved, rejections: [], gross: r.gross, net: r.net, turnover: r.turnover },
    plan: { cycle_id: r.id, equity: Number(r.equity), slices: [], skipped: [] },
    report,
    current_weights: packed ? packed.current : JSON.parse(r.current_weights as string),
    finished_at: r.finished_at,
    clips,
    compacted: true,
  };
}

/** A decimal string as the shortest one that reads back as the same double (`Number(s)` unchanged). */
const shortNumber = (s: string): string => String(Number(s));

/** The compact form of a whole row (see {@link compactCycles}). */
function compactRow(r: RawCycle): RawCycle {
  return compactParts(
    r,
    JSON.parse(r.target) as TargetChoice,
    JSON.parse(r.approved) as ApprovedTarget,
    r.report === null ? null : (JSON.parse(r.report) as CycleReport),
  );
}

/**
 * The compact form of row `r` given its target, approved vector and report as objects, parsed from
 * the row or the ones it is written from: every column made of them is JSON text again (and packed
 * numbers are read from that text), so both give the same bytes. The `features`, `target`,
 * `approved`, `plan` and `report` of `r` are not read.
 */
function compactParts(
  r: RawCycle,
  target: CycleRecord["target"],
  approved: ApprovedTarget,
  full: CycleReport | null,
): RawCycle {
  let report: string | null = null;
  if (full !== null) {
    const out: Record<string, unknown> = {};
    for (const k of COUNTERS) if (full[k]) out[k] = full[k];
    if (full.refused.length > 0) out.refused = full.refused;
    if (full.fees !== "0") out.fees = full.fees;
    out.end_equity = shortNumber(full.end_equity);
    out.end_cash = shortNumber(full.end_cash);
    for (const k of ["end_gross", "end_net", "executed_turnover"] as const)
      if (full[k] !== undefined) out[k] = full[k];
    report = JSON.stringify(out);
  }
  const json: RawCycle = {
    ...r,
    equity: shortNumber(r.equity),
    features: "[]",
    // `used` and `reason` stay JSON members: the next cycle's fallback event reads them with
    // json_extract (appendFallbackEvent). The target id and the approved mode are left out when they
    // say nothing (no agent target; the same mode as the cycle's): ≈ 30 bytes a cycle.
    target: JSON.stringify(
      target.target_id === null || target.target_id === undefined
        ? { used: target.used, reason: target.reason }
        : { used: target.used, reason: target.reason, target_id: target.target_id },
    ),
    approved: JSON.stringify(
      approved.mode === r.mode
        ? { weights: approved.weights, clips: approved.rejections.length }
        : { weights: approved.weights, mode: approved.mode, clips: approved.rejections.length },
    ),
    plan: COMPACT_PLAN,
    report,
  };
  return packNumbers(json) ?? json;
}

/** Report figures a packed row keeps as doubles, in this order, after the two weight vectors. */
const PACKED_FIGURES = ["end_cash", "end_gross", "end_net", "executed_turnover"] as const;
/** Figures that may be missing from a report; bit i of the stored `m` says `OPTIONAL[i]` is present. */
const OPTIONAL = ["end_gross", "end_net", "executed_turnover"] as const;
const ALL_OPTIONAL = 0b111;

/** Symbols as one space-separated string; undefined when a symbol could not be split back. */
function joinKeys(keys: string[]): string | undefined {
  return keys.some((k) => k === "" || k.includes(" ")) ? undefined : keys.join(" ");
}
const splitKeys = (s: string): string[] => (s === "" ? [] : s.split(" "));

/**
 * A JSON-compacted row with its numbers as 8-byte doubles (issue 15: 17-digit decimals are ≈ 20
 * bytes each): `current_weights` becomes a BLOB of the approved weights, the start weights, then the
 * report's end cash and those of end gross / end net / executed turnover present, each
 * little-endian Float64 — the same doubles, so every figure reads back bit for bit (end cash as its
 * shortest decimal, which is what the JSON form stores). `end_equity` stays a decimal string in
 * `report` (tests and hand queries read it from the column, test/engine/book30d.test.ts). `approved` keeps the
 * symbols (`k`, space-separated; `ck` for the start weights when their symbols differ), `clips` and
 * a mode that differs from the cycle's; `report` keeps its counters, refusals and fees, with `m`
 * (bit i = `OPTIONAL[i]` present) only when an optional figure is missing. Undefined (keep the JSON
 * form) when a value is not a finite number or a symbol holds a space.
 */
function packNumbers(json: RawCycle): RawCycle | undefined {
  const approved = JSON.parse(json.approved) as { weights: Weights; mode?: string; clips: number };
  const current = JSON.parse(json.current_weights as string) as Weights;
  const report = json.report === null ? null : (JSON.parse(json.report) as Record<string, unknown>);
  const k = joinKeys(Object.keys(approved.weights));
  const ck = joinKeys(Object.keys(current));
  if (k === undefined || ck === undefined) return undefined;
  const values = [...Object.values(approved.weights), ...Object.values(current)];
  let mask = 0;
  const rest: Record<string, unknown> = {};
  if (report !== null) {
    for (const [key, v] of Object.entries(report)) {
      if (!(PACKED_FIGURES as readonly string[]).includes(key)) rest[key] = v;
    }
    values.push(Number(report.end_cash));
    OPTIONAL.forEach((key, i) => {
      if (report[key] === undefined) return;
      mask |= 1 << i;
      values.push(report[key] as number);
    });
    if (mask !== ALL_OPTIONAL) rest.m = mask;
  }
  if (!values.every((v) => typeof v === "number" && Number.isFinite(v))) return undefined;
  const buf = Buffer.alloc(values.length * 8);
  for (const [i, v] of values.entries()) buf.writeDoubleLE(v, i * 8);
  const head: Record<string, unknown> = { k, clips: approved.clips };
  if (ck !== k) head.ck = ck;
  if (approved.mode !== undefined) head.mode = approved.mode;
  return {
    ...json,
    approved: JSON.stringify(head),
    report: report === null ? null : JSON.stringify(rest),
    current_weights: buf,
  };
}

/** The approved weights (with clips and a stored mode), start weights and report of a packed row. */
function unpackNumbers(r: RawCycle): {
  approved: { weights: Weights; clips: number; mode?: ApprovedTarget["mode"] };
  current: Weights;
  report: Partial<CycleReport> | null;
} {
  const buf = r.current_weights as Buffer;
  const head = JSON.parse(r.approved) as {
    k: string;
    ck?: string;
    clips: number;
    mode?: ApprovedTarget["mode"];
  };
  let at = 0;
  const next = (): number => {
    const v = buf.readDoubleLE(at);
    at += 8;
    return v;
  };
  const vector = (keys: string[]): Weights => Object.fromEntries(keys.map((s) => [s, next()]));
  const weights = vector(splitKeys(head.k));
  const current = vector(splitKeys(head.ck ?? head.k));
  const approved =
    head.mode === undefined
      ? { weights, clips: head.clips }
      : { weights, mode: head.mode, clips: head.clips };
  if (r.report === null) return { approved, current, report: null };
  const { m = ALL_OPTIONAL, ...rest } = JSON.parse(r.report) as Record<string, unknown> & { m?: number };
  const report: Record<string, unknown> = { ...rest, end_cash: String(next()) };
  OPTIONAL.forEach((key, i) => {
    if (m & (1 << i)) report[key] = next();
  });
  return { approved, current, report: report as Partial<CycleReport> };
}

/** A cycle by id, from `cycles` or a cycle block (src/store/cycleBlocks.ts). */
export function getCycle(db: Db, id: string): CycleRecord | undefined {
  const r =
    (db.prepare("SELECT * FROM cycles WHERE id = ?").get(id) as RawCycle | undefined) ?? blockedCycle(db, id);
  return r ? parse(r) : undefined;
}

/** The newest cycle (any status). */
export function lastCycle(db: Db): CycleRecord | undefined {
  const r =
    (db.prepare("SELECT * FROM cycles ORDER BY ts DESC LIMIT 1").get() as RawCycle | undefined) ??
    newestBlockedCycles(db, 1)[0];
  return r ? parse(r) : undefined;
}

/** The newest cycles first, optionally only those at or after `since` (ms UTC); rows and blocks alike. */
export function recentCycles(db: Db, limit: number, since = 0): CycleRecord[] {
  const rows = db
    .prepare("SELECT * FROM cycles WHERE ts >= ? ORDER BY ts DESC LIMIT ?")
    .all(since, limit) as RawCycle[];
  // Blocks hold only cycles older than every row (src/store/cycleBlocks.ts), so they continue the list.
  if (rows.length < limit) rows.push(...newestBlockedCycles(db, limit - rows.length, since));
  return rows.map(parse);
}

/** Every cycle in time order, blocked ones first (they are the oldest), then rows (tests, replay summary). */
export function* iterateCycles(db: Db): Generator<CycleRecord> {
  for (const r of blockedCycles(db)) yield parse(r);
  for (const r of db.prepare("SELECT * FROM cycles ORDER BY ts").iterate() as IterableIterator<RawCycle>)
    yield parse(r);
}

/**
 * Shrinks finished cycles with `from <= ts < before` (ms UTC) to what history readers use, for a
 * replay's own database (src/engine/replay.ts keeps its newest cycles whole). A compacted row keeps
 * what the replay summary, book checks and charts read: id, time, status, mode, equity, the target's
 * `used`/`reason`/`target_id`, the approved weights and mode with the NUMBER of clips (`clips`),
 * approved gross/net/turnover (the REAL columns), the start weights, every report figure but the end
 * positions, and the finish time. Dropped, and read back empty (`features` and `plan.slices`/`skipped`
 * `[]`, `target.target` null, `approved.rejections` `[]`, `report.end_positions` `[]`, `compacted`
 * true): features (from the candles), the target portfolio (a model's answer stays whole in
 * `cycle_decisions`, an agent's in `portfolio_targets` by `target_id`, the baseline's follows from the
 * candles), the clip list, the plan (every sent slice is an `orders` row with its client order id)
 * and end positions (from `fills`). Equity strings are stored as the shortest decimal of the same
 * double (`Number()` of them is unchanged; exact cash is the paper ledger), report counters only when
 * non-zero. ≈ 7 KB → ≈ 0.5 KB a cycle. Each row is deleted and inserted again so the smaller rows pack
 * together at the table's end (a row shrunk in place keeps its page); every reader orders by `ts`,
 * never by rowid. A cycle still `planned` (a restart may resume it) is never touched. Idempotent; run
 * it inside the caller's transaction.
 * @returns the ids of the cycles it compacted now (oldest first), so the caller can compact their
 * orders' records too.
 */
export function compactCycles(db: Db, from: number, before: number): string[] {
  const rows = db
    .prepare(
      "SELECT * FROM cycles WHERE ts >= ? AND ts < ? AND status <> 'planned' AND plan <> '{}' ORDER BY ts",
    )
    .all(from, before) as RawCycle[];
  const del = db.prepare("DELETE FROM cycles WHERE id = ?");
  const ins = db.prepare(INSERT_ROW);
  for (const r of rows) {
    del.run(r.id);
    ins.run(compactRow(r));
  }
  return rows.map((r) => r.id);
}

/** One engine event. */
export interface EngineEvent {
  id: number;
  ts: number;
  kind: string;
  cycle_id: string | null;
  detail: unknown;
}

/** Appends an engine event (fallback, clip, mode_change, reconcile_diff, reconcile_failure...). */
export function appendEvent(
  db: Db,
  e: { ts: number; kind: string; cycleId?: string | null; detail: unknown },
): void {
  db.prepare("INSERT INTO engine_events (ts, kind, cycle_id, detail) VALUES (?, ?, ?, ?)").run(
    e.ts,
    e.kind,
    e.cycleId ?? null,
    JSON.stringify(e.detail),
  );
}

/**
 * Records that the baseline stood in for a cycle's decision source (`target_fallback` event, detail
 * `{used, reason}`), once per streak (issue 15: events only on change): nothing when the previous
 * cycle `prevCycleId` already fell back with the same `used` and `reason`. Every cycle's own reason
 * stays in its row (`target.reason`) and its `cycle_decisions` row; the events mark where a fallback
 * starts or its reason changes (a skipped tick starts a new streak).
 */
export function appendFallbackEvent(
  db: Db,
  e: { ts: number; cycleId: string; prevCycleId: string; used: string; reason: string },
): void {
  const prev = db
    .prepare(
      "SELECT json_extract(target, '$.used') AS used, json_extract(target, '$.reason') AS reason FROM cycles WHERE id = ?",
    )
    .get(e.prevCycleId) as { used: string; reason: string | null } | undefined;
  if (prev && prev.used === e.used && prev.reason === e.reason) return;
  appendEvent(db, {
    ts: e.ts,
    kind: "target_fallback",
    cycleId: e.cycleId,
    detail: { used: e.used, reason: e.reason },
  });
}

/** Newest events first. */
export function recentEvents(db: Db, limit: number, kind?: string): EngineEvent[] {
  const rows = (
    kind
      ? db.prepare("SELECT * FROM engine_events WHERE kind = ? ORDER BY id DESC LIMIT ?").all(kind, limit)
      : db.prepare("SELECT * FROM engine_events ORDER BY id DESC LIMIT ?").all(limit)
  ) as Array<{ id: number; ts: number; kind: string; cycle_id: string | null; detail: string }>;
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) }));
}
