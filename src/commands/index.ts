import type { CliModule } from "./types.js";

/** Every CLI command group, in help order. Add one line per area. */
export const CLI_MODULES: CliModule[] = [];
