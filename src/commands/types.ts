import type { Command } from "commander";

/**
 * A CLI command group. Each area adds one file under src/commands/ and one entry in
 * src/commands/index.ts; `register` attaches subcommands to the root program.
 */
export interface CliModule {
  register(program: Command): void;
}
