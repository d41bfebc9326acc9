import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/store/audit.js";
import { iterateCycles } from "../../src/store/cycles.js";
import { openDb } from "../../src/store/db.js";
import { REPLAY_30D, tempHome } from "../helpers/app.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const ARGS = [
  "replay",
  "--data",
  REPLAY_30D,
  "--from",
  "2025-05-26T00:00:00Z",
  "--to",
  "2025-05-27T00:00:00Z",
  "--json",
];
/** Cycles in the window: one a minute, both ends included. */
const CYCLES = 1441;

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function env(home: string): NodeJS.ProcessEnv {
  return { ...process.env, TW_HOME: home, TW_LOG_LEVEL: "silent" };
}

/** The run's database: an explicit --db, so a re-run with the same flag resumes it. */
const runDb = (home: string) => join(home, "run.db");
const args = (home: string) => [CLI, ...ARGS, "--db", runDb(home)];

/**
 * Finished cycles in the running replay's file, read through a plain read-only connection: the
 * replay's file is its own (rollback journal, src/store/replayFile.ts), and `openDb` would turn it
 * to WAL and check migrations under the writer's feet — a poll that did so every 20 ms once made the
 * child die at its first commit, unseen (its stderr was ignored).
 */
function cyclesDone(home: string): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(runDb(home), { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 1000");
    // Older cycles move into blocks of finished cycles (src/store/cycleBlocks.ts); both count.
    const rows = (db.prepare("SELECT COUNT(*) AS n FROM cycles WHERE status = 'done'").get() as { n: number })
      .n;
    const blocked = (db.prepare("SELECT COALESCE(SUM(n), 0) AS n FROM cycle_blocks").get() as { n: number })
      .n;
    return rows + blocked;
  } catch {
    // Not created yet, or its schema not yet committed.
    return 0;
  } finally {
    db?.close();
  }
}

describe("replay restart", () => {
  it("a replay killed mid-run resumes consistently: no client order id is sent twice and the summary equals an uninterrupted run", async () => {
    const a = tempHome();
    const b = tempHome();
    cleanups.push(a.cleanup, b.cleanup);

    // Kill the first run with SIGKILL once it is well into the window: polled every 20 ms, as a
    // replay commits every 240 ticks and now runs the whole window in a few seconds.
    const child = spawn("node", args(a.home), { env: env(a.home), stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((r) =>
      child.on("exit", (code) => {
        exitCode = code;
        r();
      }),
    );
    let killed = false;
    for (let i = 0; i < 15_000 && !killed && exitCode === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      if (cyclesDone(a.home) >= 150) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
    await exited;
    // A child that ended on its own (finished, or failed) before the kill shows why.
    expect(killed, `the replay exited with ${exitCode} before the kill: ${stderr}`).toBe(true);
    const before = cyclesDone(a.home);
    expect(before).toBeGreaterThanOrEqual(150);
    expect(before).toBeLessThan(CYCLES);

    const resumed = spawnSync("node", args(a.home), { env: env(a.home), encoding: "utf8" });
    expect(resumed.status, resumed.stderr).toBe(0);
    const straight = spawnSync("node", args(b.home), { env: env(b.home), encoding: "utf8" });
    expect(straight.status, straight.stderr).toBe(0);

    const { cycles_per_second: _r, db: dbA, run_id: _ra, ...r } = JSON.parse(resumed.stdout);
    const { cycles_per_second: _s, db: _dbB, run_id: _rb, ...s } = JSON.parse(straight.stdout);
    expect(dbA).toBe(runDb(a.home));
    expect(r).toEqual(s);
    expect(r.orders).toBeGreaterThan(0);

    const db = openDb(runDb(a.home));
    cleanups.unshift(() => db.close());
    const dupVenue = db
      .prepare(
        "SELECT client_order_id, COUNT(*) AS n FROM paper_orders GROUP BY client_order_id HAVING n > 1",
      )
      .all();
    expect(dupVenue).toEqual([]);
    const cycles = [...iterateCycles(db)];
    expect(cycles).toHaveLength(CYCLES);
    expect(new Set(cycles.map((c) => c.status))).toEqual(new Set(["done"]));
    // The audit chain of the resumed run verifies against every head its anchor file recorded,
    // including those written before the kill (an anchor line must never name an uncommitted row).
    const audit = verifyAudit(db, { anchorPath: `${runDb(a.home)}.anchor` });
    expect(audit.ok, audit.reason).toBe(true);
    expect(audit.anchorLines).toBeGreaterThan(0);
  }, 600_000);
});
