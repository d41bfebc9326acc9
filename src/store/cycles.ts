import type {
  ApprovedTarget,
  ExecutionPlan,
  FeatureSnapshot,
  TargetChoice,
  TargetPortfolio,
  Weights,
} from "../engine/types.js";
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
  target: TargetChoice;
  approved: ApprovedTarget;
  plan: ExecutionPlan;
  report: CycleReport | null;
  current_weights: Weights;
  finished_at: number | null;
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
export function insertCycle(db: Db, c: Omit<CycleRecord, "status" | "report" | "finished_at">): void {
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

interface RawCycle {
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
  current_weights: string;
  finished_at: number | null;
}

function parse(r: RawCycle): CycleRecord {
  return {
    id: r.id,
    ts: r.ts,
    venue: r.venue,
    status: r.status,
    mode: r.mode,
    equity: r.equity,
    features: JSON.parse(r.features),
    target: JSON.parse(r.target),
    approved: JSON.parse(r.approved),
    plan: JSON.parse(r.plan),
    report: r.report === null ? null : JSON.parse(r.report),
    current_weights: JSON.parse(r.current_weights),
    finished_at: r.finished_at,
  };
}

/** A cycle by id. */
export function getCycle(db: Db, id: string): CycleRecord | undefined {
  const r = db.prepare("SELECT * FROM cycles WHERE id = ?").get(id) as RawCycle | undefined;
  return r ? parse(r) : undefined;
}

/** The newest cycle (any status). */
export function lastCycle(db: Db): CycleRecord | undefined {
  const r = db.prepare("SELECT * FROM cycles ORDER BY ts DESC LIMIT 1").get() as RawCycle | undefined;
  return r ? parse(r) : undefined;
}

/** The newest cycles first, optionally only those at or after `since` (ms UTC). */
export function recentCycles(db: Db, limit: number, since = 0): CycleRecord[] {
  return (
    db.prepare("SELECT * FROM cycles WHERE ts >= ? ORDER BY ts DESC LIMIT ?").all(since, limit) as RawCycle[]
  ).map(parse);
}

/** Every cycle in time order (tests, replay summary). */
export function* iterateCycles(db: Db): Generator<CycleRecord> {
  for (const r of db.prepare("SELECT * FROM cycles ORDER BY ts").iterate() as IterableIterator<RawCycle>)
    yield parse(r);
}

/**
 * Shrinks the stored detail of finished cycles with `from <= ts < before` (ms UTC) to what history
 * readers use, for a replay's own database (src/engine/replay.ts keeps the newest day in full):
 * `features` becomes `[]`, `plan.slices` `[]` (every sent slice is still an `orders` row with its
 * client order id) and `report.end_positions` `[]` (positions at any time follow from `fills` and the
 * paper ledger). Kept: equity, mode, target, approved (weights and every clip: the console chart and
 * the replay summary read them), current weights, `plan.skipped`, every other report field. The full
 * rows were ≈ 4.8 KB a cycle, most of the replay database. Each row is deleted and inserted again so
 * the smaller rows are packed together at the table's end (a row shrunk in place keeps its page); every
 * reader orders by `ts`, never by rowid. A cycle still `planned` (a restart may resume it) is never
 * touched. Idempotent; run it inside the caller's transaction.
 */
export function compactCycles(db: Db, from: number, before: number): void {
  const rows = db
    .prepare(
      "SELECT * FROM cycles WHERE ts >= ? AND ts < ? AND status <> 'planned' AND features <> '[]' ORDER BY ts",
    )
    .all(from, before) as Array<RawCycle & { gross: number; net: number; turnover: number }>;
  const del = db.prepare("DELETE FROM cycles WHERE id = ?");
  const ins = db.prepare(
    `INSERT INTO cycles (id, ts, venue, status, mode, equity, features, target, approved, plan, report, gross, net,
       turnover, current_weights, finished_at)
     VALUES (@id, @ts, @venue, @status, @mode, @equity, @features, @target, @approved, @plan, @report, @gross, @net,
       @turnover, @current_weights, @finished_at)`,
  );
  for (const r of rows) {
    const report = r.report === null ? null : JSON.stringify({ ...JSON.parse(r.report), end_positions: [] });
    del.run(r.id);
    ins.run({ ...r, features: "[]", plan: JSON.stringify({ ...JSON.parse(r.plan), slices: [] }), report });
  }
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

/** Newest events first. */
export function recentEvents(db: Db, limit: number, kind?: string): EngineEvent[] {
  const rows = (
    kind
      ? db.prepare("SELECT * FROM engine_events WHERE kind = ? ORDER BY id DESC LIMIT ?").all(kind, limit)
      : db.prepare("SELECT * FROM engine_events ORDER BY id DESC LIMIT ?").all(limit)
  ) as Array<{ id: number; ts: number; kind: string; cycle_id: string | null; detail: string }>;
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) }));
}
