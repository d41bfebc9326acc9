import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempHome } from "../helpers/app.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

/** Sends JSON-RPC lines to `tradewarden serve` and collects stdout/stderr until stdin closes. */
async function session(
  home: string,
  messages: unknown[],
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawn("node", [CLI, "serve"], {
    env: {
      ...process.env,
      TW_HOME: home,
      TW_LOG_LEVEL: "debug",
      TW_MARKET_DATA: "hyperliquid",
      TW_HL_API_URL: "http://127.0.0.1:9",
    },
    cwd: home,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const expectReplies = messages.filter((m) => (m as { id?: number }).id !== undefined).length;
  for (const m of messages) child.stdin.write(`${JSON.stringify(m)}\n`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timeout; stdout so far: ${stdout}\nstderr: ${stderr}`)),
      20_000,
    );
    const check = () => {
      const replies = stdout.split("\n").filter((l) => l.includes('"id"')).length;
      if (replies >= expectReplies) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", check);
  });
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { stdout, stderr, code };
}

describe("stdio transport", () => {
  it("initialize + tools/list + tools/call work and every stdout byte is a JSON-RPC message, with debug logs on", async () => {
    const t = tempHome();
    cleanup = t.cleanup;
    const r = await session(t.home, [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "system_get_status", arguments: {} } },
    ]);
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    expect(r.stdout.endsWith("\n")).toBe(true);
    for (const l of lines) expect(JSON.parse(l).jsonrpc, l).toBe("2.0");
    const byId = new Map(lines.map((l) => JSON.parse(l)).map((m) => [m.id, m]));
    expect(byId.get(1).result.serverInfo.name).toBe("tradewarden");
    expect(byId.get(1).result.instructions).toContain("order_propose");
    expect(byId.get(2).result.tools.map((x: { name: string }) => x.name)).toContain("system_get_status");
    expect(byId.get(3).result.structuredContent.profile).toBe("agent");
    // Logs went to stderr as pino JSON.
    expect(r.stderr).toContain('"msg":"serving MCP over stdio"');
    expect(r.code).toBe(0);
  });
});
