import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach } from "vitest";
import { type App, createApp } from "../../src/app.js";
import type { Clock } from "../../src/clock.js";
import { type Config, loadConfig } from "../../src/config.js";
import { dataDir, embeddedCandlesDir, embeddedFundingDir } from "../../src/exchange/replay/embedded.js";
import { createLogger } from "../../src/log.js";
import { callerFor, type Profile } from "../../src/policy/scopes.js";
import { createMcpServer } from "../../src/server/mcp.js";

/** Absolute path of the repository's data/ folder (real market data and fixtures; data/README.md). */
export const DATA = dataDir();
/** The 30-day, 5-coin 1m replay folder. */
export const REPLAY_30D = embeddedCandlesDir();
/** Funding of the five coins, 2025-05-01 → 2025-06-30. */
export const FUNDING = embeddedFundingDir();

/** A fresh temporary TW_HOME; remove with the returned cleanup. */
export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), "tw-test-"));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** Config for tests: a temp home plus env-style overrides (config paths → values). */
export function testConfig(home: string, env: Record<string, string> = {}): Config {
  return loadConfig({ env: { TW_HOME: home, TW_LOG_LEVEL: "silent", ...env }, cwd: home });
}

/** A test app on a temp home with a silent logger. */
export async function testApp(
  env: Record<string, string> = {},
  clock?: Clock,
): Promise<{ app: App; cleanup: () => Promise<void> }> {
  const { home, cleanup } = tempHome();
  const app = await createApp(testConfig(home, env), { clock, log: createLogger("silent") });
  return {
    app,
    cleanup: async () => {
      await app.close();
      cleanup();
    },
  };
}

/**
 * Connects an SDK client to a fresh McpServer for `profile` over the in-memory transport.
 * @param capabilities client capabilities (e.g. `{ elicitation: { form: {} } }`).
 */
export async function connectClient(
  app: App,
  profile: Profile,
  capabilities: Record<string, unknown> = {},
): Promise<Client> {
  const server = createMcpServer(app, callerFor(`memory:${profile}`, profile, "memory"));
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  const client = new Client({ name: "tw-test", version: "0.0.0" }, { capabilities });
  await client.connect(ct);
  return client;
}

/** Calls a tool and returns its structured content and error flag. */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ isError: boolean; sc: Record<string, any> }> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { isError: r.isError === true, sc: (r.structuredContent ?? {}) as Record<string, any> };
}

/** Absolute path of the built CLI (tests that spawn it need `npm run build` first; `npm test` does it). */
export const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");

/**
 * Starts `tradewarden serve` (stdio) as a real process on `env` and connects an SDK client to it.
 * Close the client to stop the server.
 */
export async function serveProcess(env: Record<string, string>): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve"],
    env: { ...(process.env as Record<string, string>), TW_LOG_LEVEL: "silent", ...env },
    stderr: "pipe",
  });
  const client = new Client({ name: "tw-test", version: "0.0.0" });
  await client.connect(transport);
  return client;
}

/**
 * Per-test cleanup for a test file (call once at its top level): `home()` makes a temporary TW_HOME
 * and `defer(fn)` registers any cleanup; all run after each test, newest first.
 */
export function perTest(): { home(): string; defer(fn: () => void | Promise<void>): void } {
  let fns: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    const run = fns.reverse();
    fns = [];
    for (const fn of run) await fn();
  });
  return {
    home: () => {
      const h = tempHome();
      fns.push(h.cleanup);
      return h.home;
    },
    defer: (fn) => {
      fns.push(fn);
    },
  };
}
