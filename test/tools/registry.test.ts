import type { JsonSchemaType } from "@modelcontextprotocol/sdk/validation";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { App } from "../../src/app.js";
import { allTools } from "../../src/tools/index.js";
import { checkCatalog, defineTool } from "../../src/tools/registry.js";
import { SimClock } from "../../src/clock.js";
import { call, connectClient, REPLAY_30D, testApp } from "../helpers/app.js";

// Scope sets per profile, written out independently of src/policy/scopes.ts (DESIGN.md §2).
const READONLY = ["market:read", "knowledge:read", "account:read", "audit:read"];
const AGENT = [
  ...READONLY,
  "memory:write",
  "research:run",
  "orders:propose",
  "orders:submit",
  "portfolio:target",
  "control:tighten",
];

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(): Promise<App> {
  const t = await testApp();
  cleanup = t.cleanup;
  // A probe tool that only operators may call, so scope refusals are testable whatever else exists.
  t.app.tools.push(
    defineTool({
      name: "probe_operator_only",
      toolset: "probe",
      title: "probe",
      description: "Test probe: doubles n. Operator only; used to exercise scope refusals.",
      scope: "control:loosen",
      annotations: { destructiveHint: true },
      input: z.object({ n: z.number().int() }).strict(),
      output: z.object({ doubled: z.number() }),
      handler: async ({ n }) => ({ doubled: n * 2 }),
    }),
  );
  return t.app;
}

describe("tool registry", () => {
  it("tools/list shows exactly the tools each profile's scopes allow", async () => {
    const app = await setup();
    const allowed: Record<string, string[] | "all"> = { readonly: READONLY, agent: AGENT, operator: "all" };
    for (const [profile, scopes] of Object.entries(allowed)) {
      const client = await connectClient(app, profile as "agent");
      const listed = (await client.listTools()).tools.map((t) => t.name).sort();
      const expected = app.tools
        .filter((t) => t.scope === null || scopes === "all" || scopes.includes(t.scope))
        .map((t) => t.name)
        .sort();
      expect(listed, profile).toEqual(expected);
      expect(listed.includes("probe_operator_only"), profile).toBe(profile === "operator");
      await client.close();
    }
  });

  it("the agent profile never sees order_approve, control_resume or control_flatten; it sees risk_set_limits, which it may only use to tighten", async () => {
    const app = await setup();
    const client = await connectClient(app, "agent");
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const n of ["order_approve", "order_reject", "control_resume", "control_flatten", "rag_reindex"]) {
      expect(names).not.toContain(n);
    }
    expect(names).toContain("risk_set_limits");
    const raise = await call(client, "risk_set_limits", {
      max_leverage: 10,
      max_gross: 0.3,
      reason: "more please",
    });
    expect(raise.sc.code).toBe("FORBIDDEN_SCOPE");
    expect(raise.sc.details.loosened.map((l: { field: string }) => l.field)).toEqual(["max_leverage"]);
    const mixed = await call(client, "risk_set_limits", {
      max_gross: 0.3,
      caps: { DOGE: 0.2 },
      reason: "mixed",
    });
    expect(mixed.sc.code).toBe("FORBIDDEN_SCOPE");
    expect(mixed.sc.details.loosened.map((l: { field: string }) => l.field)).toEqual(["caps.DOGE"]);
    const tighten = await call(client, "risk_set_limits", {
      max_gross: 0.3,
      caps: { DOGE: 0.05 },
      reason: "safer",
    });
    expect(tighten.isError).toBe(false);
    expect(tighten.sc.portfolio_limits).toMatchObject({
      max_gross: 0.3,
      caps: { BTC: 0.15, ETH: 0.15, DOGE: 0.05 },
    });
    // Nothing of the refused calls was written: the effective limits are the tightened ones only.
    expect(tighten.sc.limits.max_leverage).toBe(3);
  });

  it("every tool has a strict input schema, an output schema and annotations", async () => {
    const app = await setup();
    const client = await connectClient(app, "operator");
    const tools = (await client.listTools()).tools;
    expect(tools.length).toBeGreaterThan(1);
    for (const t of tools) {
      expect(t.inputSchema.type, t.name).toBe("object");
      expect((t.inputSchema as { additionalProperties?: unknown }).additionalProperties, t.name).toBe(false);
      expect(t.outputSchema, t.name).toBeDefined();
      expect(t.annotations, t.name).toBeDefined();
      expect(t.description?.length ?? 0, t.name).toBeGreaterThan(40);
      expect(t.name).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
    }
  });

  it("a call outside the caller's scopes is refused with FORBIDDEN_SCOPE and never executes", async () => {
    const app = await setup();
    const client = await connectClient(app, "agent");
    const r = await call(client, "probe_operator_only", { n: 2 });
    expect(r.isError).toBe(true);
    expect(r.sc.code).toBe("FORBIDDEN_SCOPE");
    expect(r.sc.retryable).toBe(false);
    expect(r.sc.message).toContain("control:loosen");
    expect(r.sc.doubled).toBeUndefined();
    const ok = await call(await connectClient(app, "operator"), "probe_operator_only", { n: 2 });
    expect(ok).toEqual({ isError: false, sc: { doubled: 4 } });
  });

  it("an unknown extra argument is INVALID_INPUT naming the key", async () => {
    const app = await setup();
    const client = await connectClient(app, "operator");
    const r = await call(client, "probe_operator_only", { n: 1, sneaky: true });
    expect(r.isError).toBe(true);
    expect(r.sc.code).toBe("INVALID_INPUT");
    expect(r.sc.message).toContain('"sneaky"');
    const wrongType = await call(client, "probe_operator_only", { n: "one" });
    expect(wrongType.sc.code).toBe("INVALID_INPUT");
    expect(wrongType.sc.message).toContain("n:");
  });

  it("an unknown tool is NOT_FOUND with a hint", async () => {
    const app = await setup();
    const r = await call(await connectClient(app, "operator"), "no_such_tool", {});
    expect(r.sc.code).toBe("NOT_FOUND");
    expect(r.sc.hint).toContain("tools/list");
  });

  it("every call, allowed or refused, appears in audit_query with caller and decision", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    await call(agent, "system_get_status");
    await call(agent, "probe_operator_only", { n: 3 });
    await call(agent, "system_get_status", { bogus: 1 });
    const page = await call(agent, "audit_query", { limit: 10 });
    expect(page.isError).toBe(false);
    const rows = page.sc.rows as Array<{
      tool: string;
      decision: string;
      code: string | null;
      caller: string;
    }>;
    // Newest first; the audit_query call itself is recorded after it answers.
    expect(rows.map((r) => [r.tool, r.decision, r.code])).toEqual([
      ["system_get_status", "refused", "INVALID_INPUT"],
      ["probe_operator_only", "refused", "FORBIDDEN_SCOPE"],
      ["system_get_status", "allowed", null],
    ]);
    expect(new Set(rows.map((r) => r.caller))).toEqual(new Set(["memory:agent"]));
    const again = await call(agent, "audit_query", { tool: "audit_query" });
    expect(again.sc.rows).toHaveLength(1);
  });

  it("audit_query pages with an opaque cursor and says truncated", async () => {
    const app = await setup();
    const c = await connectClient(app, "readonly");
    for (let i = 0; i < 5; i++) await call(c, "system_get_status");
    const p1 = await call(c, "audit_query", { limit: 3, tool: "system_get_status" });
    expect(p1.sc.rows).toHaveLength(3);
    expect(p1.sc.truncated).toBe(true);
    const p2 = await call(c, "audit_query", {
      limit: 3,
      tool: "system_get_status",
      cursor: p1.sc.next_cursor,
    });
    expect(p2.sc.rows).toHaveLength(2);
    expect(p2.sc.truncated).toBe(false);
    const ids = [...p1.sc.rows, ...p2.sc.rows].map((r: { id: number }) => r.id);
    expect(new Set(ids).size).toBe(5);
    const bad = await call(c, "audit_query", { cursor: "garbage!" });
    expect(bad.sc.code).toBe("INVALID_INPUT");
    const over = await call(c, "audit_query", { limit: 501 });
    expect(over.sc.code).toBe("INVALID_INPUT");
  });

  it("TW_TOOLSETS narrows the catalog but scopes still apply", async () => {
    const t = await testApp({ TW_TOOLSETS: "system" });
    cleanup = t.cleanup;
    const names = (await (await connectClient(t.app, "operator")).listTools()).tools.map((x) => x.name);
    expect(names).toEqual(["system_get_status"]);
    const r = await call(await connectClient(t.app, "operator"), "audit_query", {});
    expect(r.sc.code).toBe("NOT_FOUND");
  });
});

describe("tools/list sized for a model's context", () => {
  it("a tool whose result declares an error field with another type is refused by the catalog check, which the shipped catalog passes (errors must validate against every output schema)", () => {
    const bad = defineTool({
      name: "probe_clash",
      toolset: "system",
      title: "probe",
      description: "Test probe whose result has a numeric message field, which an error payload would fail.",
      scope: null,
      annotations: {},
      input: z.object({}).strict(),
      output: z.object({ message: z.number() }),
      handler: async () => ({ message: 1 }),
    });
    expect(() => checkCatalog([bad])).toThrow(/probe_clash: result field message/);
    // Start-up skips this check (it depends only on the build): the shipped catalog is checked here.
    const shipped = allTools();
    expect(() => checkCatalog([...shipped, bad])).toThrow(/probe_clash: result field message/);
    expect(() => checkCatalog(shipped)).not.toThrow();
    expect(() =>
      checkCatalog([{ ...bad, output: z.object({ message: z.string().nullable() }) }]),
    ).not.toThrow();
  });

  it("the agent profile's tools/list is at most 48 KB of JSON and has no JSON-schema `type` arrays", async () => {
    const app = await setup();
    const client = await connectClient(app, "agent");
    const list = await client.listTools();
    const bytes = Buffer.byteLength(JSON.stringify(list));
    expect(bytes).toBeLessThanOrEqual(48 * 1024);
    const typeArrays: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${path}/${i}`);
      } else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          // `properties` maps field names (a field may be called "type") to schemas.
          if (k === "type" && Array.isArray(v)) typeArrays.push(path);
          walk(v, `${path}/${k}`);
        }
      }
    };
    walk(list.tools, "");
    expect(typeArrays).toEqual([]);
  });

  it("the SDK client's own validator accepts real results and error payloads, and still rejects a field of the wrong type", async () => {
    const t = await testApp({ TW_MARKET_DATA: `replay:${REPLAY_30D}` }, new SimClock(Date.UTC(2025, 5, 2)));
    cleanup = t.cleanup;
    const client = await connectClient(t.app, "agent");
    const tools = (await client.listTools()).tools;
    const ajv = new AjvJsonSchemaValidator();
    const schemaOf = (n: string) => tools.find((t) => t.name === n)?.outputSchema as JsonSchemaType;
    const validate = (n: string, v: unknown) => ajv.getValidator(schemaOf(n))(v).valid;

    const ok = await call(client, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
    });
    expect(ok.isError).toBe(false);
    expect(validate("order_propose", ok.sc)).toBe(true);
    const refused = await call(client, "order_get", { order_id: "nope" });
    expect(refused.isError).toBe(true);
    expect(validate("order_get", refused.sc)).toBe(true);
    // A wrong type is caught at the top and inside a shared definition.
    expect(validate("order_propose", { ...ok.sc, size: 0.01 })).toBe(false);
    expect(validate("order_get", { ...refused.sc, children: [{ size: 1 }] })).toBe(false);
    const sub = await call(client, "order_submit", { intent_id: ok.sc.intent_id });
    expect(sub.isError).toBe(false);
    expect(validate("order_submit", sub.sc)).toBe(true);
    expect(validate("order_submit", { ...sub.sc, children: [{ ...sub.sc, size: 5 }] })).toBe(false);
  });
});
