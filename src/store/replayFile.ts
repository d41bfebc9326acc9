import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { BUSY_TIMEOUT_MS, type Db, retryBusy } from "./db.js";

/**
 * Storage settings of a replay's own database file (`tradewarden replay`, src/engine/replay.ts;
 * issue 15: file growth and bytes written). Only for a file no other process opens while the replay
 * runs (`exclusive`); the server's database keeps WAL and the default page size.
 */

/** Page size of a new replay file, bytes (see {@link createReplayFile}). */
export const REPLAY_PAGE_SIZE = 4096;

/**
 * Creates the replay file `path` with {@link REPLAY_PAGE_SIZE}-byte pages if it does not exist yet (an
 * existing file, a resumed run, keeps its own). A commit writes (and journals) whole pages around each
 * row it changes, and a page keeps the unused end a row did not fit in. What fits depends on the
 * rows: an order's audit rows are ≈ 1.23 KB (order_propose ≈ 0.91, order_submit ≈ 0.31), so a 2 KB
 * page held one order's and a 4 KB page holds three. Measured on the 7-day replay (round 6, cycles
 * in blocks, no send rows): 4 KB 961, 2 KB 1,052, 1 KB 1,048, 8 KB 1,026 bytes a cycle; bytes
 * written 5.7 vs 5.3 KB a cycle at 4 vs 2 KB, CPU time the same within noise. (Round 4, with three
 * audit rows an order, measured 2 KB best.) Call before
 * the file is opened by `openDb` (the page size is fixed by the first write and cannot change in WAL
 * mode).
 * @throws the SQLite error when the file cannot be created.
 */
export function createReplayFile(path: string): void {
  if (existsSync(path)) return;
  const db = new Database(path);
  try {
    db.pragma(`page_size = ${REPLAY_PAGE_SIZE}`);
    db.exec("VACUUM");
  } finally {
    db.close();
  }
}

/**
 * Journal settings of an open replay file. A rollback journal (`DELETE`) instead of WAL: WAL writes
 * every page twice (to the log, then at the checkpoint), a rollback journal writes a new page once
 * and copies only the pages a commit changes that existed before it. Still safe against kill -9 and
 * power loss: the journal is synced before the file is touched (`synchronous = FULL`, one sync per
 * commit, and a replay commits every few hundred ticks), and the next open rolls a hot journal back,
 * so a killed run resumes from its last commit (test/engine/restart.test.ts). The page cache holds a
 * whole batch of ticks (4 MB at most, used only as needed: a batch dirties ≈ 1.5 MB, and a larger
 * cache wrote no fewer bytes); statement journals (a savepoint per
 * tick) stay in memory (`temp_store`) instead of temporary files. The next `openDb` of the file (a
 * resumed run) turns WAL back on, and this is applied again.
 * @throws Error when another process keeps the file open for longer than `BUSY_TIMEOUT_MS`.
 */
export function useReplayJournal(db: Db): void {
  // Leaving WAL needs every other connection gone, and SQLite reports a reader that has the file
  // open (a poller, a console on the same file) as SQLITE_BUSY at once, without the busy handler:
  // wait as a write would.
  try {
    retryBusy(() => db.pragma("journal_mode = DELETE"), BUSY_TIMEOUT_MS);
  } catch (e) {
    if (!String((e as { code?: unknown }).code).startsWith("SQLITE_BUSY")) throw e;
    throw new Error(
      `another process kept the replay file ${db.name} open for ${BUSY_TIMEOUT_MS / 1000} s; close it (or pass another --db) and run the replay again`,
      { cause: e },
    );
  }
  db.pragma("synchronous = FULL");
  db.pragma("cache_size = -4096");
  db.pragma("temp_store = MEMORY");
}
