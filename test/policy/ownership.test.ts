import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { callerFor, type Profile } from "../../src/policy/scopes.js";
import { createMcpServer } from "../../src/server/mcp.js";
import { getControl } from "../../src/store/control.js";
import { call } from "../helpers/app.js";
import { orderApp } from "./helpers.js";

/**
 * Per-caller isolation and caller-scoped idempotency (issue 12, findings 3 and 8): two agents on one
 * server, each with its own identity (as two HTTP tokens are).
 */

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function as(app: App, id: string, profile: Profile): Promise<Client> {
  const server = createMcpServer(app, callerFor(id, profile, "http"));
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  const c = new Client({ name: id, version: "1" });
  await c.connect(ct);
  return c;
}

async function setup() {
  const t = await orderApp();
  cleanups.push(t.cleanup);
  return {
    ...t,
    alice: await as(t.app, "token:alice", "agent"),
    bob: await as(t.app, "token:bob", "agent"),
    viewer: await as(t.app, "token:viewer", "readonly"),
    operator: await as(t.app, "token:ops", "operator"),
  };
}

describe("per-caller isolation", () => {
  it("another agent cannot submit, read or cancel your intents and orders: NOT_FOUND, as if they did not exist", async () => {
    const { alice, bob, viewer, operator } = await setup();
    const p = await call(alice, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "limit",
      size: 0.01,
      price: 106_000,
    });
    // Bob tries to submit Alice's intent before she does.
    const stolen = await call(bob, "order_submit", { intent_id: p.sc.intent_id });
    expect(stolen.sc.code).toBe("NOT_FOUND");
    const mine = await call(alice, "order_submit", { intent_id: p.sc.intent_id });
    expect(mine.sc.status).toBe("open");
    const orderId = mine.sc.order_id as string;

    expect((await call(bob, "order_get", { order_id: orderId })).sc.code).toBe("NOT_FOUND");
    expect((await call(bob, "order_cancel", { order_id: orderId })).sc.code).toBe("NOT_FOUND");
    expect((await call(viewer, "order_get", { order_id: orderId })).sc.code).toBe("NOT_FOUND");
    expect((await call(bob, "order_list", {})).sc.orders).toEqual([]);
    expect((await call(bob, "account_get_state", {})).sc.open_orders).toEqual([]);
    const cancelAll = await call(bob, "order_cancel_all", {});
    expect(cancelAll.sc.results).toEqual([]);
    // Alice's order is untouched, and she and the operator see it.
    expect((await call(alice, "order_get", { order_id: orderId })).sc.status).toBe("open");
    expect(
      (await call(alice, "order_list", {})).sc.orders.map((o: { order_id: string }) => o.order_id),
    ).toEqual([orderId]);
    expect((await call(operator, "order_get", { order_id: orderId })).sc.status).toBe("open");
    expect((await call(alice, "account_get_state", {})).sc.open_orders).toHaveLength(1);
  });

  it("fills and audit rows are per caller; the operator sees everyone's", async () => {
    const { alice, bob, operator } = await setup();
    const p = await call(alice, "order_propose", { symbol: "ETH", side: "buy", type: "market", size: 1 });
    expect((await call(alice, "order_submit", { intent_id: p.sc.intent_id })).sc.status).toBe("filled");
    expect((await call(alice, "fill_list", {})).sc.fills).toHaveLength(1);
    expect((await call(bob, "fill_list", {})).sc.fills).toEqual([]);
    expect((await call(operator, "fill_list", {})).sc.fills).toHaveLength(1);

    const bobsRows = (await call(bob, "audit_query", { limit: 500 })).sc.rows as Array<{ caller: string }>;
    expect(bobsRows.length).toBeGreaterThan(0);
    expect(bobsRows.every((r) => r.caller === "token:bob")).toBe(true);
    expect((await call(bob, "audit_query", { caller: "token:alice" })).sc.rows).toEqual([]);
    const all = (await call(operator, "audit_query", { limit: 500 })).sc.rows as Array<{ caller: string }>;
    expect(new Set(all.map((r) => r.caller))).toEqual(new Set(["token:alice", "token:bob", "token:ops"]));
  });
});

describe("idempotency keys are scoped by caller and control replays tell the truth", () => {
  it("a control_halt replayed with its old key after an operator resume halts again and answers HALT", async () => {
    const { app, alice, operator } = await setup();
    const first = await call(alice, "control_halt", {
      reason: "agent saw a problem",
      idempotency_key: "h-1",
    });
    expect(first.sc).toMatchObject({ mode: "HALT", changed: true });
    expect((await call(operator, "control_resume", { reason: "checked" })).sc.mode).toBe("NORMAL");
    const replay = await call(alice, "control_halt", {
      reason: "agent saw a problem",
      idempotency_key: "h-1",
    });
    expect(replay.sc.mode).toBe("HALT");
    expect(getControl(app.db).mode).toBe("HALT"); // the answer holds
    const again = await call(alice, "control_halt", {
      reason: "agent saw a problem",
      idempotency_key: "h-1",
    });
    expect(again.sc).toMatchObject({ mode: "HALT", changed: false });
  });

  it("an operator's control_halt with a key an agent already used halts (no IDEMPOTENCY_CONFLICT)", async () => {
    const { app, alice, operator } = await setup();
    await call(alice, "control_reduce_only", { reason: "agent", idempotency_key: "shared-key" });
    const r = await call(operator, "control_halt", {
      reason: "operator stop",
      idempotency_key: "shared-key",
    });
    expect(r.isError).toBe(false);
    expect(getControl(app.db).mode).toBe("HALT");
  });

  it("two callers using the same memory_write key each get their own item", async () => {
    const { alice, bob } = await setup();
    const a = await call(alice, "memory_write", { kind: "note", text: "alice's note", idempotency_key: "k" });
    const b = await call(bob, "memory_write", { kind: "note", text: "bob's note", idempotency_key: "k" });
    expect(a.isError).toBe(false);
    expect(b.isError).toBe(false);
    expect(b.sc.id).not.toBe(a.sc.id);
    const replay = await call(alice, "memory_write", {
      kind: "note",
      text: "alice's note",
      idempotency_key: "k",
    });
    expect(replay.sc.id).toBe(a.sc.id);
  });

  it("a client_order_id another caller holds is refused without naming their intent", async () => {
    const { alice, bob } = await setup();
    const a = await call(alice, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
      client_order_id: "dup-1",
    });
    const b = await call(bob, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
      client_order_id: "dup-1",
    });
    expect(b.sc.code).toBe("IDEMPOTENCY_CONFLICT");
    expect(JSON.stringify(b.sc)).not.toContain(a.sc.intent_id);
  });
});

describe("alerts are isolated too", () => {
  it("an approval_pending alert about Alice's intent is listed for her and the operator, not for Bob; account-wide alerts for all", async () => {
    const { app, alice, bob, operator } = await setup();
    app.alerts.raise({
      kind: "approval_pending",
      severity: "warning",
      key: "approval_pending:int_x",
      message: "Intent int_x from token:alice waits",
      details: { intent_id: "int_x", caller: "token:alice" },
    });
    app.alerts.raise({
      kind: "stale_data",
      severity: "warning",
      key: "stale_data:BTC",
      message: "BTC stale",
      details: { symbol: "BTC" },
    });
    const kinds = async (c: Client) =>
      ((await call(c, "alert_list", {})).sc.alerts as Array<{ kind: string }>).map((a) => a.kind).sort();
    expect(await kinds(alice)).toEqual(["approval_pending", "stale_data"]);
    expect(await kinds(bob)).toEqual(["stale_data"]);
    expect(await kinds(operator)).toEqual(["approval_pending", "stale_data"]);
  });
});
