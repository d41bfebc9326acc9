import type { Db } from "./db.js";

/** Small key/value state (JSON values) in the `meta` table, e.g. the engine's peak equity. */
export function getMeta<T>(db: Db, key: string): T | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : undefined;
}

/** Upserts a JSON value. */
export function setMeta(db: Db, key: string, value: unknown): void {
  db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(key, JSON.stringify(value));
}

/** Every value whose key starts with `prefix`, by key. */
export function metaWithPrefix<T>(db: Db, prefix: string): Map<string, T> {
  const rows = db
    .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?")
    .all(prefix.length, prefix) as Array<{ key: string; value: string }>;
  return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as T]));
}
