import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { consoleIntentUrl, startConsole } from "../../src/console/index.js";
import { callerFor } from "../../src/policy/scopes.js";
import { queryAudit, verifyAudit } from "../../src/store/audit.js";
import { getControl } from "../../src/store/control.js";
import { revokeToken } from "../../src/store/tokens.js";
import { callTool } from "../../src/tools/registry.js";
import { testConfig, tempHome } from "../helpers/app.js";
import { consoleSetup, WebSession } from "./helpers.js";

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(...a: Parameters<typeof consoleSetup>) {
  const s = await consoleSetup(...a);
  cleanups.push(s.cleanup);
  return s;
}

const agentCaller = callerFor("token:bot", "agent", "http");

/** Proposes 0.3 BTC on paper (≈ 32k quote, above the 25k auto-approve threshold) as the agent. */
async function propose(app: Parameters<typeof callTool>[0], cid: string) {
  const r = await callTool(app, agentCaller, "order_propose", {
    venue: "paper",
    symbol: "BTC",
    side: "buy",
    type: "market",
    size: 0.3,
    client_order_id: cid,
  });
  expect(r.isError).not.toBe(true);
  return (r.structuredContent as { intent_id: string }).intent_id;
}

/** GET with an explicit Host header (fetch does not let a caller set it). */
function statusWithHost(url: string, host: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

const consoleRows = (app: Parameters<typeof callTool>[0], tool: string) =>
  queryAudit(app.db, { tool, limit: 50 }).rows;

describe("console login", () => {
  it("an agent token is refused (403) and an unknown token too (401); neither gets a cookie and both are audited without the token", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    const agent = await web.login(tokens.agent);
    expect(agent.status).toBe(403);
    expect(agent.text).toContain("operator and readonly tokens only");
    expect(web.cookie).toBeNull();
    const bad = await web.login("tw_not-a-real-token");
    expect(bad.status).toBe(401);
    expect(web.cookie).toBeNull();
    const rows = consoleRows(app, "console.login");
    expect(rows.map((r) => [r.caller, r.decision])).toEqual([
      ["console:anonymous", "refused"],
      ["console:bot", "refused"],
    ]);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(tokens.agent);
    expect(dump).not.toContain("tw_not-a-real-token");
    // Without a session every page sends the browser to the login page.
    const page = await web.get("/console/approvals");
    expect(page.status).toBe(303);
    expect(page.location).toMatch(/^\/console\/login\?why=unknown&next=%2Fconsole%2Fapprovals$/);
  });

  it("an operator login sets an HttpOnly SameSite=Strict cookie scoped to /console that expires with the session; logout ends it", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    const r = await web.login(tokens.operator);
    expect(r.status).toBe(303);
    expect(r.location).toBe("/console");
    expect(web.setCookie).toMatch(/HttpOnly/);
    expect(web.setCookie).toMatch(/SameSite=Strict/);
    expect(web.setCookie).toMatch(/Path=\/console/);
    expect(web.setCookie).toMatch(/Max-Age=28800/);
    expect((await web.get("/console")).status).toBe(200);
    // The cookie value is not stored: only its hash is.
    const stored = JSON.stringify(app.db.prepare("SELECT * FROM console_sessions").all());
    expect(stored).not.toContain(web.cookie!.split("=")[1]);
    const cookie = web.cookie;
    const out = await web.post("/console/logout", { csrf: await web.csrf("/console") });
    expect(out.status).toBe(303);
    expect(web.cookie).toBeNull();
    // The old cookie no longer works.
    web.cookie = cookie;
    expect((await web.get("/console")).status).toBe(303);
    expect(consoleRows(app, "console.logout")).toHaveLength(1);
  });

  it("a session ends when console.sessionTtlMs has passed", async () => {
    const { h, tokens, clock } = await setup((c) => {
      c.console.sessionTtlMs = 60_000;
    });
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    expect((await web.get("/console/control")).status).toBe(200);
    clock.advance(60_000);
    const r = await web.get("/console/control");
    expect(r.status).toBe(303);
    expect(r.location).toContain("why=expired");
  });

  it("a revoked token's session ends at its next request (page, action and event stream)", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const csrf = await web.csrf();
    revokeToken(app.db, "ops", app.clock.now());
    const act = await web.post(
      "/console/control/halt",
      { csrf, reason: "should not happen" },
      { accept: "application/json" },
    );
    expect(act.status).toBe(401);
    expect(getControl(app.db).mode).toBe("NORMAL");
    expect((await web.get("/console")).status).toBe(303);
    const ended = consoleRows(app, "console.session_end");
    expect(ended[0]).toMatchObject({ caller: "console:ops", decision: "refused" });
  });
});

describe("console actions go through the policy gate", () => {
  it("a POST without the CSRF token (or with another session's) is refused with 403, changes nothing and is audited", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const other = new WebSession(h.url);
    await other.login(tokens.operator);
    const id = await propose(app, "csrf-1");
    const none = await web.post("/console/control/halt", { reason: "no token" });
    expect(none.status).toBe(403);
    const foreign = await web.post(`/console/intents/${id}/approve`, { csrf: await other.csrf() });
    expect(foreign.status).toBe(403);
    expect(getControl(app.db).mode).toBe("NORMAL");
    const approvals = app.db.prepare("SELECT COUNT(*) AS n FROM approvals").get() as { n: number };
    expect(approvals.n).toBe(0);
    expect(consoleRows(app, "console.csrf").map((r) => (r.result as { reason: string }).reason)).toEqual([
      "mismatch",
      "missing",
    ]);
    expect(consoleRows(app, "control_halt")).toHaveLength(0);
  });

  it("approve is order_approve as console:<token name>; the agent's submit then fills and the audit chain verifies", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const id = await propose(app, "approve-1");
    const before = await callTool(app, agentCaller, "order_submit", { intent_id: id });
    expect((before.structuredContent as { code: string }).code).toBe("APPROVAL_REQUIRED");
    const page = await web.get(`/console/intents/${id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("BUY 0.3 BTC on paper");
    expect(page.text).toContain("token:bot");
    const r = await web.post(`/console/intents/${id}/approve`, {
      csrf: await web.csrf(),
      reason: "ok by ops",
    });
    expect(r.status).toBe(303);
    expect(r.location).toBe(`/console/intents/${id}`);
    const row = consoleRows(app, "order_approve")[0];
    expect(row).toMatchObject({ caller: "console:ops", decision: "allowed" });
    const sub = await callTool(app, agentCaller, "order_submit", { intent_id: id });
    expect(sub.isError).not.toBe(true);
    expect(sub.structuredContent).toMatchObject({ status: "filled", filled_size: "0.3" });
    const fills = app.db.prepare("SELECT size FROM fills WHERE client_order_id = ?").all("approve-1");
    expect(fills).toEqual([{ size: "0.3" }]);
    expect(verifyAudit(app.db).ok).toBe(true);
  });

  it("a readonly session sees every page but its approve and halt are refused by the gate (FORBIDDEN_SCOPE) and audited", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.readonly);
    const id = await propose(app, "ro-1");
    for (const p of [
      "/console",
      "/console/approvals",
      `/console/intents/${id}`,
      "/console/orders",
      "/console/portfolio",
      "/console/audit",
      "/console/research",
      "/console/control",
    ]) {
      expect((await web.get(p)).status, p).toBe(200);
    }
    const approvals = await web.get("/console/approvals");
    expect(approvals.text).toContain(id);
    expect(approvals.text).not.toContain(`/console/intents/${id}/approve`);
    const csrf = await web.csrf("/console");
    const a = await web.post(`/console/intents/${id}/approve`, { csrf }, { accept: "application/json" });
    expect(a.status).toBe(403);
    expect(JSON.parse(a.text)).toMatchObject({ ok: false, code: "FORBIDDEN_SCOPE" });
    const halt = await web.post(
      "/console/control/halt",
      { csrf, reason: "try it" },
      { accept: "application/json" },
    );
    expect(halt.status).toBe(403);
    expect(getControl(app.db).mode).toBe("NORMAL");
    expect(consoleRows(app, "order_approve")[0]).toMatchObject({
      caller: "console:viewer",
      decision: "refused",
      code: "FORBIDDEN_SCOPE",
    });
    expect(consoleRows(app, "control_halt")[0]).toMatchObject({
      caller: "console:viewer",
      decision: "refused",
    });
  });

  it("resume needs RESUME typed; reject needs a reason; a double-submitted halt form acts once", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const csrf = await web.csrf();
    const J = { accept: "application/json" };
    const halt = { csrf, reason: "drill", nonce: "n-1" };
    expect((await web.post("/console/control/halt", halt, J)).status).toBe(200);
    expect((await web.post("/console/control/halt", halt, J)).status).toBe(200);
    expect(app.db.prepare("SELECT COUNT(*) AS n FROM control_state").get()).toEqual({ n: 1 });
    const wrong = await web.post("/console/control/resume", { csrf, reason: "done", confirm: "resume" }, J);
    expect(wrong.status).toBe(400);
    expect(getControl(app.db).mode).toBe("HALT");
    const ok = await web.post("/console/control/resume", { csrf, reason: "done", confirm: "RESUME" }, J);
    expect(ok.status).toBe(200);
    expect(getControl(app.db)).toMatchObject({ mode: "NORMAL", actor: "console:ops" });
    const id = await propose(app, "rej-1");
    expect((await web.post(`/console/intents/${id}/reject`, { csrf }, J)).status).toBe(400);
    const rej = await web.post(`/console/intents/${id}/reject`, { csrf, reason: "too big" }, J);
    expect(rej.status).toBe(200);
    const sub = await callTool(app, agentCaller, "order_submit", { intent_id: id });
    expect((sub.structuredContent as { code: string }).code).toBe("APPROVAL_REQUIRED");
    // Flatten is offered, needs FLATTEN typed, and runs control_flatten as the console caller.
    expect((await web.get("/console/control")).text).toContain("/console/control/flatten");
    const noConfirm = await web.post(
      "/console/control/flatten",
      { csrf, reason: "x", confirm: "flatten" },
      J,
    );
    expect(noConfirm.status).toBe(400);
    const flat = await web.post("/console/control/flatten", { csrf, reason: "drill", confirm: "FLATTEN" }, J);
    expect(flat.status).toBe(200);
    expect(getControl(app.db)).toMatchObject({ mode: "HALT", actor: "console:ops" });
  });
});

describe("console transport rules", () => {
  it("a foreign Host is refused; a POST from another origin is refused even on localhost", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    expect(await statusWithHost(`${h.url}/console/login`, "evil.example")).toBe(403);
    expect(await statusWithHost(`${h.url}/console/login`, `localhost:${new URL(h.url).port}`)).toBe(200);
    await web.login(tokens.operator);
    const csrf = await web.csrf();
    const port = new URL(h.url).port;
    const cross = await web.post(
      "/console/control/halt",
      { csrf, reason: "from another app" },
      { origin: `http://localhost:${Number(port) + 1}` },
    );
    expect(cross.status).toBe(403);
    const remote = await web.post(
      "/console/control/halt",
      { csrf, reason: "from a site" },
      { origin: "https://evil.example" },
    );
    expect(remote.status).toBe(403);
    expect(getControl(app.db).mode).toBe("NORMAL");
    const same = await web.post(
      "/console/control/halt",
      { csrf, reason: "same origin" },
      { origin: h.url, accept: "application/json" },
    );
    expect(same.status).toBe(200);
  });

  it("pages carry a CSP without remote sources and are not cached; assets are served locally", async () => {
    const { h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const p = await web.get("/console");
    expect(p.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(p.headers.get("cache-control")).toBe("no-store");
    expect(p.text).not.toMatch(/https?:\/\/(?!www\.tradingview\.com)/);
    const js = await web.get("/console/assets/console.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(js.text.length).toBeGreaterThan(50_000);
  });

  it("the event stream reports a proposed intent as an `intents` change", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const res = await fetch(`${h.url}/console/events`, {
      headers: { cookie: web.cookie!, accept: "text/event-stream" },
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await propose(app, "sse-1");
    let text = "";
    const dec = new TextDecoder();
    while (!text.includes("event: change")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    await reader.cancel();
    const data = JSON.parse(/event: change\ndata: (.+)\n/.exec(text)![1]);
    expect(data.kinds).toContain("intents");
  });

  it("the audit export streams the filtered rows as CSV and JSONL with their hashes", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    await propose(app, "exp-1");
    const jsonl = await web.get("/console/audit/export?format=jsonl&tool=order_propose");
    expect(jsonl.headers.get("content-disposition")).toMatch(
      /attachment; filename="tradewarden-audit-.*\.jsonl"/,
    );
    const lines = jsonl.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tool: "order_propose", caller: "token:bot", decision: "allowed" });
    expect(lines[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const csv = await web.get("/console/audit/export?format=csv");
    const rows = csv.text.trim().split("\n");
    expect(rows[0]).toBe("id,ts,caller,tool,decision,code,args,result,duration_ms,keys,prev_hash,hash");
    expect(rows.length - 1).toBe(verifyAudit(app.db).rows);
    expect((await web.get("/console/audit/export?since=yesterday")).status).toBe(400);
  });
});

describe("consoleIntentUrl", () => {
  it("points at the approval page on the console's address, or the public URL when set", () => {
    const { home, cleanup } = tempHome();
    try {
      expect(consoleIntentUrl(testConfig(home), "int_ab12")).toBe(
        "http://127.0.0.1:8787/console/intents/int_ab12",
      );
      expect(consoleIntentUrl(testConfig(home, { TW_HTTP_PORT: "9000" }), "x")).toBe(
        "http://127.0.0.1:9000/console/intents/x",
      );
      expect(
        consoleIntentUrl(testConfig(home, { TW_CONSOLE_PORT: "9100", TW_CONSOLE_HOST: "::1" }), "x"),
      ).toBe("http://[::1]:9100/console/intents/x");
      expect(
        consoleIntentUrl(testConfig(home, { TW_CONSOLE_PUBLIC_URL: "https://ops.example.com/" }), "a/b"),
      ).toBe("https://ops.example.com/console/intents/a%2Fb");
    } finally {
      cleanup();
    }
  });
});

describe("tradewarden console (its own listener)", () => {
  it("serves the same console against the same home without /mcp, and the session works across both listeners", async () => {
    const { app, h, tokens } = await setup();
    const alone = await startConsole(app, { host: "127.0.0.1", port: 0 });
    cleanups.push(() => alone.close());
    const web = new WebSession(alone.url);
    expect((await web.login(tokens.agent)).status).toBe(403);
    expect((await web.login(tokens.operator)).status).toBe(303);
    expect((await web.get("/console/approvals")).status).toBe(200);
    const mcp = await fetch(`${alone.url}/mcp`, { method: "POST" });
    expect(mcp.status).toBe(404);
    // One database: a halt through this listener is the mode every serve process enforces.
    const r = await web.post(
      "/console/control/halt",
      { csrf: await web.csrf(), reason: "from the console" },
      { accept: "application/json" },
    );
    expect(r.status).toBe(200);
    const refused = await callTool(app, agentCaller, "order_propose", {
      venue: "paper",
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
    });
    expect((refused.structuredContent as { code: string }).code).toBe("HALTED");
    // The cookie is valid on the serve --http listener too (same database, same path).
    const other = new WebSession(h.url);
    other.cookie = web.cookie;
    expect((await other.get("/console/control")).status).toBe(200);
  });
});

describe("overview sections other areas provide", () => {
  it("shows the lease holder from the `lease` status provider, open alerts only, and acks one through alert_ack", async () => {
    const { app, h, tokens } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const before = await web.get("/console");
    expect(before.text).not.toContain("Background lease");
    expect(before.text).toContain("Open alerts (0)");
    app.statusProviders.set("lease", () => ({ holder: "serve pid 4242", held: true }));
    const open = app.alerts.raise({
      kind: "stale_data",
      severity: "warning",
      key: "stale_data:BTC",
      message: "BTC data is 3 min old",
      details: { symbol: "BTC" },
    }).alert;
    app.alerts.raise({
      kind: "drawdown",
      severity: "critical",
      key: "drawdown:test",
      message: "resolved one",
      details: {},
    });
    app.alerts.resolve("drawdown:test", "test");
    const after = await web.get("/console");
    expect(after.text).toContain("Background lease");
    expect(after.text).toContain("serve pid 4242");
    expect(after.text).toContain("Open alerts (1)");
    expect(after.text).toContain("BTC data is 3 min old");
    expect(after.text).not.toContain("resolved one");
    const ack = await web.post(
      `/console/alerts/${open.alert_id}/ack`,
      { csrf: await web.csrf() },
      { accept: "application/json" },
    );
    expect(ack.status).toBe(200);
    const row = app.alerts.list({ status: "open", limit: 5 }).alerts[0];
    expect(row.acknowledged_by).toBe("console:ops");
  });
});

describe("portfolio page and chart data", () => {
  it("a cycle's weight change is a decision marker, its clips are listed, and a halt between cycles is a band", async () => {
    const { app, h, tokens, clock } = await setup();
    const web = new WebSession(h.url);
    await web.login(tokens.operator);
    const t0 = clock.now();
    const target = await callTool(app, agentCaller, "portfolio_set_target", {
      targets: [{ symbol: "BTC", weight: 0.3 }],
      confidence: 0.9,
      rationale: "test",
      model: { name: "t", version: "1" },
    });
    expect(target.isError).not.toBe(true);
    const first = await app.engine.tick(t0 + 60_000);
    expect(first.approved.weights.BTC).toBeGreaterThan(0);
    clock.advance(60_000);
    const halt = await web.post(
      "/console/control/halt",
      { csrf: await web.csrf(), reason: "band test" },
      { accept: "application/json" },
    );
    expect(halt.status).toBe(200);
    const haltedAt = clock.now();
    await app.engine.tick(t0 + 180_000);

    const chart = await (await web.get("/console/api/chart/BTC?hours=2", { accept: "application/json" }))
      .text;
    const data = JSON.parse(chart);
    const cycleMarkers = data.markers.filter((m: { kind: string }) => m.kind === "cycle");
    expect(cycleMarkers[0]).toMatchObject({ time: (t0 + 60_000) / 1000, side: "buy" });
    expect(cycleMarkers[0].text).toMatch(/^w \d+\.\d%/);
    // Bands are snapped to the open time of the 1m candle they start in.
    const from = Math.floor(haltedAt / 60_000) * 60;
    expect(data.bands).toEqual([{ from, to: expect.any(Number), mode: "HALT", reason: "band test" }]);
    expect(data.bands[0].to).toBeGreaterThan(from);
    // Cycle fills are on the chart too.
    expect(data.markers.some((m: { kind: string }) => m.kind === "fill")).toBe(true);

    const page = await web.get("/console/portfolio");
    expect(page.text).toContain(first.id);
    expect(page.text).toContain("per_coin_cap");
    expect(page.text).toContain('data-chart="candles"');
  });
});
