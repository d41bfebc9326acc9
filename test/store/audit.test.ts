import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { appendAudit, verifyAudit } from "../../src/store/audit.js";
import { openDb, type Db } from "../../src/store/db.js";
import { tempHome } from "../helpers/app.js";

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
    expect(verifyAudit(db)).toEqual({ ok: true, rows: 5 });
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
