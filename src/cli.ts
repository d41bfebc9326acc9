#!/usr/bin/env node
import { Command } from "commander";
import { registerCommands } from "./commands/index.js";
import { TwError } from "./errors.js";
import { scrubSecrets } from "./secrets.js";
import { VERSION } from "./version.js";

/**
 * Entry point: `tradewarden serve | replay | data | token | approve | reject | control | audit |
 * backtest | eval`. Every subcommand lives in src/commands/ and is imported only when it runs
 * (src/commands/index.ts), so `--help` and `--version` answer without loading the database,
 * exchange or MCP code. Logs go to stderr; stdout carries MCP messages (serve over stdio) or the
 * command's result (`--json`: one JSON document, snake_case).
 */
const program = new Command();
program
  .name("tradewarden")
  .description("MCP server for governed AI access to crypto perpetuals")
  .version(VERSION)
  .option("-c, --config <path>", "config file (default ./tradewarden.config.json)")
  .showHelpAfterError();

registerCommands(program, process.argv.slice(2))
  .then(() => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    // A bad setting found while starting (e.g. a malformed exchange key) is a configuration error:
    // exit 2 like the config loader, naming the problem (TwError messages never carry secrets).
    if (err instanceof TwError && err.code === "CONFIG_INVALID") {
      process.stderr.write(`tradewarden: CONFIG_INVALID: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(
      `tradewarden: ${err instanceof Error ? scrubSecrets(err.message) : "unknown error"}\n`,
    );
    process.exit(1);
  });
