import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import { useReplayJournal } from "../../src/store/replayFile.js";
import { tempHome } from "../helpers/app.js";

const require = createRequire(import.meta.url);

describe("replay file journal", () => {
  it("waits for another process reading the file instead of failing with 'database is locked'", async () => {
    const { home, cleanup } = tempHome();
    try {
      const file = join(home, "run.db");
      const db = openDb(file); // WAL, as a replay's file is opened
      // A reader in another process (a poller, a console on the same file) holds a read
      // transaction for 400 ms; leaving WAL needs it gone.
      const reader = spawn(
        process.execPath,
        [
          "-e",
          `const D = require(${JSON.stringify(require.resolve("better-sqlite3"))});
           const r = new D(${JSON.stringify(file)}, { readonly: true, fileMustExist: true });
           r.exec("BEGIN"); r.prepare("SELECT COUNT(*) FROM meta").get();
           process.stdout.write("reading\\n");
           setTimeout(() => { r.exec("COMMIT"); r.close(); }, 400);`,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      await new Promise<void>((resolve) => reader.stdout.once("data", () => resolve()));
      try {
        useReplayJournal(db);
        expect(db.pragma("journal_mode", { simple: true })).toBe("delete");
      } finally {
        db.close();
        await new Promise((r) => reader.once("exit", r));
      }
    } finally {
      cleanup();
    }
  });
});
