import { type Db, type StampedMemo, stampedMemo } from "./db.js";

/**
 * Small key/value state (JSON values) in the `meta` table, e.g. the engine's peak equity, the token
 * buckets and the reconciler's cursors. Values read or written here are kept per connection as their
 * JSON text, valid while the cache epoch and data version are unchanged (src/store/db.ts: a
 * rollback, or another connection's commit, drops them); a write of the text already stored is
 * skipped. The minute cycle reads and writes about a dozen of these per tick (issue 15). The paper
 * venue's `paper.*` keys (raw text, not JSON) go through src/exchange/paper/store.ts, which uses
 * {@link getMetaText}/{@link setMetaText} and moves the `paper` epoch for the venue's own memo. A
 * writer of `meta` that bypasses this module must call `bumpCacheEpoch(db, "meta")`.
 */

const caches = new WeakMap<Db, StampedMemo<Map<string, string | null>>>();

// Only the `meta` epoch: writes through this module keep the cache current, so the minute cycle's
// writes of other tables (orders, paper cursors) no longer drop a dozen values every tick.
const TABLES = ["meta"] as const;

function cached(db: Db): Map<string, string | null> {
  return stampedMemo(caches, db, () => new Map(), TABLES);
}

/** The stored text of a key (JSON for this module's values, raw for the paper venue's); undefined when absent. */
export function getMetaText(db: Db, key: string): string | undefined {
  const values = cached(db);
  let text = values.get(key);
  if (text === undefined) {
    const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
    text = row ? row.value : null;
    values.set(key, text);
  }
  return text === null ? undefined : text;
}

/** Upserts the stored text of a key (no write when it is already this text). */
export function setMetaText(db: Db, key: string, text: string): void {
  const values = cached(db);
  const stored = values.get(key);
  // `stored` undefined = not read yet; a text that is no string (JSON of undefined) still reaches
  // SQLite, which refuses it.
  if (stored !== undefined && stored === text) return;
  db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(key, text);
  values.set(key, text);
}

/** A JSON value by key; undefined when absent. */
export function getMeta<T>(db: Db, key: string): T | undefined {
  const text = getMetaText(db, key);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/** Upserts a JSON value (no write when the stored text is already this). */
export function setMeta(db: Db, key: string, value: unknown): void {
  setMetaText(db, key, JSON.stringify(value));
}

/** Every value whose key starts with `prefix`, by key. */
export function metaWithPrefix<T>(db: Db, prefix: string): Map<string, T> {
  const rows = db
    .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?")
    .all(prefix.length, prefix) as Array<{ key: string; value: string }>;
  return new Map(rows.map((r) => [r.key, JSON.parse(r.value) as T]));
}
