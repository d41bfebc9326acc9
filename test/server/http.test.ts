import { request } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { App } from "../../src/app.js";
import { type HttpHandle, startHttp } from "../../src/server/http.js";
import { createToken, revokeToken } from "../../src/store/tokens.js";
import { defineTool } from "../../src/tools/registry.js";
import { testApp } from "../helpers/app.js";

let teardown: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const t of teardown.reverse()) await t();
  teardown = [];
});

async function setup(stateless = false): Promise<{ app: App; h: HttpHandle }> {
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
  });
  teardown.push(() => h.close());
  return { app: t.app, h };
}

function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown },
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
