import type { Command } from "commander";
import { type App, createApp, type CreateAppOptions } from "../app.js";
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

/** Config + App for a one-shot CLI command; closes the app when `fn` settles. */
export async function withApp<T>(
  cmd: Command,
  fn: (app: App) => Promise<T>,
  opts: { overrides?: Record<string, unknown>; app?: CreateAppOptions } = {},
): Promise<T> {
  const app = await createApp(configFrom(cmd, opts.overrides), opts.app);
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
