import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { migrate, openDb, schemaVersion } from "../../src/store/db.js";
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import { tempHome } from "../helpers/app.js";

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe("store migrations", () => {
  it("a fresh database migrates to the newest version in WAL mode", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    const db = openDb(join(t.home, "a.db"));
    expect(schemaVersion(db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
  });

  it("a database at an older version migrates forward and keeps its rows", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    const path = join(t.home, "old.db");
    const old = openDb(
      path,
      MIGRATIONS.filter((m) => m.version === 1),
    );
    expect(schemaVersion(old)).toBe(1);
    old.prepare("INSERT INTO meta (key, value) VALUES ('kept', 'yes')").run();
    old.close();
    const db = openDb(path);
    expect(schemaVersion(db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.prepare("SELECT value FROM meta WHERE key = 'kept'").get()).toEqual({ value: "yes" });
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it("a failing migration rolls back and leaves the version unchanged", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    const db = openDb(
      join(t.home, "b.db"),
      MIGRATIONS.filter((m) => m.version === 1),
    );
    const broken = [{ version: 999, name: "broken", up: "CREATE TABLE ok_table (x); THIS IS NOT SQL;" }];
    expect(() => migrate(db, broken)).toThrow();
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'ok_table'").get()).toBeUndefined();
    db.close();
  });
});

describe("migration order", () => {
  it("a migration numbered below one already applied is still applied (areas land in any order)", () => {
    const t = tempHome();
    const db = openDb(
      join(t.home, "c.db"),
      MIGRATIONS.filter((m) => m.version === 1),
    );
    const late = [
      { version: 3, name: "three", up: "CREATE TABLE t3 (x)" },
      { version: 2, name: "two", up: "CREATE TABLE t2 (x)" },
    ];
    expect(migrate(db, [late[0]])).toEqual([3]);
    expect(migrate(db, late)).toEqual([2]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 't2'").get()).toEqual({ name: "t2" });
    expect(schemaVersion(db)).toBe(3);
    db.close();
    t.cleanup();
  });
});
