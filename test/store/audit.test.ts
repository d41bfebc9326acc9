import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { createApp } from "../../src/app.js";
import { createLogger } from "../../src/log.js";
import {
  AUDIT_FIELD_MAX,
  type AuditEntry,
  appendAudit,
  flushAuditQueue,
  queryAudit,
  AUDIT_GROUP_MAX_ROWS,
  queueAudit,
  verifyAudit,
} from "../../src/store/audit.js";
import { openDb, type Db } from "../../src/store/db.js";
import { call, connectClient, tempHome, testConfig } from "../helpers/app.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function seeded(n: number): { db: Db; home: string } {
  const { home, cleanup } = tempHome();
  cleanups.push(cleanup);
  const db = openDb(join(home, "tradewarden.db"));
  cleanups.unshift(() => db.open && db.close());
  for (let i = 1; i <= n; i++) {
    appendAudit(db, {
      ts: 1_700_000_000_000 + i,
      caller: "memory:agent",
      tool: i % 2 ? "system_get_status" : "audit_query",
      args: { i },
      decision: "allowed",
      durationMs: i,
    });
  }
  // Tampering happens below SQL's guard rails: an attacker with the file can drop the triggers.
  db.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");
  return { db, home };
}

describe("audit log hash chain", () => {
  it("an untouched log verifies", () => {
    const { db } = seeded(5);
    expect(verifyAudit(db)).toMatchObject({ ok: true, rows: 5, anchorLines: 0 });
  });

  it("UPDATE and DELETE are refused by the append-only triggers", () => {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const db = openDb(join(home, "tradewarden.db"));
    appendAudit(db, { ts: 1, caller: "c", tool: "t", args: {}, decision: "allowed", durationMs: 0 });
    expect(() => db.prepare("UPDATE audit_log SET caller = 'x'").run()).toThrow(/append-only/);
    expect(() => db.prepare("DELETE FROM audit_log").run()).toThrow(/append-only/);
    db.close();
  });

  it("an edited row is detected and named", () => {
    const { db } = seeded(5);
    db.prepare("UPDATE audit_log SET args = '{\"i\":99}' WHERE id = 3").run();
    const r = verifyAudit(db);
    expect(r.ok).toBe(false);
    expect(r.firstBadId).toBe(3);
  });

  it("an edit that also recomputes the row's own hash breaks the next link", () => {
    const { db } = seeded(5);
    db.prepare("UPDATE audit_log SET decision = 'refused', hash = 'f00d' WHERE id = 2").run();
    expect(verifyAudit(db).firstBadId).toBe(2);
  });

  it("a deleted row is detected", () => {
    const { db } = seeded(5);
    db.prepare("DELETE FROM audit_log WHERE id = 4").run();
    const r = verifyAudit(db);
    expect(r.ok).toBe(false);
    expect(r.firstBadId).toBe(5);
  });

  it("removing the newest rows is detected through the head", () => {
    const { db } = seeded(5);
    db.prepare("DELETE FROM audit_log WHERE id >= 4").run();
    const r = verifyAudit(db);
    expect(r.ok).toBe(false);
    expect(r.reason).toContain("head");
  });

  it("two swapped rows are detected", () => {
    const { db } = seeded(5);
    const a = db.prepare("SELECT * FROM audit_log WHERE id = 2").get() as Record<string, unknown>;
    const b = db.prepare("SELECT * FROM audit_log WHERE id = 3").get() as Record<string, unknown>;
    const set = db.prepare(
      "UPDATE audit_log SET ts=@ts, caller=@caller, tool=@tool, args=@args, decision=@decision, code=@code, result=@result, duration_ms=@duration_ms, keys=@keys, prev_hash=@prev_hash, hash=@hash WHERE id=@target",
    );
    set.run({ ...b, target: 2 });
    set.run({ ...a, target: 3 });
    const r = verifyAudit(db);
    expect(r.ok).toBe(false);
    expect(r.firstBadId).toBe(2);
  });

  it("`tradewarden audit verify` exits 0 on an intact log and non-zero naming the bad row after tampering", () => {
    const { db, home } = seeded(4);
    const env = { ...process.env, TW_HOME: home, TW_LOG_LEVEL: "silent" };
    const ok = execFileSync("node", [CLI, "audit", "verify"], { env, cwd: home, encoding: "utf8" });
    expect(ok).toContain("4 rows");
    db.prepare("UPDATE audit_log SET caller = 'someone-else' WHERE id = 2").run();
    db.close();
    const bad = spawnSync("node", [CLI, "audit", "verify", "--json"], { env, cwd: home, encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, first_bad_id: 2 });
  });
});

/**
 * The anchor (issue 12, finding 4): an attacker with the database file can rewrite it consistently
 * (drop the triggers, recompute every hash and the head row). The head mirrored to
 * `$TW_HOME/audit.anchor` — or kept elsewhere and passed with `--expect` — still disagrees.
 */
describe("audit anchor", () => {
  /** A home whose log was written by the server (so it is anchored), with n rows. */
  async function anchoredHome(n: number) {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const app = await createApp(testConfig(home), { log: createLogger("silent") });
    for (let i = 1; i <= n; i++) {
      appendAudit(app.db, {
        ts: 1_700_000_000_000 + i,
        caller: "memory:agent",
        tool: "control_halt",
        args: { i },
        decision: "allowed",
        durationMs: 1,
        durable: true,
      });
    }
    await app.close();
    const env = { ...process.env, TW_HOME: home, TW_LOG_LEVEL: "silent" };
    const verify = (...extra: string[]) =>
      spawnSync("node", [CLI, "audit", "verify", "--json", ...extra], { env, cwd: home, encoding: "utf8" });
    const head = () =>
      execFileSync("node", [CLI, "audit", "head"], { env, cwd: home, encoding: "utf8" }).trim();
    const open = () => {
      const db = openDb(join(home, "tradewarden.db"));
      db.exec("DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;");
      return db;
    };
    return { home, verify, head, open };
  }

  /** Recomputes every hash from row `from` on and moves the head: a consistent forgery. */
  function rehash(db: Db, from: number) {
    const rows = db.prepare("SELECT * FROM audit_log WHERE id >= ? ORDER BY id").all(from) as Array<
      Record<string, unknown> & { id: number; prev_hash: string; hash: string }
    >;
    let prev = (
      db.prepare("SELECT hash FROM audit_log WHERE id = ?").get(from - 1) as { hash: string } | undefined
    )?.hash;
    prev ??= "0".repeat(64);
    for (const r of rows) {
      const canon = JSON.stringify([
        r.id,
        r.ts,
        r.caller,
        r.tool,
        r.args,
        r.decision,
        r.code,
        r.result,
        r.duration_ms,
        r.keys,
      ]);
      const hash = createHash("sha256").update(prev).update("\n").update(canon).digest("hex");
      db.prepare("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?").run(prev, hash, r.id);
      prev = hash;
    }
    const n = (db.prepare("SELECT COUNT(*) AS n FROM audit_log").get() as { n: number }).n;
    db.prepare("UPDATE audit_head SET last_id = ?, last_hash = ?, row_count = ?").run(n, prev, n);
  }

  it("an untouched anchored log verifies, and `audit head` prints COUNT:HASH that --expect accepts", async () => {
    const h = await anchoredHome(6);
    const ok = h.verify();
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, rows: 6 });
    expect(JSON.parse(ok.stdout).anchor_lines).toBeGreaterThan(1);
    const head = h.head();
    expect(head).toMatch(/^6:[0-9a-f]{64}$/);
    expect(h.verify("--expect", head).status).toBe(0);
  });

  it("a wiped log (database deleted) fails verify", async () => {
    const h = await anchoredHome(5);
    for (const f of ["tradewarden.db", "tradewarden.db-wal", "tradewarden.db-shm"])
      rmSync(join(h.home, f), { force: true });
    const r = h.verify();
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).reason).toContain("records 5 rows but the log has 0");
  });

  it("a dropped and recreated audit table fails verify", async () => {
    const h = await anchoredHome(5);
    const db = h.open();
    db.exec(
      "DROP TABLE audit_log; DELETE FROM audit_head; CREATE TABLE audit_log (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, caller TEXT NOT NULL, tool TEXT NOT NULL, args TEXT NOT NULL, decision TEXT NOT NULL, code TEXT, result TEXT, duration_ms INTEGER NOT NULL, keys TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
    );
    db.close();
    expect(h.verify().status).toBe(1);
  });

  it("a truncated tail with the head row moved to match fails verify", async () => {
    const h = await anchoredHome(6);
    const db = h.open();
    db.prepare("DELETE FROM audit_log WHERE id > 3").run();
    const last = db.prepare("SELECT hash FROM audit_log WHERE id = 3").get() as { hash: string };
    db.prepare("UPDATE audit_head SET last_id = 3, last_hash = ?, row_count = 3").run(last.hash);
    db.close();
    const r = h.verify();
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).reason).toContain("but the log has 3");
  });

  it("an edit with every later hash and the head recomputed fails verify against the anchor", async () => {
    const h = await anchoredHome(6);
    const db = h.open();
    db.prepare(`UPDATE audit_log SET args = '{"i":42}' WHERE id = 2`).run();
    rehash(db, 2);
    db.close();
    // The chain alone is consistent again: only the anchored heads catch it.
    const r = h.verify();
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).reason).toContain("rows rewritten");
  });

  it("with the anchor file deleted too, a head kept elsewhere still catches a forgery (--expect)", async () => {
    const h = await anchoredHome(6);
    const kept = h.head();
    const db = h.open();
    db.prepare(`UPDATE audit_log SET args = '{"i":7}' WHERE id = 4`).run();
    rehash(db, 4);
    db.prepare("DELETE FROM meta WHERE key = 'audit.anchor'").run();
    db.close();
    rmSync(join(h.home, "audit.anchor"));
    expect(existsSync(join(h.home, "audit.anchor"))).toBe(false);
    const r = h.verify("--expect", kept);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).reason).toContain("--expect");
  });

  it("deleting only the anchor file of an anchored home fails verify", async () => {
    const h = await anchoredHome(3);
    rmSync(join(h.home, "audit.anchor"));
    const r = h.verify();
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).reason).toContain("missing");
  });
});

describe("audit rows cannot fill the log", () => {
  it("a refused call with 4 MB of arguments stores at most 16 KB plus the sha256 of the whole", async () => {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const app = await createApp(testConfig(home), { log: createLogger("silent") });
    try {
      const readonly = await connectClient(app, "readonly");
      const big = "x".repeat(4 * 1024 * 1024);
      const r = await call(readonly, "control_halt", { reason: big });
      expect(r.sc.code).toBe("FORBIDDEN_SCOPE");
      const row = app.db
        .prepare("SELECT args, length(args) AS n FROM audit_log WHERE tool = 'control_halt'")
        .get() as { args: string; n: number };
      expect(row.n).toBeLessThanOrEqual(AUDIT_FIELD_MAX);
      const stored = JSON.parse(row.args);
      const full = JSON.stringify({ reason: big });
      expect(stored).toMatchObject({ truncated: true, bytes: full.length });
      expect(stored.sha256).toBe(createHash("sha256").update(full).digest("hex"));
      expect(verifyAudit(app.db).ok).toBe(true);
    } finally {
      await app.close();
    }
  });
});

describe("group commit of read-only rows (queueAudit)", () => {
  const entry = (i: number, durable = false): AuditEntry => ({
    ts: 1_700_000_000_000 + i,
    caller: "stdio:agent",
    tool: durable ? "order_place" : "strategy_list",
    args: { i },
    decision: "allowed",
    result: { n: i },
    durationMs: 1,
    durable,
  });
  const rowsOf = (db: Db) =>
    db.prepare("SELECT id, ts, tool, args, result, prev_hash, hash FROM audit_log ORDER BY id").all();

  function fresh(): Db {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const db = openDb(join(home, "tradewarden.db"));
    cleanups.unshift(() => db.open && db.close());
    return db;
  }

  it("gives the same chain, byte for byte, as appending one by one, and a durable row lands after the queued ones", () => {
    const one = fresh();
    const grouped = fresh();
    for (let i = 1; i <= 7; i++) appendAudit(one, entry(i, i === 5));
    for (let i = 1; i <= 7; i++) {
      if (i === 5) appendAudit(grouped, entry(i, true));
      else queueAudit(grouped, entry(i), 10);
      if (i === 5) expect(rowsOf(grouped)).toHaveLength(5); // 1–4 queued, written before the durable row
    }
    expect(rowsOf(grouped)).toHaveLength(5);
    flushAuditQueue(grouped);
    expect(rowsOf(grouped)).toEqual(rowsOf(one));
    expect(verifyAudit(grouped)).toMatchObject({ ok: true, rows: 7 });
  });

  it("a queued row is committed within the delay, and readers of this process see it at once", async () => {
    const db = fresh();
    queueAudit(db, entry(1), 10);
    expect(queryAudit(db, { limit: 10 }).rows.map((r) => r.args)).toEqual([{ i: 1 }]);
    queueAudit(db, entry(2), 10);
    expect(rowsOf(db)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 40));
    expect(rowsOf(db)).toHaveLength(2);
  });

  it(`a group of ${AUDIT_GROUP_MAX_ROWS} rows is committed on the next turn of the event loop, not after its delay`, async () => {
    const db = fresh();
    // rowsOf reads the table directly, so it does not flush the queue as this module's readers do.
    for (let i = 1; i < AUDIT_GROUP_MAX_ROWS; i++) queueAudit(db, entry(i), 10_000);
    await new Promise((r) => setImmediate(r));
    expect(rowsOf(db)).toHaveLength(0); // one short of a full group: waits for its delay
    queueAudit(db, entry(AUDIT_GROUP_MAX_ROWS), 10_000);
    expect(rowsOf(db)).toHaveLength(0); // not inside the call that filled it
    await new Promise((r) => setImmediate(r));
    expect(rowsOf(db)).toHaveLength(AUDIT_GROUP_MAX_ROWS);
    queueAudit(db, entry(AUDIT_GROUP_MAX_ROWS + 1), 10_000);
    flushAuditQueue(db);
    expect(verifyAudit(db)).toMatchObject({ ok: true, rows: AUDIT_GROUP_MAX_ROWS + 1 });
    // The 10 s timer of the first rows was replaced, so nothing keeps the test process waiting.
  });

  it("rows hashed when queued are chained again when another process appended before the flush", () => {
    const a = fresh();
    const file = a.name;
    const b = openDb(file);
    cleanups.unshift(() => b.open && b.close());
    appendAudit(a, entry(1, true)); // a now knows the head and hashes what it queues against it
    queueAudit(a, entry(2), 10_000);
    queueAudit(a, entry(3), 10_000);
    appendAudit(b, { ...entry(99, true), caller: "stdio:other" }); // the head moves under a's queue
    flushAuditQueue(a);
    const rows = rowsOf(a) as Array<{ id: number; args: string; prev_hash: string; hash: string }>;
    expect(rows.map((r) => JSON.parse(r.args).i)).toEqual([1, 99, 2, 3]);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
    expect(verifyAudit(a)).toMatchObject({ ok: true, rows: 4 });
    // And a's next queued rows, hashed against the head it just wrote, verify too.
    queueAudit(a, entry(4), 10_000);
    flushAuditQueue(a);
    expect(verifyAudit(b)).toMatchObject({ ok: true, rows: 5 });
  });

  it("keeps what the call returned at queue time, not later edits of the same objects", () => {
    const db = fresh();
    const e = entry(1);
    queueAudit(db, e, 10);
    (e.result as { n: number }).n = 999;
    flushAuditQueue(db);
    expect(queryAudit(db, { limit: 1 }).rows[0].result).toEqual({ n: 1 });
  });
});
