import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getControl } from "../../src/store/control.js";
import { queryAudit } from "../../src/store/audit.js";
import { consoleSetup } from "./helpers.js";

/**
 * The console in a real browser (Debian's chromium driven by playwright-core): an MCP agent client
 * over streamable HTTP proposes, the operator approves in the page, the agent's submit fills; halt
 * from the Control page stops the agent's next increasing order. Screenshots of every page go to
 * test-results/console/ (TW_TEST_OUTPUT overrides), and the chart canvases must hold drawn pixels.
 */

const CHROMIUM = "/usr/bin/chromium";
const OUT = process.env.TW_TEST_OUTPUT ?? join(import.meta.dirname, "..", "..", "test-results", "console");

let browser: Browser;
let env: Awaited<ReturnType<typeof consoleSetup>>;
let agent: Client;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`,
    );
  }
  mkdirSync(OUT, { recursive: true });
  env = await consoleSetup();
  agent = new Client({ name: "agent-under-test", version: "1" });
  await agent.connect(
    new StreamableHTTPClientTransport(new URL(`${env.h.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${env.tokens.agent}` } },
    }),
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await agent?.close();
  await env?.cleanup();
});

async function agentCall(name: string, args: Record<string, unknown>) {
  const r = (await agent.callTool({ name, arguments: args })) as CallToolResult;
  return { isError: r.isError === true, sc: (r.structuredContent ?? {}) as Record<string, any> };
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

/** Pixels of a chart's canvases that differ from the white background (counted in the page). */
async function drawnPixels(page: Page, selector: string): Promise<number> {
  return page.$eval(selector, (el) => {
    let n = 0;
    for (const c of el.querySelectorAll("canvas")) {
      const ctx = c.getContext("2d");
      if (!ctx || c.width === 0 || c.height === 0) continue;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) n++;
      }
    }
    return n;
  });
}

describe("operator console in chromium", () => {
  it("refuses an agent token, approves an agent's intent in the page so its submit fills, halts from the Control page, refuses a POST without CSRF, and draws its charts", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const base = `${env.h.url}/console`;

    // 1. An agent token cannot log in.
    await page.goto(`${base}/login`);
    await page.fill("#token", env.tokens.agent);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/console/login") && r.request().method() === "POST"),
      page.press("#token", "Enter"),
    ]);
    expect(refused.status(), await refused.text()).toBe(403);
    await page.waitForLoadState();
    await expect(page.locator("[role=alert]").textContent()).resolves.toContain(
      "operator and readonly tokens only",
    );
    await shot(page, "01-login-agent-refused");

    // 2. The operator logs in (keyboard only).
    await page.fill("#token", env.tokens.operator);
    await page.press("#token", "Enter");
    await page.waitForURL(`${base}`);
    await expect(page.locator("h1").textContent()).resolves.toBe("Overview");
    expect((await ctx.cookies()).find((c) => c.name === "tw_console")).toMatchObject({
      httpOnly: true,
      sameSite: "Strict",
    });

    // 3. An MCP agent proposes an order above the paper auto-approve notional; it appears in Approvals live.
    await page.goto(`${base}/approvals`);
    await page.waitForSelector("[data-testid=no-pending]");
    await page.waitForFunction(() => document.body.dataset.liveConnected === "yes");
    const p = await agentCall("order_propose", {
      venue: "paper",
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.3,
      client_order_id: "browser-1",
    });
    expect(p.isError).toBe(false);
    expect(p.sc.approval_needed).toBe(true);
    const id = p.sc.intent_id as string;
    await page.waitForSelector(`[data-testid="approve-${id}"]`, { timeout: 15_000 });
    const card = page.locator(`#intent-${id}`);
    await expect(card.textContent()).resolves.toContain("token:bot");
    await expect(card.locator("table.checks tbody tr").count()).resolves.toBeGreaterThan(3);
    await shot(page, "02-approvals");
    const early = await agentCall("order_submit", { intent_id: id });
    expect(early.sc.code).toBe("APPROVAL_REQUIRED");

    // 4. Approve in the page (typing a reason and pressing Enter in the approve form).
    await page.fill(`#ar-${id}`, "checked in the browser");
    await page.press(`#ar-${id}`, "Enter");
    await page.waitForURL(`${base}/intents/${id}`);
    await expect(page.locator(".flash-ok").textContent()).resolves.toContain(`Approved intent ${id}`);
    await expect(page.locator(`[data-testid="status-${id}"]`).textContent()).resolves.toBe("approved");
    await shot(page, "03-intent");
    const sub = await agentCall("order_submit", { intent_id: id });
    expect(sub.isError).toBe(false);
    expect(sub.sc).toMatchObject({ status: "filled", filled_size: "0.3" });
    const account = await agentCall("account_get_state", { venue: "paper" });
    expect(account.sc.positions).toEqual([expect.objectContaining({ symbol: "BTC", size: "0.3" })]);
    const approveRow = queryAudit(env.app.db, { tool: "order_approve", limit: 5 }).rows[0];
    expect(approveRow).toMatchObject({ caller: "console:ops", decision: "allowed" });

    // 5. Orders/fills, overview, audit, research pages.
    await page.goto(`${base}/orders?tab=fills`);
    await expect(page.locator("main table tbody tr").first().textContent()).resolves.toContain("browser-1");
    await shot(page, "04-fills");
    await page.goto(`${base}/orders`);
    await shot(page, "05-orders");
    await page.goto(`${base}`);
    await expect(page.locator("#h-positions + h3 + table").textContent()).resolves.toContain("BTC");
    await shot(page, "06-overview");
    await page.goto(`${base}/audit`);
    await expect(page.locator("[data-testid=audit-verify]").textContent()).resolves.toContain("Intact");
    await shot(page, "07-audit");
    const bt = await agentCall("backtest_run", {
      strategy: "ema_cross",
      params: { fast: 5, slow: 20 },
      symbols: ["BTC"],
      interval: "1m",
    });
    expect(bt.isError, JSON.stringify(bt.sc)).toBe(false);
    await page.goto(`${base}/research`);
    await page.click(`a[href="/console/research/backtests/${bt.sc.id}"]`);
    await page.waitForSelector('[data-chart="equity"][data-drawn="yes"]');
    expect(await drawnPixels(page, '[data-chart="equity"]')).toBeGreaterThan(2_000);
    await shot(page, "08-research-backtest");

    // 6. Halt from the Control page; the agent's next increasing order is HALTED.
    await page.goto(`${base}/control`);
    await page.fill("#reason-halt", "browser drill");
    await page.click("[data-testid=control-halt]");
    await page.waitForURL(`${base}/control`);
    await expect(page.locator(".flash-ok").textContent()).resolves.toContain("NORMAL → HALT");
    await expect(page.locator("[data-testid=control-mode]").textContent()).resolves.toBe("HALT");
    await shot(page, "09-control");
    expect(getControl(env.app.db)).toMatchObject({ mode: "HALT", actor: "console:ops" });
    const halted = await agentCall("order_propose", {
      venue: "paper",
      symbol: "ETH",
      side: "buy",
      type: "market",
      notional: 1000,
    });
    expect(halted.isError).toBe(true);
    expect(halted.sc.code).toBe("HALTED");

    // 7. A POST carrying the session cookie but no CSRF token is refused and changes nothing.
    const forged = await ctx.request.post(`${base}/control/resume`, {
      form: { reason: "forged", confirm: "RESUME" },
    });
    expect(forged.status()).toBe(403);
    expect(getControl(env.app.db).mode).toBe("HALT");

    // 8. The portfolio page draws a candlestick chart per coin, with the fill as a marker and the halt as a band.
    await page.goto(`${base}/portfolio`);
    const btc = '[data-chart="candles"][data-src^="/console/api/chart/BTC"]';
    await page.waitForSelector(`${btc}[data-drawn="yes"]`, { timeout: 15_000 });
    expect(await drawnPixels(page, btc)).toBeGreaterThan(5_000);
    const data = await (await ctx.request.get(`${base}/api/chart/BTC?hours=6`)).json();
    expect(data.candles.length).toBeGreaterThan(200);
    expect(data.markers).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: "fill", side: "buy", text: "B 0.3" })]),
    );
    expect(data.bands).toEqual([expect.objectContaining({ mode: "HALT", reason: "browser drill" })]);
    await shot(page, "10-portfolio");

    expect(errors).toEqual([]);
    await ctx.close();
  });
});
