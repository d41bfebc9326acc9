import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/**
 * A minimal MCP client over stdio for the serve benchmark's per-call rows (src/bench/serve.ts):
 * newline-delimited JSON-RPC, `initialize` + `notifications/initialized`, then sequential
 * `tools/call` requests. The SDK's `Client` parses every result and validates `structuredContent`
 * against the tool's output schema (and its `StdioClientTransport` alone parses every message with
 * the zod `JSONRPCMessageSchema`). Those ≈ 50–100 µs run on the same two cores as the server, and
 * its garbage collection lands inside the measured calls. With it, the bare server's p99 was
 * 0.98–1.30 ms. With this client it was 0.2–0.4 ms, the figure issue 15 quotes (0.36 ms). The
 * per-call goals are about the server, so both sides are measured with this client. Start-up is
 * still measured with the SDK's client, as a real agent connects.
 */
export interface LineClient {
  /** The server's process id (for /proc CPU readings), null if it has none. */
  pid: number | null;
  /**
   * Calls a tool and resolves when its answer arrives.
   * @throws Error when the answer is a JSON-RPC error or a tool error (`isError`), quoting it.
   */
  call(name: string, args: Record<string, unknown>): Promise<void>;
  /** Ends stdin and waits for the server to exit (kills it after 2 s). */
  close(): Promise<void>;
}

interface Answer {
  id?: number;
  error?: unknown;
  result?: { isError?: boolean };
}

/**
 * Spawns `command args` with `env` and completes the MCP handshake.
 * @throws Error when the server exits or answers `initialize` with an error.
 */
export async function openLineClient(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<LineClient> {
  const child: ChildProcessByStdio<Writable, Readable, null> = spawn(command, args, {
    env,
    stdio: ["pipe", "pipe", "ignore"],
  });
  const waiting = new Map<number, { ok: (a: Answer) => void; fail: (e: Error) => void }>();
  let buffered = "";
  let nextId = 0;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() === "") continue;
      const a = JSON.parse(line) as Answer;
      if (a.id === undefined) continue; // a notification from the server
      waiting.get(a.id)?.ok(a);
      waiting.delete(a.id);
    }
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      for (const w of waiting.values()) w.fail(new Error(`server exited (code ${code}) before answering`));
      waiting.clear();
      resolve();
    }),
  );
  const request = (method: string, params: unknown): Promise<Answer> =>
    new Promise((ok, fail) => {
      const id = ++nextId;
      waiting.set(id, { ok, fail });
      child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  const init = await request("initialize", {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "tradewarden-bench", version: "0.0.0" },
  });
  if (init.error) throw new Error(`initialize failed: ${JSON.stringify(init.error).slice(0, 300)}`);
  child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
  return {
    pid: child.pid ?? null,
    async call(name, args) {
      const a = await request("tools/call", { name, arguments: args });
      if (a.error || a.result?.isError)
        throw new Error(`${name} failed: ${JSON.stringify(a.error ?? a.result).slice(0, 300)}`);
    },
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
