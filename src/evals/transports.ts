import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { Writable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ElicitRequestSchema, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import Database from "better-sqlite3";
import { pino } from "pino";
import { type App, createApp } from "../app.js";
import { SimClock } from "../clock.js";
import { type Config, dbPath } from "../config.js";
import { REDACT_PATHS } from "../log.js";
import { callerFor, type Profile } from "../policy/scopes.js";
import { createMcpServer } from "../server/mcp.js";
import type { Db } from "../store/db.js";
import { cliPath } from "./paths.js";

/**
 * How the harness reaches a server, behind one interface:
 *   memory  one App per scenario (SimClock), one McpServer per profile, linked in-memory transports;
 *   stdio   `node dist/cli.js serve` per profile (TW_PROFILE), all on the scenario's TW_HOME;
 *   http    one `node dist/cli.js serve --http` with a bearer token per profile (created in the store
 *           before the server starts).
 * Every client is the official SDK `Client`; it declares the elicitation capability when the scenario
 * asks for it and answers from the {@link ElicitBox}.
 */

/** The simulated human: the answer for the current step and what the server asked. */
export interface ElicitBox {
  answer?: { action: "accept" | "decline" | "cancel"; content?: Record<string, unknown> };
  /** Elicitation requests received since the step started. */
  asked: number;
}

/** A connected scenario run. */
export interface EvalSession {
  /** The SDK client acting as `actor` — a profile or `profile:name` (connected on first use). */
  client(actor: string): Promise<Client>;
  /** Current simulated time, ms UTC. */
  now(): number;
  /** Advances the simulated clock; undefined when the transport cannot (child processes). */
  advanceClock?: (ms: number) => void;
  /** Closes clients (and server processes) and returns the scenario database for final assertions. */
  finish(): Promise<Db>;
  /** Everything the server logged (stderr / logger output), for the secrets scan. */
  logs(): string;
  /** Releases the database and any remaining process. Idempotent. */
  dispose(): Promise<void>;
}

/** What every transport needs to start a scenario's server. */
export interface SessionOptions {
  config: Config;
  /** Path of the scenario's config file (child transports pass it with --config). */
  configFile: string;
  /** Environment of the scenario (TW_* plus secrets), without the harness's own environment. */
  env: Record<string, string>;
  clockStart: number;
  /** Elicitation modes the clients declare (none when empty). */
  elicitation: Array<"form" | "url">;
  box: ElicitBox;
  /** HTTP bearer tokens by actor (created in the store beforehand). */
  tokens: Partial<Record<string, string>>;
}

/** The profile and optional name of an actor (`agent`, `agent:bob`). */
export function actorOf(actor: string): { profile: Profile; name: string | undefined } {
  const [p, name] = actor.split(":");
  return { profile: p as Profile, name };
}

/**
 * Content for an `accept` without scripted content: each field of the requested form gets its
 * default, else `true` for booleans, the first enum value, the minimum (or 0) for numbers, "eval"
 * for strings — the answer of a human who clicks "approve" without typing.
 */
export function autoContent(schema: unknown): Record<string, unknown> {
  const props = (schema as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties;
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(props ?? {})) {
    if (p.default !== undefined) out[k] = p.default;
    else if (p.type === "boolean") out[k] = true;
    else if (Array.isArray(p.enum) && p.enum.length > 0) out[k] = p.enum[0];
    else if (Array.isArray(p.oneOf) && p.oneOf.length > 0) out[k] = (p.oneOf[0] as { const?: unknown }).const;
    else if (p.type === "number" || p.type === "integer")
      out[k] = typeof p.minimum === "number" ? p.minimum : 0;
    else out[k] = "eval";
  }
  return out;
}

function newClient(opts: SessionOptions): Client {
  const modes = Object.fromEntries(opts.elicitation.map((m) => [m, {}]));
  const client = new Client(
    { name: "tradewarden-evals", version: "1.0.0" },
    { capabilities: opts.elicitation.length > 0 ? { elicitation: modes } : {} },
  );
  if (opts.elicitation.length > 0) {
    client.setRequestHandler(ElicitRequestSchema, async (req): Promise<ElicitResult> => {
      opts.box.asked++;
      const a = opts.box.answer;
      // No scripted answer: decline, and the runner reports the unexpected prompt.
      if (!a) return { action: "decline" };
      if (a.action !== "accept") return { action: a.action };
      if ((req.params as { mode?: string }).mode === "url") return { action: "accept" };
      const schema = (req.params as { requestedSchema?: unknown }).requestedSchema;
      return { action: "accept", content: (a.content ?? autoContent(schema)) as never };
    });
  }
  return client;
}

/** In-process server on a SimClock; logs are captured (not printed) for the secrets scan. */
export async function memorySession(opts: SessionOptions): Promise<EvalSession> {
  const clock = new SimClock(opts.clockStart);
  let logText = "";
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logText += String(chunk);
      cb();
    },
  });
  const log = pino(
    { level: "info", base: { name: "tradewarden" }, redact: { paths: REDACT_PATHS, censor: "[redacted]" } },
    sink,
  );
  const app: App = await createApp(opts.config, { clock, log });
  const clients = new Map<string, Client>();
  let closed = false;
  const closeClients = async () => {
    for (const c of clients.values()) await c.close();
    clients.clear();
  };
  return {
    async client(actor) {
      const hit = clients.get(actor);
      if (hit) return hit;
      const server = createMcpServer(app, callerFor(`eval:${actor}`, actorOf(actor).profile, "memory"));
      const [ct, st] = InMemoryTransport.createLinkedPair();
      await server.connect(st);
      const c = newClient(opts);
      await c.connect(ct);
      clients.set(actor, c);
      return c;
    },
    now: () => clock.now(),
    advanceClock: (ms) => clock.advance(ms),
    async finish() {
      await closeClients();
      return app.db;
    },
    logs: () => logText,
    async dispose() {
      if (closed) return;
      closed = true;
      await closeClients();
      await app.close();
    },
  };
}

/** A free 127.0.0.1 port (the config refuses port 0, so the harness picks one). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function childEnv(opts: SessionOptions, extra: Record<string, string>): Record<string, string> {
  // Only PATH/HOME-like basics from the harness; TW_* and secrets come from the scenario alone.
  const base: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "SYSTEMROOT"]) {
    const v = process.env[k];
    if (v !== undefined) base[k] = v;
  }
  return { ...base, ...opts.env, TW_LOG_LEVEL: opts.env.TW_LOG_LEVEL ?? "info", ...extra };
}

function openReadonly(file: string): Db {
  return new Database(file, { readonly: true, fileMustExist: true });
}

/** One `tradewarden serve` child per profile over stdio. The clock is the child's (no advancing). */
export async function stdioSession(opts: SessionOptions): Promise<EvalSession> {
  const clients = new Map<string, { client: Client; transport: StdioClientTransport }>();
  let stderr = "";
  let db: Db | undefined;
  const closeAll = async () => {
    for (const { client } of clients.values()) await client.close();
    clients.clear();
  };
  return {
    async client(actor) {
      const hit = clients.get(actor);
      if (hit) return hit.client;
      const { profile, name } = actorOf(actor);
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [cliPath(), "--config", opts.configFile, "serve"],
        env: childEnv(opts, { TW_PROFILE: profile, ...(name ? { TW_CALLER_NAME: name } : {}) }),
        cwd: opts.config.home,
        stderr: "pipe",
      });
      transport.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      const client = newClient(opts);
      await client.connect(transport);
      clients.set(actor, { client, transport });
      return client;
    },
    now: () => opts.clockStart,
    async finish() {
      await closeAll();
      db = openReadonly(dbPath(opts.config));
      return db;
    },
    logs: () => stderr,
    async dispose() {
      await closeAll();
      if (db?.open) db.close();
    },
  };
}

/** One `tradewarden serve --http` child; one session per profile, each with its own bearer token. */
export async function httpSession(opts: SessionOptions): Promise<EvalSession> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [cliPath(), "--config", opts.configFile, "serve", "--http"],
    {
      env: childEnv(opts, { TW_HTTP_HOST: "127.0.0.1", TW_HTTP_PORT: String(port) }),
      cwd: opts.config.home,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`HTTP server did not start in 20 s; stderr: ${stderr}`)),
      20_000,
    );
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
      const m = /MCP endpoint (http:\/\/\S+\/mcp)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`HTTP server exited with ${code}; stderr: ${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const clients = new Map<string, Client>();
  let db: Db | undefined;
  let stopped = false;
  const stop = async () => {
    for (const c of clients.values()) await c.close();
    clients.clear();
    if (stopped) return;
    stopped = true;
    child.kill("SIGTERM");
    await exited;
  };
  return {
    async client(actor) {
      const hit = clients.get(actor);
      if (hit) return hit;
      const token = opts.tokens[actor];
      if (!token) throw new Error(`no HTTP token for ${actor}`);
      const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      });
      const c = newClient(opts);
      await c.connect(transport);
      clients.set(actor, c);
      return c;
    },
    now: () => opts.clockStart,
    async finish() {
      await stop();
      db = openReadonly(dbPath(opts.config));
      return db;
    },
    logs: () => stderr,
    async dispose() {
      await stop();
      if (db?.open) db.close();
    },
  };
}

/** Result of {@link runCli}. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI on the scenario's home and config (`node dist/cli.js --config FILE ARGS`),
 * e.g. `replay --json`. The in-process App (memory transport) shares the SQLite file; WAL and the
 * busy timeout let both write.
 */
export async function runCli(opts: SessionOptions, args: string[], timeoutMs: number): Promise<CliRun> {
  const child = spawn(process.execPath, [cliPath(), "--config", opts.configFile, ...args], {
    env: childEnv(opts, {}),
    cwd: opts.config.home,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString("utf8");
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("close", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
