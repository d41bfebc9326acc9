import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { queryAudit } from "../../src/store/audit.js";
import { call, connectClient, DATA, testApp } from "../helpers/app.js";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(env: Record<string, string> = {}) {
  const t = await testApp(env);
  cleanup = t.cleanup;
  return t.app;
}

describe("knowledge tools", () => {
  it("rag_search answers from the shipped docs/knowledge with citations by default", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    const r = await call(agent, "rag_search", { query: "IDEMPOTENCY_CONFLICT", limit: 3 });
    expect(r.isError).toBe(false);
    expect(r.sc.results.length).toBeGreaterThan(0);
    expect(["policy-gate.md", "idempotency-and-approval.md"]).toContain(r.sc.results[0].path);
    const sz = await call(agent, "rag_search", { query: "szDecimals significant figures" });
    expect(sz.sc.results[0].path).toBe("venues-and-precision.md");
    const zh = await call(agent, "rag_search", { query: "资金费率" });
    expect(zh.sc.results[0].path).toBe("glossary.md");
  });

  it("rag_search over TW_KNOWLEDGE_DIR=data/knowledge cites that corpus", async () => {
    const app = await setup({ TW_KNOWLEDGE_DIR: join(DATA, "knowledge") });
    const agent = await connectClient(app, "readonly");
    const r = await call(agent, "rag_search", { query: "Monte Carlo", limit: 5 });
    expect(r.sc.results.every((h: { path: string }) => h.path.startsWith("jesse-docs/"))).toBe(true);
  });

  it("hostile and oversized queries come back as results or INVALID_INPUT, never a crash", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    const ok = await call(agent, "rag_search", { query: 'NEAR("risk" *' });
    expect(ok.isError).toBe(false);
    const punct = await call(agent, "rag_search", { query: '"*"' });
    expect(punct.sc.code).toBe("INVALID_INPUT");
    const long = await call(agent, "rag_search", { query: "x".repeat(2001) });
    expect(long.sc.code).toBe("INVALID_INPUT");
    const over = await call(agent, "rag_search", { query: "risk", limit: 21 });
    expect(over.sc.code).toBe("INVALID_INPUT");
  });

  it("no hits says so in message", async () => {
    const app = await setup();
    const r = await call(await connectClient(app, "readonly"), "rag_search", { query: "zzqqxx" });
    expect(r.sc.results).toEqual([]);
    expect(r.sc.message).toMatch(/No matches/);
  });

  it("rag_reindex is operator-only and reports an unchanged corpus as unchanged", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    expect((await call(agent, "rag_reindex")).sc.code).toBe("FORBIDDEN_SCOPE");
    const op = await connectClient(app, "operator");
    const r = await call(op, "rag_reindex");
    expect(r.isError).toBe(false);
    expect(r.sc.files_indexed).toBe(0);
    expect(r.sc.files_unchanged).toBe(r.sc.files_seen);
    expect(r.sc.files_seen).toBeGreaterThanOrEqual(8);
  });

  it("system_get_status shows the knowledge section", async () => {
    const app = await setup();
    const s = await call(await connectClient(app, "readonly"), "system_get_status");
    expect(s.sc.components.knowledge.chunks).toBeGreaterThan(0);
    expect(s.sc.components.knowledge.embeddings).toBe("off");
  });
});

describe("memory tools", () => {
  it("write → search finds it → disable → search no longer returns it; all audited with the caller", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    const w = await call(agent, "memory_write", {
      kind: "observation",
      text: "DOGE spread above 5 bps on weekends",
      tags: ["doge", "spread"],
      confidence: 0.7,
      importance: 2,
      idempotency_key: "obs-1",
    });
    expect(w.isError).toBe(false);
    const id = w.sc.id as number;
    const s1 = await call(agent, "memory_search", { query: "DOGE spread" });
    expect(s1.sc.items.map((i: { id: number }) => i.id)).toEqual([id]);
    expect(s1.sc.items[0].author).toBe("memory:agent");
    expect(s1.sc.items[0].usage_count).toBe(1);
    expect((await call(agent, "memory_search", { query: "DOGE spread" })).sc.items[0].usage_count).toBe(2);

    const d = await call(agent, "memory_disable", { id, reason: "one weekend only" });
    expect(d.sc).toMatchObject({ id, disabled: true, already_disabled: false, disabled_by: "memory:agent" });
    const s2 = await call(agent, "memory_search", { query: "DOGE spread" });
    expect(s2.sc.items).toEqual([]);

    const rows = queryAudit(app.db, { caller: "memory:agent", limit: 50 }).rows;
    const write = rows.find((r) => r.tool === "memory_write");
    const disable = rows.find((r) => r.tool === "memory_disable");
    expect(write?.decision).toBe("allowed");
    expect(write?.result).toEqual({ id, replayed: false });
    expect((write?.args as { text: string } | undefined)?.text).toBe("DOGE spread above 5 bps on weekends");
    expect(disable?.decision).toBe("allowed");
    expect((disable?.args as { reason: string } | undefined)?.reason).toBe("one weekend only");
  });

  it("memory_write replays the same key and payload and refuses another payload", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    const args = { kind: "note", text: "check funding before entries", idempotency_key: "n-1" };
    const a = await call(agent, "memory_write", args);
    const b = await call(agent, "memory_write", args);
    expect(b.sc).toEqual({ id: a.sc.id, replayed: true });
    const c = await call(agent, "memory_write", { ...args, text: "something else" });
    expect(c.sc.code).toBe("IDEMPOTENCY_CONFLICT");
  });

  it("include_disabled is refused for agents and allowed for operators", async () => {
    const app = await setup();
    const agent = await connectClient(app, "agent");
    const { sc } = await call(agent, "memory_write", { kind: "decision", text: "no SOL longs this week" });
    await call(agent, "memory_disable", { id: sc.id, reason: "superseded" });
    const refused = await call(agent, "memory_search", { query: "SOL", include_disabled: true });
    expect(refused.sc.code).toBe("FORBIDDEN_SCOPE");
    const op = await connectClient(app, "operator");
    const seen = await call(op, "memory_search", { query: "SOL", include_disabled: true });
    expect(seen.sc.items[0]).toMatchObject({ id: sc.id, disabled: true, disabled_reason: "superseded" });
  });

  it("readonly callers cannot write memory and do not see the memory tools", async () => {
    const app = await setup();
    const ro = await connectClient(app, "readonly");
    const names = (await ro.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["rag_search", "memory_search"]));
    expect(names).not.toContain("memory_write");
    expect(names).not.toContain("rag_reindex");
    expect((await call(ro, "memory_write", { kind: "note", text: "x" })).sc.code).toBe("FORBIDDEN_SCOPE");
  });

  it("memory_disable of an unknown id is NOT_FOUND", async () => {
    const app = await setup();
    const r = await call(await connectClient(app, "agent"), "memory_disable", { id: 12345, reason: "x" });
    expect(r.sc.code).toBe("NOT_FOUND");
  });
});
