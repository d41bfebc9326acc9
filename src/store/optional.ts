import type { Db } from "./db.js";

/**
 * Read-only views of tables that other areas add in their own migrations (alerts): the console shows
 * them once they exist, without depending on their modules. Column sets are read from the schema.
 */

/** Whether a table exists. */
export function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/**
 * Open alerts, newest first, when an `alerts` table exists (null otherwise): rows whose
 * `resolved_at` is null when that column exists, else every row. Values as stored.
 */
export function openAlerts(
  db: Db,
  limit: number,
): { columns: string[]; rows: Array<Record<string, unknown>> } | null {
  if (!hasTable(db, "alerts")) return null;
  const columns = (db.prepare("PRAGMA table_info(alerts)").all() as Array<{ name: string }>).map(
    (c) => c.name,
  );
  const open = columns.includes("resolved_at") ? "WHERE resolved_at IS NULL" : "";
  const rows = db.prepare(`SELECT * FROM alerts ${open} ORDER BY rowid DESC LIMIT ?`).all(limit) as Array<
    Record<string, unknown>
  >;
  return { columns, rows };
}
