import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  type CreateMessageRequest,
  CreateMessageRequestSchema,
  type CreateMessageResult,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { type App, createApp } from "../../../src/app.js";
import { SimClock } from "../../../src/clock.js";
import type { Config } from "../../../src/config.js";
import { createLogger } from "../../../src/log.js";
import { callerFor, type Profile } from "../../../src/policy/scopes.js";
import { createMcpServer } from "../../../src/server/mcp.js";
import { REPLAY_30D, tempHome, testConfig } from "../../helpers/app.js";
import { decideCycle, T0 } from "./helpers.js";
import { weightsAnswer } from "./llmStub.js";

/**
 * `cycle.decision = sampling` with SDK clients over the in-memory transport: the server asks the most
 * recent connected client that declared `sampling` (and may set targets) through
 * `sampling/createMessage`; its answer is validated and clipped like any target; no such client, a
 * refusal, a timeout or a bad answer → the baseline, with the reason recorded.
 */

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(patch: (c: Config) => void = () => {}): Promise<App> {
  const h = tempHome();
  cleanups.push(h.cleanup);
  const cfg = testConfig(h.home, { TW_MARKET_DATA: `replay:${REPLAY_30D}`, TW_CYCLE_DECISION: "sampling" });
  cfg.cycle.decisionTimeoutMs = 300;
  // A full day of notional budget in the pace bucket: pacing never binds, the clips are caps and EWMA.
  cfg.cycle.budgetPaceMinutes = 1440;
  patch(cfg);
  const app = await createApp(cfg, { clock: new SimClock(T0), log: createLogger("silent") });
  cleanups.push(() => app.close());
  return app;
}

interface Sampler {
  client: Client;
  seen: CreateMessageRequest["params"][];
  close(): Promise<void>;
}

/** Connects an SDK client as `name` (profile `profile`) that answers sampling requests with `answer`. */
async function sampler(
  app: App,
  name: string,
  answer: (req: CreateMessageRequest["params"]) => Promise<CreateMessageResult> | CreateMessageResult,
  opts: { profile?: Profile; capabilities?: Record<string, unknown> } = {},
): Promise<Sampler> {
  const server = createMcpServer(app, callerFor(name, opts.profile ?? "agent", "memory"));
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await server.connect(st);
  const client = new Client(
    { name, version: "1.0.0" },
    { capabilities: opts.capabilities ?? { sampling: {} } },
  );
  const seen: Sampler["seen"] = [];
  if (opts.capabilities === undefined || "sampling" in opts.capabilities) {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      seen.push(req.params);
      return answer(req.params);
    });
  }
  await client.connect(ct);
  const s = { client, seen, close: () => client.close() };
  cleanups.push(() => client.close());
  return s;
}

const text = (t: string, model = "claude-test-model"): CreateMessageResult => ({
  role: "assistant",
  model,
  content: { type: "text", text: t },
  stopReason: "endTurn",
});

describe("sampling decision source", () => {
  it("the connected client's model decides: its answer is the target, clipped, with model, client and request recorded", async () => {
    const app = await setup((c) => {
      c.cycle.sampling = {
        maxTokens: 2048,
        modelPreferences: { hints: [{ name: "claude" }], intelligencePriority: 0.9, speedPriority: 0.2 },
      };
    });
    const s = await sampler(app, "stdio:desk", () =>
      text(`\`\`\`json\n${weightsAnswer({ ETH: 0.4, DOGE: -0.02 })}\n\`\`\``),
    );
    const d = await decideCycle(app, 0);
    expect(d).toMatchObject({
      source: "sampling",
      used: "sampling",
      asked: true,
      model: "claude-test-model",
      client: "stdio:desk",
      error: null,
    });
    expect(d.target.targets).toEqual([
      { symbol: "ETH", weight: 0.4 },
      { symbol: "DOGE", weight: -0.02 },
    ]);
    expect(d.clipped.rejections).toContainEqual({
      symbol: "ETH",
      reason: "per_coin_cap",
      original_weight: 0.4,
      approved_weight: 0.1425,
    });
    // Cap at its aim (0.15 × 0.95), then α = 0.5 towards the flat actual book.
    expect(d.clipped.weights.ETH).toBeCloseTo(0.07125, 12);
    expect(d.clipped.weights.DOGE).toBeCloseTo(-0.01, 12);

    expect(s.seen).toHaveLength(1);
    const req = s.seen[0];
    expect(req.maxTokens).toBe(2048);
    expect(req.modelPreferences).toEqual({
      hints: [{ name: "claude" }],
      intelligencePriority: 0.9,
      speedPriority: 0.2,
    });
    expect(req.includeContext).toBe("none");
    expect(req.systemPrompt).toContain('"required":["targets","cash_weight","confidence","rationale"]');
    const content = req.messages[0].content as { type: string; text: string };
    const input = JSON.parse(content.text);
    expect(input.cycle_id).toBe(d.cycle_id);
    expect(input.features).toHaveLength(5);
    expect(input.control_mode).toBe("NORMAL");
    const status = await app.engine.status();
    expect(status.decision).toMatchObject({ source: "sampling", sampling_clients: 1 });
  });

  it("the most recently connected sampling client is asked; when it leaves, the previous one is", async () => {
    const app = await setup();
    const a = await sampler(app, "token:first", () => text(weightsAnswer({ BTC: 0.02 }), "model-a"));
    const b = await sampler(app, "token:second", () => text(weightsAnswer({ BTC: 0.04 }), "model-b"));
    expect(await decideCycle(app, 0)).toMatchObject({
      used: "sampling",
      client: "token:second",
      model: "model-b",
    });
    expect([a.seen.length, b.seen.length]).toEqual([0, 1]);
    await b.close();
    expect(await decideCycle(app, 1)).toMatchObject({
      used: "sampling",
      client: "token:first",
      model: "model-a",
    });
    expect([a.seen.length, b.seen.length]).toEqual([1, 1]);
    await a.close();
    const none = await decideCycle(app, 2);
    expect(none).toMatchObject({ used: "baseline_fallback", asked: false, client: null });
    expect(none.error).toMatch(/^no sampling client/);
  });

  it("a client without the sampling capability, or one that may not set targets, is never asked", async () => {
    const app = await setup();
    await sampler(app, "stdio:nosampling", () => text("{}"), { capabilities: {} });
    const ro = await sampler(app, "token:readonly", () => text(weightsAnswer({ BTC: 0.1 })), {
      profile: "readonly",
    });
    const d = await decideCycle(app, 0);
    expect(d.used).toBe("baseline_fallback");
    expect(d.error).toMatch(/^no sampling client/);
    expect(ro.seen).toHaveLength(0);
    expect(d.target.model.name).toBe("baseline_momentum_invvol");
  });

  it("a client that answers garbage, declines, never answers or answers an image → baseline, reason recorded", async () => {
    const app = await setup();
    let mode: "garbage" | "decline" | "hang" | "image" | "ok" = "garbage";
    await sampler(app, "stdio:flaky", async () => {
      if (mode === "garbage") return text("Sure! I'd go long BTC.");
      if (mode === "decline") throw new McpError(-1, "User rejected sampling request");
      if (mode === "hang") return new Promise<CreateMessageResult>(() => {});
      if (mode === "image")
        return {
          role: "assistant",
          model: "m",
          content: { type: "image", data: "AAAA", mimeType: "image/png" },
        };
      return text(weightsAnswer({ SOL: 0.05 }));
    });
    const garbage = await decideCycle(app, 0);
    expect(garbage).toMatchObject({ used: "baseline_fallback", raw: "Sure! I'd go long BTC." });
    expect(garbage.error).toMatch(/^unparsable: /);
    mode = "decline";
    const declined = await decideCycle(app, 1);
    expect(declined.used).toBe("baseline_fallback");
    expect(declined.error).toMatch(/^client error: .*User rejected sampling request/);
    mode = "hang";
    const hung = await decideCycle(app, 2);
    expect(hung.used).toBe("baseline_fallback");
    expect(hung.error).toBe("timeout: no answer within 300 ms");
    expect(hung.latency_ms).toBeGreaterThanOrEqual(290);
    mode = "image";
    const image = await decideCycle(app, 3);
    expect(image.error).toMatch(/^client error: .*image, not text/);
    mode = "ok";
    expect((await decideCycle(app, 4)).used).toBe("sampling");
  });
});
