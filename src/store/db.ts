import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS, type Migration } from "./migrations/index.js";

/** The better-sqlite3 handle type used across src/store. */
export type Db = Database.Database;

/**
 * Opens (creating if needed) the SQLite file in WAL mode and applies pending migrations.
 * `:memory:` opens a private in-memory database (tests).
 * @throws Error when a migration fails; the failing migration's transaction is rolled back, so the
 *   file stays at the last good version.
 */
export function openDb(path: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  cacheStatements(db);
  migrate(db, migrations);
  return db;
}

/**
 * Makes `db.prepare` return one cached statement per SQL text: compiling a statement costs more than
 * running it, and store modules call `prepare` inline on hot paths (gate, paper venue, replay). Result
 * modes (`pluck`, `raw`, `expand`) are reset on every hand-out so a caller never inherits another's.
 */
function cacheStatements(db: Database.Database): void {
  const original = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      stmt = original(sql);
      cache.set(sql, stmt);
    } else if (stmt.reader) {
      stmt.raw(false);
      stmt.expand(false);
      stmt.pluck(false);
    }
    return stmt;
  }) as typeof db.prepare;
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, in version order, each in its own
 * transaction together with its record (so a failed migration leaves no trace). Tracking applied
 * versions (not only the highest) means a migration numbered below one already applied — areas land
 * in any order — is still applied. `PRAGMA user_version` mirrors the highest applied version.
 * Migrations are append-only: a shipped migration is never edited; a change is a new migration.
 * @returns the versions applied by this call.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const done = new Set(
    (db.prepare("SELECT version FROM schema_migrations").all() as Array<{ version: number }>).map(
      (r) => r.version,
    ),
  );
  const applied: number[] = [];
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.up);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        Date.now(),
      );
      const max = Math.max(m.version, db.pragma("user_version", { simple: true }) as number);
      db.pragma(`user_version = ${max}`);
    })();
    applied.push(m.version);
  }
  return applied;
}

/** Current schema version of a database. */
export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}
