import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type CallToolResult, CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { tempHome } from "../helpers/app.js";

/**
 * `cycle.decision = sampling` through real `tradewarden serve` processes over stdio sharing one
 * home. The minute cycle runs only in the holder of the background lease, so only a client connected
 * to that process is asked: a sampling client of the other process is never asked (that cycle uses
 * the baseline, recorded as such) until its process takes the lease over.
 */

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");

interface Session {
  client: Client;
  sampled: Array<{ systemPrompt?: string; maxTokens: number }>;
  stderr: () => string;
}

const ANSWER = {
  targets: [
    { symbol: "BTC", weight: 0.3 },
    { symbol: "SOL", weight: -0.04 },
  ],
  cash_weight: 0.66,
  confidence: 0.8,
  rationale: "desk model: BTC strength, SOL weak",
};

async function connect(home: string, name: string, sampling: boolean): Promise<Session> {
  const transport = new StdioClientTransport({
    command: "node",
    args: [CLI, "serve"],
    cwd: home,
    stderr: "pipe",
    env: {
      ...(process.env as Record<string, string>),
      TW_HOME: home,
      TW_LOG_LEVEL: "info",
      TW_MARKET_DATA: "replay",
      TW_CYCLE_ENABLED: "1",
      TW_CYCLE_SECONDS: "1",
      // A tick is at least one 1m bar of replay time: 60× makes that one wall second.
      TW_REPLAY_SPEED: "60",
      TW_CYCLE_DECISION: "sampling",
      TW_CALLER_NAME: name,
    },
  });
  let err = "";
  transport.stderr?.on("data", (d) => {
    err += d;
  });
  const client = new Client({ name, version: "1.0.0" }, { capabilities: sampling ? { sampling: {} } : {} });
  const sampled: Session["sampled"] = [];
  if (sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      sampled.push({ systemPrompt: req.params.systemPrompt, maxTokens: req.params.maxTokens });
      return {
        role: "assistant",
        model: `${name}-model`,
        content: { type: "text", text: JSON.stringify(ANSWER) },
        stopReason: "endTurn",
      };
    });
  }
  await client.connect(transport);
  return { client, sampled, stderr: () => err };
}

async function tool(s: Session, name: string): Promise<Record<string, any>> {
  const r = (await s.client.callTool({ name, arguments: {} })) as CallToolResult;
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Record<string, any>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe("sampling through serve processes", () => {
  const home = tempHome();
  const sessions: Session[] = [];
  afterAll(async () => {
    for (const s of sessions) await s.client.close().catch(() => {});
    home.cleanup();
  });

  it("only a client of the lease holder is asked: the other process's sampling client waits until its process runs the cycle, then decides it", async () => {
    const holder = await connect(home.home, "ide", false);
    sessions.push(holder);
    await until("the first process to hold the lease", 60_000, async () => {
      const s = await tool(holder, "system_get_status");
      return s.lease?.held === true ? true : undefined;
    });
    const desk = await connect(home.home, "desk", true);
    sessions.push(desk);

    // Cycles run in the holder, whose only client cannot sample: baseline, recorded as such.
    const early = await until("three decided cycles", 90_000, async () => {
      const s = await tool(desk, "portfolio_get_status");
      return s.last_decisions.length >= 3 ? (s.last_decisions as Array<Record<string, any>>) : undefined;
    });
    for (const d of early) {
      expect(d.source).toBe("sampling");
      expect(d.used).toBe("baseline_fallback");
      expect(d.error).toMatch(/^no sampling client/);
    }
    expect(desk.sampled).toHaveLength(0);

    // The holder stops (its client closes stdin); the desk's process takes the lease and asks its client.
    await holder.client.close();
    sessions.shift();
    const decided = await until("a cycle decided by the desk's model", 90_000, async () => {
      const s = await tool(desk, "portfolio_get_status");
      return (s.last_decisions as Array<Record<string, any>>).find((d) => d.used === "sampling");
    });
    expect(decided).toMatchObject({
      source: "sampling",
      client: "stdio:desk",
      model: "desk-model",
      asked: true,
    });
    expect(decided.target.targets).toEqual(ANSWER.targets);
    expect(decided.clipped.rejections).toContainEqual({
      symbol: "BTC",
      reason: "per_coin_cap",
      original_weight: 0.3,
      approved_weight: 0.1425,
    });
    for (const [sym, w] of Object.entries(decided.clipped.weights as Record<string, number>))
      expect(Math.abs(w), sym).toBeLessThanOrEqual((sym === "BTC" || sym === "ETH" ? 0.15 : 0.1) + 1e-9);
    expect(desk.sampled.length).toBeGreaterThanOrEqual(1);
    expect(desk.sampled[0].maxTokens).toBe(1024);
    expect(desk.sampled[0].systemPrompt).toContain("JSON schema");
    expect(desk.stderr()).not.toContain('"level":50');
  }, 300_000);
});
