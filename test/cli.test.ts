import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { CLI_ENTRIES } from "../src/commands/index.js";
import { openDb } from "../src/store/db.js";
import { perTest } from "./helpers/app.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli.js");
const TRACE = join(import.meta.dirname, "helpers", "loadTrace.mjs");

const { home, defer } = perTest();
// These tests start real processes (CLI, serve): minutes on a loaded machine, not seconds.
vi.setConfig({ testTimeout: 240_000 });

/** Runs the built CLI on a home with the default log level (TW_LOG_LEVEL unset). */
function run(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const { TW_LOG_LEVEL: _l, ...rest } = process.env;
  return spawnSync("node", [...nodeArgs, CLI, ...args], {
    env: { ...rest, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
}

/**
 * Module URLs a CLI invocation loaded (through the loader hook in test/helpers/loadTrace.mjs). The
 * CLI is bundled (scripts/build-cli.mjs): a loaded bundle file stands for the modules
 * dist/chunks/sources.json lists in it — ours named as tsc would emit them (src/x/y.ts → dist/x/y.js),
 * bundled packages by their node_modules path — so the checks below see what a command loaded,
 * bundled or not.
 */
function modulesLoaded(args: string[]): string[] {
  const out = join(home(), "modules.txt");
  const r = run(args, { TW_LOAD_TRACE: out, TW_HOME: home() }, ["--import", TRACE]);
  expect(r.status, r.stderr).toBe(0);
  const bundled = JSON.parse(readFileSync(join(ROOT, "dist", "chunks", "sources.json"), "utf8")) as Record<
    string,
    string[]
  >;
  return readFileSync(out, "utf8")
    .trim()
    .split("\n")
    .flatMap((u) => {
      const file = Object.keys(bundled).find((f) => u.endsWith(`/${f}`));
      if (!file) return [u];
      return [
        u,
        ...bundled[file].map((s) =>
          s.startsWith("src/")
            ? `file://${ROOT}/dist/${s.slice(4).replace(/\.ts$/, ".js")}`
            : `file://${ROOT}/${s}`,
        ),
      ];
    });
}

// What a quick answer must not load: the database driver, MCP, the exchange SDKs, the HTTP stack,
// the logger, and our own store, exchange, server, tool, engine and policy code.
const HEAVY =
  /node_modules\/(better-sqlite3|@modelcontextprotocol|ccxt|@nktkas|viem|express|pino)\/|dist\/(store|exchange|server|tools|engine|policy|backtest|knowledge|evals)\/|dist\/app\.js/;

describe("a CLI that feels fast", () => {
  it("--version and --help load no database, exchange or MCP module", () => {
    for (const args of [["--version"], ["--help"], ["help"]]) {
      const loaded = modulesLoaded(args);
      expect(
        loaded.some((u) => u.endsWith("dist/cli.js")),
        args.join(" "),
      ).toBe(true);
      expect(
        loaded.filter((u) => HEAVY.test(u)),
        args.join(" "),
      ).toEqual([]);
    }
    // The loader hook sees heavy modules when they do load: a command that opens the database.
    const token = modulesLoaded(["token", "list"]);
    expect(token.some((u) => u.includes("better-sqlite3"))).toBe(true);
    // ...and our own modules and bundled packages inside bundle chunks.
    expect(token.some((u) => u.endsWith("dist/store/db.js"))).toBe(true);
    expect(token.some((u) => u.includes("node_modules/@modelcontextprotocol/sdk/"))).toBe(true);
  });

  it("the help summaries are the commands' own descriptions", async () => {
    for (const e of CLI_ENTRIES) {
      const p = new Command();
      (await e.load()).register(p);
      const own = Object.fromEntries(
        p.commands.map((c) => [
          [c.name(), ...c.registeredArguments.map((a) => `<${a.name()}>`)].join(" "),
          c.description(),
        ]),
      );
      expect(own).toEqual(e.commands);
    }
  });
});

describe("a CLI that is quiet", () => {
  it("token list, control status and audit verify print no log lines at the default level and do not index the knowledge folder", () => {
    const h = home();
    for (const args of [
      ["token", "list"],
      ["control", "status"],
      ["audit", "verify"],
    ]) {
      const r = run(args, { TW_HOME: h });
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stderr, args.join(" ")).toBe("");
    }
    const db = openDb(join(h, "tradewarden.db"));
    defer(() => db.close());
    expect((db.prepare("SELECT COUNT(*) AS n FROM rag_files").get() as { n: number }).n).toBe(0);
    // Warnings still reach stderr: a debug level is honoured too.
    const loud = run(["token", "list"], { TW_HOME: h, TW_LOG_LEVEL: "debug" });
    expect(loud.status).toBe(0);
  });

  it("control status on a fresh home says the mode was never changed, not since 1970", () => {
    const h = home();
    const text = run(["control", "status"], { TW_HOME: h });
    expect(text.stdout).toBe("NORMAL (default: the mode was never changed)\n");
    expect(text.stdout).not.toContain("1970");
    const json = JSON.parse(run(["control", "status", "--json"], { TW_HOME: h }).stdout);
    expect(json).toEqual({ mode: "NORMAL", reason: "default", actor: "system", since: null });
    expect(run(["control", "halt", "--reason", "test halt"], { TW_HOME: h }).status).toBe(0);
    const after = run(["control", "status"], { TW_HOME: h }).stdout;
    expect(after).toMatch(/^HALT since 20\d\d-\d\d-\d\dT[\d:.]+Z by cli:.+: test halt\n$/);
  });
});

describe("start-up refuses a bad setup with exit 2 and says what to do", () => {
  it("TW_TOOLSETS naming an unknown toolset stops start-up with the list of valid names", () => {
    const r = run(["serve"], { TW_HOME: home(), TW_TOOLSETS: "market,trading" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("TW_TOOLSETS");
    expect(r.stderr).toContain('"trading"');
    for (const n of ["system", "market", "research", "orders", "portfolio", "control", "audit"]) {
      expect(r.stderr).toContain(n);
    }
  });

  it('serve --http on a port in use exits 2 with "port N is in use" and starts nothing', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    defer(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const h = home();
    const r = run(["serve", "--http", "--port", String(port)], { TW_HOME: h, TW_CYCLE_ENABLED: "true" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`port ${port} is in use`);
    expect(r.stderr).not.toContain("Cannot read properties");
  });
});
