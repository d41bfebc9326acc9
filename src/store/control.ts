import { bumpCacheEpoch, type Db, type StampedMemo, stampedMemo } from "./db.js";

/**
 * Control mode (kill switch) persisted in SQLite (DESIGN.md §3 step 3). History is append-only: the
 * current mode is the newest row; NORMAL when there is none.
 * NORMAL: everything allowed · REDUCE_ONLY: refuse what increases exposure · HALT: refuse everything
 * that opens or increases exposure (cancels and reduce-only closes still work).
 */
export type ControlMode = "NORMAL" | "REDUCE_ONLY" | "HALT";

/** The current control state. `since` is ms UTC of the change (0 when never set). */
export interface ControlState {
  mode: ControlMode;
  reason: string;
  actor: string;
  since: number;
}

type ControlRow = { mode: ControlMode; reason: string; actor: string; ts: number };
const memo = new WeakMap<Db, StampedMemo<ControlRow | null>>();

/** Reads the current mode. */
export function getControl(db: Db): ControlState {
  // Read by every gate pass and cycle; changes only through setControl or another connection.
  const row = stampedMemo(
    memo,
    db,
    () =>
      (db.prepare("SELECT mode, reason, actor, ts FROM control_state ORDER BY id DESC LIMIT 1").get() as
        | ControlRow
        | undefined) ?? null,
    ["control"],
  );
  return row
    ? { mode: row.mode, reason: row.reason, actor: row.actor, since: row.ts }
    : { mode: "NORMAL", reason: "default", actor: "system", since: 0 };
}

/** Records a new mode (who, why, when). Callers enforce who may loosen; this only writes. */
export function setControl(
  db: Db,
  mode: ControlMode,
  reason: string,
  actor: string,
  now: number,
): ControlState {
  bumpCacheEpoch(db, "control");
  db.prepare("INSERT INTO control_state (ts, mode, reason, actor) VALUES (?, ?, ?, ?)").run(
    now,
    mode,
    reason,
    actor,
  );
  return { mode, reason, actor, since: now };
}

/** Severity order used to decide whether a change tightens or loosens. */
export const MODE_RANK: Readonly<Record<ControlMode, number>> = { NORMAL: 0, REDUCE_ONLY: 1, HALT: 2 };

/** Control changes newest first, optionally only those at or after `since` (ms UTC). */
export function controlHistory(db: Db, limit: number, since?: number): ControlState[] {
  const rows = db
    .prepare("SELECT mode, reason, actor, ts FROM control_state WHERE ts >= ? ORDER BY id DESC LIMIT ?")
    .all(since ?? 0, limit) as Array<{ mode: ControlMode; reason: string; actor: string; ts: number }>;
  return rows.map((r) => ({ mode: r.mode, reason: r.reason, actor: r.actor, since: r.ts }));
}
