import { hostname } from "node:os";
import type { Db } from "./db.js";

/**
 * Named leases in the shared database (DESIGN.md §10): several processes on one home agree on who
 * holds what — the background-job lease (`background`) and one execution-lane lock per venue account
 * (`lane:<venue>`). A lease is held until released or until `expires_at` (wall-clock ms UTC, never
 * a simulated clock); its holder renews it while working. A lease whose holder is a dead process on
 * this machine is taken over at once (kill -9 must not stall the others for a whole TTL).
 */

/** A lease row. Times are wall-clock ms UTC. */
export interface LeaseRow {
  name: string;
  /** Unique per process and purpose: `<host>:<pid>:<random>`. */
  holder: string;
  host: string;
  pid: number;
  acquired_at: number;
  renewed_at: number;
  expires_at: number;
}

/** This process's identity as a lease holder (host and pid). */
export const SELF = { host: hostname(), pid: process.pid };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a lease is free for `holder` at `now`: absent, expired, ours, or held by a dead local process. */
function takeable(row: LeaseRow | undefined, holder: string, now: number): boolean {
  if (!row || row.holder === holder || row.expires_at <= now) return true;
  return row.host === SELF.host && row.pid !== SELF.pid && !alive(row.pid);
}

/** Reads a lease. */
export function getLease(db: Db, name: string): LeaseRow | undefined {
  return db.prepare("SELECT * FROM leases WHERE name = ?").get(name) as LeaseRow | undefined;
}

/**
 * Takes (or renews) a lease for `ttlMs` if it is free. One short `BEGIN IMMEDIATE` transaction, so
 * two processes can never both succeed.
 * @returns true when `holder` holds the lease afterwards.
 */
export function tryAcquireLease(
  db: Db,
  name: string,
  holder: string,
  ttlMs: number,
  now = Date.now(),
): boolean {
  return db.transaction((): boolean => {
    const row = getLease(db, name);
    if (!takeable(row, holder, now)) return false;
    db.prepare(
      `INSERT INTO leases (name, holder, host, pid, acquired_at, renewed_at, expires_at)
       VALUES (@name, @holder, @host, @pid, @now, @now, @exp)
       ON CONFLICT(name) DO UPDATE SET holder = @holder, host = @host, pid = @pid,
         acquired_at = CASE WHEN leases.holder = @holder THEN leases.acquired_at ELSE @now END,
         renewed_at = @now, expires_at = @exp`,
    ).run({ name, holder, host: SELF.host, pid: SELF.pid, now, exp: now + ttlMs });
    return true;
  })();
}

/** Extends a lease still held by `holder`. @returns false when it was lost (expired and taken). */
export function renewLease(db: Db, name: string, holder: string, ttlMs: number, now = Date.now()): boolean {
  return (
    db
      .prepare("UPDATE leases SET renewed_at = ?, expires_at = ? WHERE name = ? AND holder = ?")
      .run(now, now + ttlMs, name, holder).changes === 1
  );
}

/** Gives a lease up (no-op when someone else holds it now). */
export function releaseLease(db: Db, name: string, holder: string): void {
  db.prepare("DELETE FROM leases WHERE name = ? AND holder = ?").run(name, holder);
}
