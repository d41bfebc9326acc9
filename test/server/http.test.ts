import { request } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { App } from "../../src/app.js";
import { type HttpHandle, startHttp, TOKEN_CACHE_MS } from "../../src/server/http.js";
import { createToken, revokeToken } from "../../src/store/tokens.js";
import { defineTool } from "../../src/tools/registry.js";
import { testApp } from "../helpers/app.js";

let teardown: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const t of teardown.reverse()) await t();
  teardown = [];
});

async function setup(
  stateless = false,
  limits: { maxSessionsPerToken?: number; sessionIdleMs?: number } = {},
): Promise<{ app: App; h: HttpHandle }> {
  const t = await testApp();
  teardown.push(t.cleanup);
  // A probe that needs an agent scope (orders:submit), so readonly/agent differences are testable.
  t.app.tools.push(
    defineTool({
      name: "probe_agent_tool",
      toolset: "probe",
      title: "probe",
      description: "Test probe needing orders:submit; returns the caller id it ran as.",
      scope: "orders:submit",
      annotations: { destructiveHint: false },
      input: z.object({}).strict(),
      output: z.object({ caller: z.string() }),
      handler: async (_a, ctx) => ({ caller: ctx.caller.id }),
    }),
  );
  const h = await startHttp(t.app, {
    host: "127.0.0.1",
    port: 0,
    stateless,
    allowedOrigins: [],
    allowedHosts: [],
    ...limits,
  });
  teardown.push(() => h.close());
  return { app: t.app, h };
}

function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown; rawBody?: string },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method ?? "POST",
        headers: opts.headers,
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    if (opts.body !== undefined) req.write(JSON.stringify(opts.body));
    if (opts.rawBody !== undefined) req.write(opts.rawBody);
    req.end();
  });
}

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};
const JSON_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

async function client(h: HttpHandle, token: string): Promise<Client> {
  const c = new Client({ name: "t", version: "1" });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  teardown.push(() => c.close());
  return c;
}

describe("streamable HTTP transport", () => {
  it("no token → 401 with WWW-Authenticate", async () => {
    const { h } = await setup();
    const r = await raw(`${h.url}/mcp`, { headers: JSON_HEADERS, body: INIT });
    expect(r.status).toBe(401);
    expect(String(r.headers["www-authenticate"])).toContain("Bearer");
  });

  it("a revoked token → 401", async () => {
    const { app, h } = await setup();
    const { token } = createToken(app.db, "gone", "agent", 1);
    expect(
      (
        await raw(`${h.url}/mcp`, {
          headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
          body: INIT,
        })
      ).status,
    ).toBe(200);
    revokeToken(app.db, "gone", 2);
    await new Promise((r) => setTimeout(r, TOKEN_CACHE_MS + 100)); // lookups are cached this long
    const r = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
      body: INIT,
    });
    expect(r.status).toBe(401);
    expect(String(r.headers["www-authenticate"])).toContain("invalid_token");
  });

  it("Host: evil.example → 403, even with a valid token", async () => {
    const { app, h } = await setup();
    const { token } = createToken(app.db, "a", "operator", 1);
    const r = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}`, host: "evil.example" },
      body: INIT,
    });
    expect(r.status).toBe(403);
    expect(
      (await raw(`${h.url}/healthz`, { method: "GET", headers: { host: "evil.example:80" } })).status,
    ).toBe(403);
  });

  it("Origin: http://evil.example → 403", async () => {
    const { app, h } = await setup();
    const { token } = createToken(app.db, "a", "operator", 1);
    const r = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}`, origin: "http://evil.example" },
      body: INIT,
    });
    expect(r.status).toBe(403);
    const local = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}`, origin: "http://localhost:6274" },
      body: INIT,
    });
    expect(local.status).toBe(200);
  });

  it("a readonly token cannot see or call an agent tool; an agent token can", async () => {
    const { app, h } = await setup();
    const ro = await client(h, createToken(app.db, "ro", "readonly", 1).token);
    expect((await ro.listTools()).tools.map((t) => t.name)).not.toContain("probe_agent_tool");
    const refused = await ro.callTool({ name: "probe_agent_tool", arguments: {} });
    expect(refused.isError).toBe(true);
    expect((refused.structuredContent as { code: string }).code).toBe("FORBIDDEN_SCOPE");
    const ag = await client(h, createToken(app.db, "ag", "agent", 1).token);
    expect((await ag.listTools()).tools.map((t) => t.name)).toContain("probe_agent_tool");
    const ok = await ag.callTool({ name: "probe_agent_tool", arguments: {} });
    expect(ok.structuredContent).toEqual({ caller: "token:ag" });
  });

  it("two sessions do not share state: each keeps its own caller, and one token cannot use another's session", async () => {
    const { app, h } = await setup();
    const tRo = createToken(app.db, "s1", "readonly", 1).token;
    const tAg = createToken(app.db, "s2", "agent", 1).token;
    const a = await client(h, tRo);
    const b = await client(h, tAg);
    const [la, lb] = await Promise.all([a.listTools(), b.listTools()]);
    expect(la.tools.length).toBeLessThan(lb.tools.length);
    const sa = (await a.callTool({ name: "system_get_status", arguments: {} })).structuredContent as {
      profile: string;
    };
    const sb = (await b.callTool({ name: "system_get_status", arguments: {} })).structuredContent as {
      profile: string;
    };
    expect([sa.profile, sb.profile]).toEqual(["readonly", "agent"]);
    // Hijack attempt: agent token presenting the readonly session's id.
    const sessionId = (a.transport as StreamableHTTPClientTransport).sessionId!;
    const r = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${tAg}`, "mcp-session-id": sessionId },
      body: { jsonrpc: "2.0", id: 9, method: "tools/list", params: {} },
    });
    expect(r.status).toBe(403);
  });

  it("stateless mode answers POST and refuses GET/DELETE with 405", async () => {
    const { app, h } = await setup(true);
    const token = createToken(app.db, "sl", "agent", 1).token;
    const auth = { ...JSON_HEADERS, authorization: `Bearer ${token}` };
    expect((await raw(`${h.url}/mcp`, { method: "GET", headers: auth })).status).toBe(405);
    expect((await raw(`${h.url}/mcp`, { method: "DELETE", headers: auth })).status).toBe(405);
    const r = await raw(`${h.url}/mcp`, { headers: auth, body: INIT });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).result.serverInfo.name).toBe("tradewarden");
  });

  it("/healthz answers and /metrics counts calls and errors by code", async () => {
    const { app, h } = await setup();
    const c = await client(h, createToken(app.db, "m", "readonly", 1).token);
    await c.callTool({ name: "system_get_status", arguments: {} });
    await c.callTool({ name: "probe_agent_tool", arguments: {} });
    expect(JSON.parse((await raw(`${h.url}/healthz`, { method: "GET" })).body).status).toBe("ok");
    const m = (await raw(`${h.url}/metrics`, { method: "GET" })).body;
    expect(m).toContain('tradewarden_tool_calls_total{tool="system_get_status",outcome="ok"} 1');
    expect(m).toContain('tradewarden_tool_errors_total{tool="probe_agent_tool",code="FORBIDDEN_SCOPE"} 1');
    expect(m).toContain("tradewarden_tool_call_duration_seconds_bucket");
  });
});

/** Hostile HTTP callers (issue 12, finding 5). */
describe("HTTP hardening", () => {
  const noLeak = (body: string) => {
    expect(body).not.toMatch(/<html|<pre|at \S+ \(|\/work\/|node_modules|Error:/i);
  };

  it("malformed JSON with a valid token → 400 JSON-RPC -32700, no HTML, stack or path", async () => {
    const { app, h } = await setup();
    const { token } = createToken(app.db, "a", "agent", 1);
    const r = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
      rawBody: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(r.status).toBe(400);
    expect(String(r.headers["content-type"])).toContain("application/json");
    expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: "2.0", error: { code: -32700 }, id: null });
    noLeak(r.body);
  });

  it("a body over 4 MB → 413 JSON; without a token the body is never parsed (401)", async () => {
    const { app, h } = await setup();
    const { token } = createToken(app.db, "a", "agent", 1);
    const big = `{"x":"${"a".repeat(5 * 1024 * 1024)}"}`;
    const r = await raw(`${h.url}/mcp`, {
      headers: { ...JSON_HEADERS, authorization: `Bearer ${token}` },
      rawBody: big,
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.message).toContain("too large");
    noLeak(r.body);
    const anon = await raw(`${h.url}/mcp`, { headers: JSON_HEADERS, rawBody: "{not json" });
    expect(anon.status).toBe(401);
    noLeak(anon.body);
  });

  it("a token holds at most maxSessionsPerToken sessions: the next initialize gets 429, another token is unaffected", async () => {
    const { app, h } = await setup(false, { maxSessionsPerToken: 3 });
    const { token } = createToken(app.db, "a", "agent", 1);
    const { token: other } = createToken(app.db, "b", "agent", 1);
    const init = (t: string) =>
      raw(`${h.url}/mcp`, { headers: { ...JSON_HEADERS, authorization: `Bearer ${t}` }, body: INIT });
    for (let i = 0; i < 3; i++) expect((await init(token)).status).toBe(200);
    const fourth = await init(token);
    expect(fourth.status).toBe(429);
    expect(JSON.parse(fourth.body).error.message).toContain("limit is 3");
    expect((await init(other)).status).toBe(200);
  });

  it("an idle session expires: its next request is 404 (initialize again)", async () => {
    const { app, h } = await setup(false, { sessionIdleMs: 1_000 });
    const { token } = createToken(app.db, "a", "agent", 1);
    const auth = { ...JSON_HEADERS, authorization: `Bearer ${token}` };
    const r = await raw(`${h.url}/mcp`, { headers: auth, body: INIT });
    const sid = String(r.headers["mcp-session-id"]);
    await new Promise((res) => setTimeout(res, 2_500));
    const later = await raw(`${h.url}/mcp`, {
      headers: { ...auth, "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" },
      body: { jsonrpc: "2.0", id: 2, method: "tools/list" },
    });
    expect(later.status).toBe(404);
  });

  it("revoking a token ends its open session at the next request (401), within the token cache time", async () => {
    const { app, h } = await setup();
    const { token } = createToken(app.db, "bot", "agent", 1);
    const c = await client(h, token);
    expect((await c.listTools()).tools.length).toBeGreaterThan(0);
    revokeToken(app.db, "bot", 2);
    await new Promise((r) => setTimeout(r, TOKEN_CACHE_MS + 100));
    await expect(c.listTools()).rejects.toThrow(/401|revoked|Invalid/i);
  });
});
