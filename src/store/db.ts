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
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  cacheStatements(db);
  immediateTransactions(db);
  migrate(db, migrations);
  return db;
}

/**
 * How long a write waits for another connection's write lock before SQLITE_BUSY (ms). Several
 * processes may share one home (DESIGN.md §10); writes are short, so a long wait is only ever spent
 * behind another process's burst.
 */
export const BUSY_TIMEOUT_MS = 15_000;

/**
 * Runs a synchronous store operation, retrying while SQLite reports the database busy beyond the busy
 * timeout (another process in a long write burst). For records that must not be lost — an audit row,
 * the outcome of an order a venue already accepted — giving up is worse than waiting.
 * @throws the last SQLITE_BUSY after `maxMs` (default 120 s), or any other error at once.
 */
export function retryBusy<T>(fn: () => T, maxMs = 120_000): T {
  const t0 = Date.now();
  let pause = 10;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== "string" || !code.startsWith("SQLITE_BUSY") || Date.now() - t0 > maxMs) throw e;
      // Synchronous callers cannot await: block this thread briefly instead of spinning.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
      pause = Math.min(500, pause * 2);
    }
  }
}

/**
 * A row limit as SQL literal text, for `LIMIT ${sqlLimit(n)}`. SQLite reads a bound LIMIT value
 * while planning, which marks the statement expired whenever the parameter is bound again: every run
 * then re-compiles it (≈ 40 µs instead of ≈ 5 µs on a hot path). A literal keeps one cached
 * statement per distinct limit, and callers use a few fixed limits.
 * @throws RangeError unless `n` is a non-negative safe integer (never text from a caller).
 */
export function sqlLimit(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`row limit must be a non-negative integer, got ${n}`);
  return String(n);
}

/**
 * The exclusive upper bound of the texts starting with `prefix` (its last character + 1), for an
 * indexed prefix range `col >= prefix AND col < prefixEnd(prefix)`: unlike `LIKE 'prefix%'` it uses
 * the index and needs no escaping. `prefix` must not be empty.
 */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Makes every `db.transaction(fn)` begin with `BEGIN IMMEDIATE` (its `.immediate` variant). A
 * deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
 * process wrote in between (the busy timeout cannot help an upgrade from a stale read snapshot);
 * taking the write lock up front makes it wait its turn instead. Nested calls stay savepoints.
 */
function immediateTransactions(db: Database.Database): void {
  const original = db.transaction.bind(db);
  // A transaction (or nested savepoint) that throws is rolled back: rows an in-process cache read
  // inside it may be gone, so the cache epoch moves on.
  const guarded =
    (f: (...args: unknown[]) => unknown) =>
    (...args: unknown[]) => {
      try {
        return f(...args);
      } catch (e) {
        bumpCacheEpoch(db);
        throw e;
      }
    };
  // The immediate variant is run here with better-sqlite3's own steps (lib/methods/transaction.js:
  // BEGIN or SAVEPOINT, the function, COMMIT or RELEASE, rollback on a throw), because building its
  // four variants for every inline `db.transaction(fn)()` cost ≈ 3 % of a replay cycle (issue 15).
  // The other variants are built on first use.
  let steps: Record<
    "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo",
    Database.Statement
  > | null = null;
  const control = () => {
    steps ??= {
      begin: db.prepare("BEGIN IMMEDIATE"),
      commit: db.prepare("COMMIT"),
      rollback: db.prepare("ROLLBACK"),
      savepoint: db.prepare("SAVEPOINT `\t_bs3.\t`"),
      release: db.prepare("RELEASE `\t_bs3.\t`"),
      rollbackTo: db.prepare("ROLLBACK TO `\t_bs3.\t`"),
    };
    return steps;
  };
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    const immediate = function (this: unknown, ...args: unknown[]) {
      const c = control();
      const nested = db.inTransaction;
      (nested ? c.savepoint : c.begin).run();
      try {
        const result = fn.apply(this, args);
        if (result && typeof (result as { then?: unknown }).then === "function")
          throw new TypeError("Transaction function cannot return a promise");
        (nested ? c.release : c.commit).run();
        return result;
      } catch (e) {
        bumpCacheEpoch(db);
        if (db.inTransaction) {
          (nested ? c.rollbackTo : c.rollback).run();
          if (nested) c.release.run();
        }
        throw e;
      }
    };
    let variants: Database.Transaction<(...args: unknown[]) => unknown> | null = null;
    const variant =
      (k: "default" | "deferred" | "exclusive") =>
      (...args: unknown[]) => {
        variants ??= original(fn);
        return guarded(variants[k])(...args);
      };
    // Plain assignments: accessor descriptors (defineProperties) cost more than the transaction.
    const t = immediate as typeof immediate & Record<string, unknown>;
    t.immediate = immediate;
    t.default = variant("default");
    t.deferred = variant("deferred");
    t.exclusive = variant("exclusive");
    t.database = db;
    return t;
  }) as unknown as typeof db.transaction;
}

/**
 * Tables (or groups of tables) whose in-process caches are invalidated separately: `orders` (orders,
 * order_events), `positions`, `fills`, `paper` (the paper venue's own tables and its `paper.*` meta keys),
 * `mirror` (mirror_positions, mirror_accounts) and `meta` (raw writers of the meta table that bypass
 * src/store/meta.ts, whose own writes keep its cache current), `limits` (risk_limits,
 * portfolio_limits) and `control` (control_state).
 */
export type CacheTable =
  | "orders"
  | "positions"
  | "fills"
  | "paper"
  | "mirror"
  | "meta"
  | "limits"
  | "control";

/**
 * One connection's epochs: `n` counts every bump; `all` is the count at the last bump that may have
 * changed anything (a rollback, or a writer that names no table); `tables` the count at the last
 * write of each table. Counts only grow, so "unchanged" is an equality test.
 */
interface Epochs {
  n: number;
  all: number;
  tables: Partial<Record<CacheTable, number>>;
}

const epochs = new WeakMap<Db, Epochs>();

/**
 * In-process cache epoch of a connection (issue 15: the cycle re-reads the same rows several times
 * per instant). A cache of rows keeps the epoch and {@link dataVersion} it read them at and is valid
 * while both are unchanged. Store functions that write cached tables bump it ({@link bumpCacheEpoch});
 * so does every rolled-back transaction or savepoint (src/store/db.ts's transaction wrapper, the
 * replay's tick savepoint), because a rollback can take back rows a cache read after writing them.
 * With `tables`, only writes of those tables (and bumps naming no table) move the value, so a cache
 * of the live orders is not dropped by the paper venue's cursor writes (issue 15, round 4); without,
 * every bump moves it.
 */
export function cacheEpoch(db: Db, tables?: readonly CacheTable[]): number {
  const e = epochs.get(db);
  if (e === undefined) return 0;
  if (tables === undefined) return e.n;
  let v = e.all;
  for (const t of tables) {
    const w = e.tables[t];
    if (w !== undefined && w > v) v = w;
  }
  return v;
}

/**
 * Invalidates the in-process caches of this connection (see {@link cacheEpoch}) that depend on
 * `table`, or every cache when no table is named (rollbacks; writers of several tables).
 */
export function bumpCacheEpoch(db: Db, table?: CacheTable): void {
  let e = epochs.get(db);
  if (e === undefined) {
    e = { n: 0, all: 0, tables: {} };
    epochs.set(db, e);
  }
  e.n += 1;
  if (table === undefined) e.all = e.n;
  else e.tables[table] = e.n;
}

/**
 * A value kept per connection while its cache stamp ({@link cacheEpoch} of `tables`, or of every
 * table when omitted, and {@link dataVersion}) is unchanged: `make()` builds a fresh one after any
 * write that bumps the epoch of those tables, any rollback, or another connection's commit. `memos`
 * is the caller's own map (one per cached table or query), so callers share the invalidation rule,
 * not their values. Costs one `PRAGMA data_version` per call.
 */
export function stampedMemo<T>(
  memos: WeakMap<Db, StampedMemo<T>>,
  db: Db,
  make: () => T,
  tables?: readonly CacheTable[],
): T {
  const epoch = cacheEpoch(db, tables);
  const dv = dataVersion(db);
  let m = memos.get(db);
  if (!m || m.epoch !== epoch || m.dv !== dv) {
    m = { epoch, dv, value: make() };
    memos.set(db, m);
  }
  return m.value;
}

/** One {@link stampedMemo} entry: the value and the stamp it was built at. */
export interface StampedMemo<T> {
  epoch: number;
  dv: number;
  value: T;
}

/**
 * SQLite's `PRAGMA data_version`: changes whenever ANOTHER connection (this process or another
 * process sharing the file, e.g. two `serve` processes on one home) commits. Own writes do not
 * change it; {@link cacheEpoch} covers those.
 */
export function dataVersion(db: Db): number {
  if (exclusiveDbs.has(db)) return 0;
  // A statement of its own (never handed out by `db.prepare`, so its pluck mode stays set): asked
  // about fifty times a replay cycle, where the shared cache's hand-out resets cost more than the
  // PRAGMA itself (issue 15, round 4).
  let stmt = dataVersionStatements.get(db);
  if (stmt === undefined) {
    stmt = (ownPrepare.get(db) ?? db.prepare.bind(db))("PRAGMA data_version").pluck();
    dataVersionStatements.set(db, stmt);
  }
  return stmt.get() as number;
}

const dataVersionStatements = new WeakMap<Db, Database.Statement>();

const exclusiveDbs = new WeakSet<Db>();

/**
 * Declares that no other connection writes `db`'s file while it is open (a replay's own database,
 * `App.exclusive`): {@link dataVersion} then answers 0 without asking SQLite, so the caches stamped
 * with it are invalidated only by this connection's own writes and rollbacks ({@link cacheEpoch}).
 * Issue 15: a replay tick asked ≈ 74 times, two thirds of its SQLite statements. Readers elsewhere
 * (a console on the file) are fine; another writer would leave this connection's caches stale, which
 * the exclusive contract already rules out (its lanes take no cross-process lock either).
 */
export function markExclusive(db: Db): void {
  exclusiveDbs.add(db);
}

/** better-sqlite3's own `prepare` of each connection, before {@link cacheStatements} wraps it. */
const ownPrepare = new WeakMap<Db, (sql: string) => Database.Statement>();

/**
 * Makes `db.prepare` return one cached statement per SQL text: compiling a statement costs more than
 * running it, and store modules call `prepare` inline on hot paths (gate, paper venue, replay). Result
 * modes (`pluck`, `raw`, `expand`) are reset on every hand-out so a caller never inherits another's.
 */
function cacheStatements(db: Database.Database): void {
  const original = db.prepare.bind(db);
  ownPrepare.set(db, original);
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
