import { join, resolve } from "node:path";
import { packageRoot } from "../packageRoot.js";

/**
 * Where the eval harness finds things: the repository root and its data/ folder, resolved from the
 * package root (src/packageRoot.ts) so the harness works from `dist/`, the bundled CLI and `src/`.
 */

/** Absolute path of the package root (the directory holding package.json). */
export const repoRoot = packageRoot;

/** `TW_DATA` when set, else the repository's data/ folder (real market data; data/README.md). */
export function evalDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.TW_DATA;
  return v && v !== "" ? resolve(v) : join(repoRoot(), "data");
}

/** Default replay folder: 30 days of 1m candles for BTC, ETH, SOL, ADA, DOGE. */
export function defaultReplayDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(evalDataDir(env), "ohlcv", "binance_usdm_perp_1m_2025-05-25_2025-06-24");
}

/** Folder of the shipped scenario files. */
export function scenarioDir(): string {
  return join(repoRoot(), "evals", "scenarios");
}

/** The built CLI used by the stdio and HTTP transports (`npm run build` first). */
export function cliPath(): string {
  return join(repoRoot(), "dist", "cli.js");
}
