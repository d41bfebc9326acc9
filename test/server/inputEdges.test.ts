import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempHome } from "../helpers/app.js";

/**
 * Hostile input at the edges (issue 12, finding 6), against a real `tradewarden serve` process over
 * stdio: raw JSON-RPC lines, exactly as a misbehaving client would write them.
 */

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function home(): string {
  const t = tempHome();
  cleanups.push(t.cleanup);
  return t.home;
}

const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
});
const INITIALIZED = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" });
const callLine = (id: number, name: string, args: string) =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":${args}}}`;

/** Writes raw lines to `serve`, waits for `replies` answers, and returns them with the exit code. */
async function session(h: string, lines: string[], replies: number, env: Record<string, string> = {}) {
  const child = spawn("node", [CLI, "serve"], {
    env: {
      ...process.env,
      TW_HOME: h,
      TW_LOG_LEVEL: "warn",
      TW_MARKET_DATA: "hyperliquid",
      TW_HL_API_URL: "http://127.0.0.1:9",
      ...env,
    },
    cwd: h,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  for (const l of lines) child.stdin.write(`${l}\n`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timeout; stdout: ${stdout}\nstderr: ${stderr}`)),
      60_000,
    );
    const check = () => {
      if (stdout.split("\n").filter((l) => l.includes('"id"')).length >= replies) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", check);
    check();
  });
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const msgs = stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { id: number | null; result?: any; error?: any });
  return { msgs, byId: new Map(msgs.map((m) => [m.id, m])), stderr, code };
}

describe("input edges over stdio", () => {
  it("__proto__, constructor and prototype keys are refused with INVALID_INPUT, not silently dropped", async () => {
    const r = await session(
      home(),
      [
        INIT,
        INITIALIZED,
        callLine(2, "memory_write", '{"__proto__":{"admin":true},"kind":"note","text":"x"}'),
        callLine(3, "rag_search", '{"query":"funding","constructor":{"prototype":{"x":1}}}'),
        callLine(4, "audit_query", '{"limit":5}'),
      ],
      4,
    );
    for (const id of [2, 3]) {
      const res = r.byId.get(id)?.result;
      expect(res.isError).toBe(true);
      expect(res.structuredContent.code).toBe("INVALID_INPUT");
      expect(res.structuredContent.message).toMatch(/__proto__|constructor/);
    }
    const rows = r.byId.get(4)?.result.structuredContent.rows as Array<{ tool: string; code: string }>;
    expect(
      rows
        .filter((x) => x.code === "INVALID_INPUT")
        .map((x) => x.tool)
        .sort(),
    ).toEqual(["memory_write", "rag_search"]);
  });

  it("non-object arguments get an INVALID_INPUT tool result (no JSON-RPC error, no zod dump) and are audited", async () => {
    const r = await session(
      home(),
      [
        INIT,
        INITIALIZED,
        callLine(2, "system_get_status", "[1,2,3]"),
        callLine(3, "system_get_status", '"hello"'),
        callLine(4, "system_get_status", "42"),
        callLine(5, "audit_query", '{"limit":10}'),
      ],
      5,
    );
    for (const id of [2, 3, 4]) {
      const m = r.byId.get(id);
      expect(m?.error).toBeUndefined();
      expect(m?.result.isError).toBe(true);
      expect(m?.result.structuredContent.code).toBe("INVALID_INPUT");
      expect(m?.result.structuredContent.message).toContain("must be a JSON object");
      expect(JSON.stringify(m)).not.toMatch(/invalid_type|ZodError|"path":/);
    }
    const rows = r.byId.get(5)?.result.structuredContent.rows as Array<{ tool: string; code: string }>;
    expect(rows.filter((x) => x.tool === "system_get_status" && x.code === "INVALID_INPUT")).toHaveLength(3);
  });

  it("a 10 MB line is refused with a JSON-RPC error and the server keeps serving", async () => {
    const big = callLine(2, "rag_search", `{"query":"${"a".repeat(10 * 1024 * 1024)}"}`);
    const r = await session(
      home(),
      [INIT, INITIALIZED, big, callLine(3, "system_get_status", "{}"), "this is not json"],
      4,
    );
    const refusals = r.msgs.filter((m) => m.id === null);
    expect(refusals.map((m) => m.error.code as number).sort((a, b) => a - b)).toEqual([-32700, -32600]);
    expect(refusals.find((m) => m.error.code === -32600)?.error.message).toContain("too large");
    expect(r.byId.get(3)?.result.structuredContent.profile).toBe("agent"); // still serving
    expect(r.code).toBe(0); // and it ends only when stdin closes
  });
});

describe("bad settings stop start-up", () => {
  const serve = (h: string, env: Record<string, string>) =>
    spawnSync("node", [CLI, "serve"], {
      env: { ...process.env, TW_HOME: h, TW_LOG_LEVEL: "info", ...env },
      cwd: h,
      input: "",
      encoding: "utf8",
    });

  it("an out-of-range HL_PRIVATE_KEY exits 2 naming the variable, and its value appears nowhere (hex or decimal)", () => {
    const h = home();
    const key = `0x${"f".repeat(64)}`; // above the secp256k1 order
    const r = serve(h, { HL_PRIVATE_KEY: key });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("HL_PRIVATE_KEY");
    const out = r.stdout + r.stderr;
    for (const form of [key, key.slice(2), BigInt(key).toString(10)]) expect(out).not.toContain(form);
  });

  it("an invalid venues.default or allowMainnet key exits 2 with the problem", () => {
    const h = home();
    writeFileSync(join(h, "bad1.json"), JSON.stringify({ venues: { default: "binance" } }));
    writeFileSync(
      join(h, "bad2.json"),
      JSON.stringify({ venues: { allowMainnet: { "hyperliquid:testnet": true } } }),
    );
    for (const f of ["bad1.json", "bad2.json"]) {
      const r = spawnSync("node", [CLI, "--config", join(h, f), "serve"], {
        env: { ...process.env, TW_HOME: h },
        cwd: h,
        input: "",
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/venues\.(default|allowMainnet)/);
    }
  });
});
