import type { Command } from "commander";
import type { App, CreateAppOptions } from "../app.js";
import { ConfigError, type Config, loadConfig } from "../config.js";

/** Exit codes: 0 ok, 1 failure (e.g. audit verify found tampering), 2 bad configuration or usage. */
export const EXIT = { OK: 0, FAIL: 1, CONFIG: 2 } as const;

/**
 * Loads config from the root program's `--config` option and the environment. On a bad config it
 * prints every problem to stderr and exits 2 without writing anything.
 */
export function configFrom(cmd: Command, overrides: Record<string, unknown> = {}): Config {
  const root = rootOf(cmd);
  try {
    return loadConfig({ configPath: root.opts().config as string | undefined, overrides });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tradewarden: ${e.message}\n`);
      process.exit(EXIT.CONFIG);
    }
    throw e;
  }
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * Log level of a one-shot command: the configured level, except that the default `info` becomes
 * `warn` — a command prints its answer, not the server's start-up lines; warnings and errors still
 * reach stderr, and TW_LOG_LEVEL=debug still shows everything.
 */
export function commandLogLevel(level: string): string {
  return level === "info" ? "warn" : level;
}

/**
 * Config + App for a one-shot CLI command (role `command`: no knowledge reindex, quiet logger);
 * closes the app when `fn` settles. The app module is imported here, lazily, so `--help` and
 * `--version` never load the database, exchange or MCP code.
 */
export async function withApp<T>(
  cmd: Command,
  fn: (app: App) => Promise<T>,
  opts: { overrides?: Record<string, unknown>; app?: CreateAppOptions } = {},
): Promise<T> {
  const cfg = configFrom(cmd, opts.overrides);
  const [{ createApp }, { createLogger }] = await Promise.all([import("../app.js"), import("../log.js")]);
  const app = await createApp(cfg, {
    role: "command",
    log: createLogger(commandLogLevel(cfg.logLevel)),
    ...opts.app,
  });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

/** Writes one JSON document to stdout (for `--json` outputs; keys are snake_case). */
export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}
