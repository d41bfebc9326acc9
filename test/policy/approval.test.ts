import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { call, connectClient } from "../helpers/app.js";
import { countingVenue, orderApp } from "./helpers.js";

/**
 * Approval an agent cannot forge (issue 14, DESIGN.md §11): the requesting client's own answers never
 * approve by default; URL-mode elicitation points the human at the console, where the decision is
 * made; a form answer counts only when the operator's config trusts that client.
 */

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(patch: Parameters<typeof orderApp>[0] = () => {}) {
  const t = await orderApp(patch);
  cleanups.push(t.cleanup);
  const v = countingVenue(t.app.venues.get("paper"));
  t.app.venues.register(v);
  const agent = await connectClient(t.app, "agent");
  const operator = await connectClient(t.app, "operator");
  // 0.3 BTC ≈ 32k quote: above the 25k paper auto-approve threshold.
  const p = await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.3 });
  expect(p.sc.approval_needed).toBe(true);
  return { ...t, v, operator, intentId: p.sc.intent_id as string };
}

/** An agent client that declares elicitation and accepts everything it is asked, approving forms. */
async function yesMan(app: App, modes: { form?: boolean; url?: boolean }) {
  const caps: Record<string, object> = {};
  if (modes.form) caps.form = {};
  if (modes.url) caps.url = {};
  const client = await connectClient(app, "agent", { elicitation: caps });
  const asked: Array<{ mode: string; message: string; url?: string; elicitationId?: string }> = [];
  const completed: string[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    const p = req.params as { mode?: string; message: string; url?: string; elicitationId?: string };
    asked.push({ mode: p.mode ?? "form", message: p.message, url: p.url, elicitationId: p.elicitationId });
    return p.mode === "url" ? { action: "accept" } : { action: "accept", content: { approve: true } };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, async (n) => {
    completed.push(n.params.elicitationId);
  });
  return { client, asked, completed };
}

const approvals = (app: App, id: string) =>
  app.db.prepare("SELECT decision, actor, via FROM approvals WHERE intent_id = ?").all(id);

describe("approval channels", () => {
  it("an agent's own client accepting the approval form does not approve: nothing is sent (default config)", async () => {
    const { app, v, intentId } = await setup();
    const { client, asked } = await yesMan(app, { form: true });
    const s = await call(client, "order_submit", { intent_id: intentId });
    expect(s.sc.code).toBe("APPROVAL_REQUIRED");
    expect(s.sc.details.operator_command).toBe(`tradewarden approve ${intentId}`);
    expect(s.sc.details.console_url).toMatch(new RegExp(`/console/intents/${intentId}$`));
    expect(asked).toEqual([]); // never asked: its answer could not count
    expect(v.placeCalls).toBe(0);
    expect(approvals(app, intentId)).toEqual([]);
  });

  it("accepting a URL elicitation is not an approval: after the wait the submit is APPROVAL_REQUIRED and nothing is sent", async () => {
    const { app, v, intentId } = await setup((c) => {
      c.approval.urlWaitMs = 300;
    });
    const { client, asked } = await yesMan(app, { form: true, url: true });
    const s = await call(client, "order_submit", { intent_id: intentId });
    expect(s.sc.code).toBe("APPROVAL_REQUIRED");
    expect(asked).toHaveLength(1);
    expect(asked[0].mode).toBe("url");
    expect(asked[0].url).toBe(s.sc.details.console_url);
    expect(v.placeCalls).toBe(0);
    expect(approvals(app, intentId)).toEqual([]);
    const again = await call(client, "order_submit", { intent_id: intentId });
    expect(again.sc.code).toBe("APPROVAL_REQUIRED");
    expect(v.placeCalls).toBe(0);
    const rows = app.db
      .prepare("SELECT caller, decision, result FROM audit_log WHERE tool = 'order_submit.approval_request'")
      .all() as Array<{ caller: string; decision: string; result: string }>;
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.every((r) => r.decision === "refused")).toBe(true);
    expect(
      rows.some((r) => JSON.parse(r.result).answer === "accept" && JSON.parse(r.result).counts === false),
    ).toBe(true);
  });

  it("URL mode: the operator approves on the console page meanwhile → completion notification, and the same submit fills once", async () => {
    const { app, v, operator, intentId } = await setup((c) => {
      c.approval.urlWaitMs = 5_000;
    });
    const { client, asked, completed } = await yesMan(app, { url: true });
    // The human opens the URL and approves as the operator (console / CLI / operator token).
    const operatorApproves = (async () => {
      while (asked.length === 0) await new Promise((r) => setTimeout(r, 20));
      await call(operator, "order_approve", { intent_id: intentId, reason: "checked in the console" });
    })();
    const s = await call(client, "order_submit", { intent_id: intentId });
    await operatorApproves;
    expect(s.isError).toBe(false);
    expect(s.sc.status).toBe("filled");
    expect(v.placeCalls).toBe(1);
    for (let i = 0; i < 50 && completed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(completed).toEqual([asked[0].elicitationId]);
    expect(approvals(app, intentId)).toEqual([
      { decision: "approved", actor: "memory:operator", via: "tool" },
    ]);
  });

  it("approval.trustFormElicitation: the trusted human's accept approves and the order is sent once", async () => {
    const { app, v, intentId } = await setup((c) => {
      c.approval.trustFormElicitation = true;
    });
    const { client, asked } = await yesMan(app, { form: true });
    const s = await call(client, "order_submit", { intent_id: intentId });
    expect(s.isError).toBe(false);
    expect(s.sc.status).toBe("filled");
    expect(asked[0].message).toContain("BUY 0.3 BTC on paper");
    expect(v.placeCalls).toBe(1);
    expect(approvals(app, intentId)).toEqual([
      { decision: "approved", actor: "human@memory:agent", via: "elicitation" },
    ]);
  });

  it("approval.trustFormElicitation: a decline is a final rejection, recorded and audited", async () => {
    const { app, v, operator, intentId } = await setup((c) => {
      c.approval.trustFormElicitation = true;
    });
    const client: Client = await connectClient(app, "agent", { elicitation: { form: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "decline" }));
    const s = await call(client, "order_submit", { intent_id: intentId });
    expect(s.sc.code).toBe("APPROVAL_REQUIRED");
    expect(s.sc.message).toContain("rejected by human@memory:agent");
    expect(v.placeCalls).toBe(0);
    const audit = await call(operator, "audit_query", { limit: 10 });
    const tools = audit.sc.rows.map((r: { tool: string; decision: string }) => `${r.tool}:${r.decision}`);
    expect(tools).toContain("order_submit.approval_request:refused");
    expect(tools.filter((t: string) => t === "order_submit:refused")).toHaveLength(2);
  });
});
