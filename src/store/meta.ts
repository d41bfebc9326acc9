import { type Db, type StampedMemo, stampedMemo } from "./db.js";

/**
 * Small key/value state (JSON values) in the `meta` table, e.g. the engine's peak equity, the token
 * buckets and the reconciler's cursors. Values read or written here are kept per connection as their
 * JSON text, valid while the cache epoch and data version are unchanged (src/store/db.ts: a
 * rollback, or another connection's commit, drops them); a write of the text already stored is
 * skipped. The minute cycle reads and writes about a dozen of these per tick (issue 15). The paper
 * venue's `paper.*` keys go through src/exchange/paper/store.ts, whose writes move the epoch.
 */

const caches = new WeakMap<Db, StampedMemo<Map<string, string | null>>>();

function cached(db: Db): Map<string, string | null> {
  return stampedMemo(caches, db, () => new Map());
}

/** A JSON value by key; undefined when absent. */
export function getMeta<T>(db: Db, key: string): T | undefined {
  const values = cached(db);
  let text = values.get(key);
  if (text === undefined) {
    const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    text = row ? row.value : null;
    values.set(key, text);
  }
  return text === null ? undefined : (JSON.parse(text) as T);
}

/** Upserts a JSON value (no write when the stored text is already this). */
export function setMeta(db: Db, key: string, value: unknown): void {
  const text = JSON.stringify(value);
  const values = cached(db);
  if (text !== undefined && values.get(key) === text) return;
  db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(key, text);
  values.set(key, text);
}

/** Every value whose key starts with `prefix`, by key. */
export function metaWithPrefix<T>(db: Db, prefix: string): Map<string, T> {
  const rows = db
    .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?")
    .all(prefix.length, prefix) as Array<{ key: string; value: string }>;
  return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as T]));
}
