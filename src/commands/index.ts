import type { Command } from "commander";
import type { CliModule } from "./types.js";

/**
 * Every CLI command group, in help order, loaded lazily: `tradewarden --help` and `--version` list
 * the commands from these one-line summaries and import no command module (so no database,
 * exchange or MCP code); running a command imports only its own module. Add one entry per area;
 * the summaries must equal the module's own descriptions (test/cli.test.ts checks it).
 */
export interface CliEntry {
  /** Top-level commands the module registers (commander usage → one-line description). */
  commands: Record<string, string>;
  load: () => Promise<CliModule>;
}

export const CLI_ENTRIES: CliEntry[] = [
  {
    commands: { serve: "serve MCP over stdio (default) or streamable HTTP (--http)" },
    load: async () => (await import("./serve.js")).serveCommand,
  },
  {
    commands: { token: "manage HTTP bearer tokens (stored hashed)" },
    load: async () => (await import("./token.js")).tokenCommand,
  },
  {
    commands: {
      data: "market data: fetch candles and funding to CSV.gz folders, import folders into the store",
    },
    load: async () => (await import("./data.js")).dataCommand,
  },
  {
    commands: { replay: "run the minute cycle on the paper venue over replay data, as fast as possible" },
    load: async () => (await import("./replay.js")).replayCommand,
  },
  {
    commands: { audit: "audit log" },
    load: async () => (await import("./audit.js")).auditCommand,
  },
  {
    commands: { eval: "run the deterministic eval scenarios (evals/scenarios/*.yaml) through an MCP client" },
    load: async () => (await import("./eval.js")).evalCommand,
  },
  {
    commands: {
      backtest:
        "backtest a strategy on CSV/CSV.gz candle folders, by default the embedded data (conventions: docs/backtesting.md)",
    },
    load: async () => (await import("./backtest.js")).backtestCommand,
  },
  {
    commands: {
      "approve <intent_id>":
        "approve an order intent (binds to its exact payload; expires after approval.ttlMs)",
      "reject <intent_id>": "reject an order intent (final)",
    },
    load: async () => (await import("./approve.js")).approveCommand,
  },
  {
    commands: { "control <mode>": "halt | reduce-only | resume | flatten trading, or show the status" },
    load: async () => (await import("./control.js")).controlCommand,
  },
  {
    commands: { alerts: "list, acknowledge and test alerts" },
    load: async () => (await import("./alerts.js")).alertsCommand,
  },
  {
    commands: {
      console: "serve the operator console in the browser (log in with an operator or readonly token)",
    },
    load: async () => (await import("./console.js")).consoleCommand,
  },
];

/** The command name the arguments invoke (`help X` → X), skipping root options and their values. */
export function invokedCommand(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-c" || a === "--config") i++;
    else if (!a.startsWith("-")) return a === "help" ? argv[i + 1] : a;
  }
  return undefined;
}

/**
 * Registers the commands for `argv`: the invoked command's module only, or (for help, version and
 * unknown commands) a summary stub of every command.
 */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const name = invokedCommand(argv);
  const hit = CLI_ENTRIES.find((e) => Object.keys(e.commands).some((u) => u.split(" ")[0] === name));
  if (hit) {
    (await hit.load()).register(program);
    return;
  }
  for (const e of CLI_ENTRIES) {
    for (const [usage, summary] of Object.entries(e.commands)) program.command(usage).description(summary);
  }
}
