import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import { verifyAudit } from "../../src/store/audit.js";
import { REPLAY_30D, tempHome } from "../helpers/app.js";

/**
 * Two real `tradewarden serve` processes on one TW_HOME (issue 12, finding 2) — a desktop app and an
 * IDE, say — each sending 40 orders at once. Before the lane and immediate transactions this gave
 * raw JSON-RPC "database is locked" errors, orders sent but reported failed, sent orders without an
 * audit row and orders left pending.
 */

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const T0 = Date.UTC(2025, 4, 25, 15, 0, 0);
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function serve(home: string): Promise<Client> {
  const transport = new StdioClientTransport({
    command: "node",
    args: [CLI, "serve"],
    env: {
      ...(process.env as Record<string, string>),
      TW_HOME: home,
      TW_LOG_LEVEL: "warn",
      TW_MARKET_DATA: `replay:${REPLAY_30D}`,
      TW_REPLAY_START: String(T0),
    },
    stderr: "pipe",
  });
  const client = new Client({ name: "tw-multi", version: "1" });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return client;
}

const sc = (r: unknown) => (r as CallToolResult).structuredContent as Record<string, any>;

async function fortyOrders(client: Client, tag: string) {
  const proposals = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      client.callTool({
        name: "order_propose",
        arguments: {
          symbol: "BTC",
          side: "buy",
          type: "market",
          size: 0.001,
          client_order_id: `${tag}-${i}`,
        },
      }),
    ),
  );
  for (const p of proposals) expect((p as CallToolResult).isError, JSON.stringify(sc(p))).toBeFalsy();
  // Every call must come back as a tool result: a JSON-RPC error would reject this promise.
  return Promise.all(
    proposals.map((p) =>
      client.callTool({ name: "order_submit", arguments: { intent_id: sc(p).intent_id } }),
    ),
  );
}

describe("two serve processes on one home", () => {
  it("each sending 40 concurrent orders: every call returns a tool result, every accepted order is reported and audited, one lease holder", async () => {
    const t = tempHome();
    cleanups.push(t.cleanup);
    const [a, b] = [await serve(t.home), await serve(t.home)];
    const [ra, rb] = await Promise.all([fortyOrders(a, "a"), fortyOrders(b, "b")]);
    const results = [...ra, ...rb].map((r) => r as CallToolResult);
    const problems = results.filter((r) => r.isError).map((r) => sc(r));
    expect(problems).toEqual([]);
    expect(results.every((r) => sc(r).status === "filled")).toBe(true);

    const leases = await Promise.all(
      [a, b].map(async (c) => sc(await c.callTool({ name: "system_get_status", arguments: {} })).lease),
    );
    expect(leases.filter((l) => l.held)).toHaveLength(1);
    expect(leases[0].holder).toEqual(leases[1].holder);

    await a.close();
    await b.close();
    const db = openDb(join(t.home, "tradewarden.db"));
    try {
      // The account: every order the venue filled is one we reported filled, and nothing more.
      const venueOrders = db.prepare("SELECT client_order_id, status FROM paper_orders").all() as Array<{
        client_order_id: string;
        status: string;
      }>;
      expect(venueOrders).toHaveLength(80);
      expect(venueOrders.every((o) => o.status === "filled")).toBe(true);
      const reported = new Set(results.map((r) => sc(r).client_order_id as string));
      expect(new Set(venueOrders.map((o) => o.client_order_id))).toEqual(reported);
      const ours = db.prepare("SELECT status, COUNT(*) AS n FROM orders GROUP BY status").all();
      expect(ours).toEqual([{ status: "filled", n: 80 }]);
      const pos = db.prepare("SELECT size FROM positions WHERE venue = 'paper' AND symbol = 'BTC'").get() as {
        size: string;
      };
      expect(Number(pos.size)).toBeCloseTo(0.08, 10);
      // Every sent order has its pre-send audit row and its submit row.
      for (const cid of reported) {
        const tools = (
          db.prepare("SELECT tool, decision FROM audit_log WHERE keys LIKE ?").all(`%${cid}"%`) as Array<{
            tool: string;
            decision: string;
          }>
        ).map((r) => `${r.tool}:${r.decision}`);
        expect(tools).toContain("order_submit.send:allowed");
        expect(tools).toContain("order_submit:allowed");
      }
      expect(verifyAudit(db).ok).toBe(true);
    } finally {
      db.close();
    }
  });
});
