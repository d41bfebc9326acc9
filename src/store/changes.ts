import type { Db } from "./db.js";

/**
 * Change marks for live views (the console's server-sent events): the newest row id of each
 * append-mostly table. Comparing two readings tells which kinds of data changed, across processes
 * sharing the database file, without triggers or a bus. `cycles` counts rows and finished ones (a
 * cycle row is updated once when it finishes; moving cycles into a block leaves the mark unchanged).
 */

/** Kinds of data a live view can follow. */
export const CHANGE_KINDS = [
  "audit",
  "intents",
  "approvals",
  "orders",
  "fills",
  "control",
  "cycles",
] as const;
/** One kind of data. */
export type ChangeKind = (typeof CHANGE_KINDS)[number];
/** Newest marker per kind. */
export type ChangeMarks = Record<ChangeKind, number>;

/** Reads the current marks (one query). */
export function changeMarks(db: Db): ChangeMarks {
  return db
    .prepare(
      `SELECT
        (SELECT COALESCE(MAX(id), 0) FROM audit_log) AS audit,
        (SELECT COALESCE(MAX(rowid), 0) FROM intents) AS intents,
        (SELECT COALESCE(MAX(id), 0) FROM approvals) AS approvals,
        (SELECT COALESCE(MAX(id), 0) FROM order_events) AS orders,
        (SELECT COALESCE(MAX(id), 0) FROM fills) AS fills,
        (SELECT COALESCE(MAX(id), 0) FROM control_state) AS control,
        (SELECT COUNT(*) + COUNT(finished_at) FROM cycles)
          + (SELECT COALESCE(SUM(n + finished), 0) FROM cycle_blocks) AS cycles`,
    )
    .get() as ChangeMarks;
}

/** Kinds whose mark differs between two readings. */
export function changedKinds(before: ChangeMarks, after: ChangeMarks): ChangeKind[] {
  return CHANGE_KINDS.filter((k) => before[k] !== after[k]);
}
