import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type App, createApp } from "../../../src/app.js";
import { SimClock } from "../../../src/clock.js";
import type { Config } from "../../../src/config.js";
import type { DecisionRecord } from "../../../src/engine/decision/types.js";
import { createLogger } from "../../../src/log.js";
import { queryAudit } from "../../../src/store/audit.js";
import { recentEvents } from "../../../src/store/cycles.js";
import { REPLAY_30D, tempHome, testConfig } from "../../helpers/app.js";
import { decideCycle, T0 } from "./helpers.js";
import { type LlmStub, type StubAction, startLlmStub, weightsAnswer } from "./llmStub.js";

/**
 * `cycle.decision = llm` against a local OpenAI-compatible stub: a valid answer becomes the cycle's
 * target and is clipped like an agent's; every kind of failure makes the baseline decide that cycle
 * with the reason recorded (decision row, target_fallback event, audit row).
 */

const KEY = "sk-test-llm-key-that-must-never-be-stored-7f3a9c";
const EPS = 1e-12;

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(
  behave: (n: number) => StubAction,
  patch: (c: Config) => void = () => {},
): Promise<{ app: App; stub: LlmStub; clock: SimClock }> {
  const stub = await startLlmStub((n) => behave(n));
  cleanups.push(() => stub.close());
  const h = tempHome();
  cleanups.push(h.cleanup);
  const secrets = join(h.home, "secrets.json");
  writeFileSync(secrets, JSON.stringify({ llm: { apiKey: KEY } }));
  const cfg = testConfig(h.home, {
    TW_MARKET_DATA: `replay:${REPLAY_30D}`,
    TW_CYCLE_DECISION: "llm",
    TW_LLM_URL: stub.url,
    TW_LLM_MODEL: "stub-model",
    TW_SECRETS_FILE: secrets,
  });
  cfg.cycle.decisionTimeoutMs = 300;
  // A full day of notional budget in the pace bucket: pacing never binds here, so the clips below are
  // the caps (at their aim, cap × 0.95) and the EWMA alone.
  cfg.cycle.budgetPaceMinutes = 1440;
  patch(cfg);
  const clock = new SimClock(T0);
  const app = await createApp(cfg, { clock, log: createLogger("silent") });
  cleanups.push(() => app.close());
  return { app, stub, clock };
}

function fallbackRows(app: App) {
  return queryAudit(app.db, { tool: "cycle.decision_fallback", limit: 50 }).rows;
}

describe("llm decision source", () => {
  it("a valid answer becomes the target and is clipped like an agent's: BTC 0.5 → cap aim 0.1425 → EWMA 0.07125", async () => {
    const { app, stub } = await setup(() => ({ content: weightsAnswer({ BTC: 0.5, ETH: -0.05 }) }));
    const d = await decideCycle(app, 0);
    expect(d).toMatchObject({
      source: "llm",
      used: "llm",
      asked: true,
      error: null,
      model: "stub-model-2025-01",
    });
    expect(d.target.targets).toEqual([
      { symbol: "BTC", weight: 0.5 },
      { symbol: "ETH", weight: -0.05 },
    ]);
    expect(d.target.model).toEqual({ name: "stub-model-2025-01", version: "llm/weights" });
    expect(d.raw).toBe(weightsAnswer({ BTC: 0.5, ETH: -0.05 }));
    expect(d.clipped.rejections).toContainEqual({
      symbol: "BTC",
      reason: "per_coin_cap",
      original_weight: 0.5,
      approved_weight: 0.1425,
    });
    // α = 0.5 towards a flat actual book: 0.1425 → 0.07125, −0.05 → −0.025; turnover 0.09625 < 0.10.
    expect(d.clipped.weights.BTC).toBeCloseTo(0.07125, 12);
    expect(d.clipped.weights.ETH).toBeCloseTo(-0.025, 12);
    // The cycle traded what the clip approved.
    const rec = app.db.prepare("SELECT target, approved FROM cycles").get() as {
      target: string;
      approved: string;
    };
    expect(JSON.parse(rec.target).used).toBe("llm");
    expect(JSON.parse(rec.approved).weights.BTC).toBeCloseTo(0.07125, 12);
    const btc = app.db.prepare("SELECT size FROM positions WHERE venue = 'paper' AND symbol = 'BTC'").get() as
      | { size: string }
      | undefined;
    expect(Number(btc?.size)).toBeGreaterThan(0);

    // What the endpoint was sent: the key as a bearer token, structured output with the exact
    // schema, and a prompt with features, actual weights, limits and the control mode.
    expect(stub.requests).toHaveLength(1);
    const r = stub.requests[0];
    expect(r.path).toBe("/v1/chat/completions");
    expect(r.authorization).toBe(`Bearer ${KEY}`);
    expect(r.body.model).toBe("stub-model");
    expect(r.body.response_format.type).toBe("json_schema");
    expect(r.body.response_format.json_schema?.strict).toBe(true);
    const schema = r.body.response_format.json_schema?.schema as Record<string, any>;
    expect(schema.required).toEqual(["targets", "cash_weight", "confidence", "rationale"]);
    expect(schema.properties.targets.items.properties.symbol.enum).toEqual(app.config.universe);
    expect(schema.properties.rationale.maxLength).toBe(800);
    expect(r.body.messages[0].role).toBe("system");
    const user = JSON.parse(r.body.messages[1].content);
    expect(user.features.map((f: { symbol: string }) => f.symbol)).toEqual(app.config.universe);
    expect(user.features[0]).toHaveProperty("vol_1h");
    expect(user.current_weights).toEqual({ BTC: 0, ETH: 0, SOL: 0, ADA: 0, DOGE: 0 });
    expect(user.limits).toMatchObject({ max_gross: 0.4, max_net: 0.2, turnover_cap: 0.1 });
    expect(user.control_mode).toBe("NORMAL");

    // The next prompt shows this decision and its clips.
    stub.behave = () => ({ content: weightsAnswer({ BTC: 0.1 }) });
    await decideCycle(app, 1);
    const next = JSON.parse(stub.requests[1].body.messages[1].content);
    expect(next.last_decisions[0]).toMatchObject({ used: "llm", asked: { BTC: 0.5, ETH: -0.05 } });
    expect(next.last_decisions[0].clips).toContainEqual({
      symbol: "BTC",
      reason: "per_coin_cap",
      from: 0.5,
      to: 0.1425,
    });
    expect(next.current_weights.BTC).toBeGreaterThan(0.065);
  });

  const failures: Array<[string, StubAction, RegExp, number]> = [
    ["garbage text", { content: "I think BTC goes up, buy some." }, /^unparsable: /, 1],
    [
      "a weight outside -1..1",
      { content: weightsAnswer({ BTC: 2 }) },
      /^out of schema: targets\.0\.weight/,
      1,
    ],
    ["an unknown coin", { content: weightsAnswer({ XRP: 0.05 }) }, /^out of schema: unknown symbols XRP$/, 1],
    [
      "a rationale over 800 chars",
      { content: weightsAnswer({ BTC: 0.05 }, { rationale: "x".repeat(801) }) },
      /^out of schema: rationale/,
      1,
    ],
    [
      "an extra field",
      { content: JSON.stringify({ ...JSON.parse(weightsAnswer({ BTC: 0.05 })), leverage: 10 }) },
      /^out of schema: \(root\): Unrecognized key/,
      1,
    ],
    ["a refusal", { refusal: "I can't help with trading decisions." }, /^refusal: I can't help/, 1],
    ["HTTP 500 twice", { status: 500 }, /^HTTP 500.*after 2 attempts/, 2],
    [
      "no answer within the timeout, twice",
      { delayMs: 1_500, after: { content: "{}" } },
      /^timeout: no answer within 300 ms.*after 2 attempts/,
      2,
    ],
  ];
  for (const [what, action, error, calls] of failures) {
    it(`${what} → the baseline decides that cycle, the reason is recorded, and the next cycle asks again`, async () => {
      const { app, stub } = await setup(() => action);
      const d = await decideCycle(app, 0);
      expect(d.used).toBe("baseline_fallback");
      expect(d.error).toMatch(error);
      expect(d.asked).toBe(true);
      expect(d.target.model.name).toBe("baseline_momentum_invvol");
      expect(stub.requests).toHaveLength(calls);
      if ("content" in action) expect(d.raw).toBe(action.content.slice(0, 4096));
      const ev = recentEvents(app.db, 5, "target_fallback")[0];
      expect(ev.detail).toEqual({ used: "baseline_fallback", reason: d.error });
      const audit = fallbackRows(app);
      expect(audit).toHaveLength(1);
      expect(audit[0].result).toMatchObject({ used: "baseline_fallback", error: d.error });
      // The baseline's target was clipped and traded like any other.
      expect(d.clipped.gross).toBeGreaterThan(0);

      stub.behave = () => ({ content: weightsAnswer({ ETH: 0.05 }) });
      const next = await decideCycle(app, 1);
      expect(next.used).toBe("llm");
      expect(stub.requests).toHaveLength(calls + 1);
    }, 30_000);
  }

  it("a timeout then a valid answer on the retry is used; latency counts both attempts", async () => {
    const { app, stub } = await setup((n) =>
      n === 0 ? { delayMs: 1_000, after: { content: "{}" } } : { content: weightsAnswer({ SOL: 0.05 }) },
    );
    const d = await decideCycle(app, 0);
    expect(d.used).toBe("llm");
    expect(stub.requests).toHaveLength(2);
    expect(d.latency_ms).toBeGreaterThanOrEqual(300);
    expect(d.clipped.weights.SOL).toBeCloseTo(0.025, 12);
  });

  it("an endpoint without json_schema support is asked again in plain JSON mode, and stays in it", async () => {
    const { app, stub } = await setup((n) =>
      n === 0
        ? { status: 400, body: '{"error":{"message":"response_format json_schema is not supported"}}' }
        : { content: weightsAnswer({ BTC: 0.05 }) },
    );
    expect((await decideCycle(app, 0)).used).toBe("llm");
    expect(await decideCycle(app, 1)).toMatchObject({ used: "llm" });
    expect(stub.requests.map((r) => r.body.response_format.type)).toEqual([
      "json_schema",
      "json_object",
      "json_object",
    ]);
  });

  it("a key echoed by the endpoint is scrubbed from the raw answer, the target, the error and the audit", async () => {
    const { app } = await setup((n) =>
      n === 0
        ? { content: weightsAnswer({ BTC: 0.05 }, { rationale: `my key is ${KEY}` }) }
        : { status: 401, body: `{"error":"bad key ${KEY}"}` },
    );
    const ok = await decideCycle(app, 0);
    expect(ok.used).toBe("llm");
    expect(ok.raw).toContain("my key is [redacted]");
    expect(ok.target.rationale).toBe("my key is [redacted]");
    const bad = await decideCycle(app, 1);
    expect(bad.error).toBe('HTTP 401: {"error":"bad key [redacted]"}');
    const everything = JSON.stringify([
      app.db.prepare("SELECT * FROM cycle_decisions").all(),
      app.db.prepare("SELECT * FROM audit_log").all(),
      app.db.prepare("SELECT * FROM engine_events").all(),
      app.db.prepare("SELECT * FROM cycles").all(),
    ]);
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(KEY.slice(3));
  });

  it("raw output is kept truncated to 4 KB of UTF-8 in the record and the audit, and to 1000 chars in the status", async () => {
    // 3-byte characters: a cut at 4096 bytes must not split one.
    const long = "€".repeat(3000);
    const { app } = await setup(() => ({ content: long }));
    const d = await decideCycle(app, 0);
    expect(d.used).toBe("baseline_fallback");
    expect(d.raw).toBe("€".repeat(1365));
    expect(Buffer.byteLength(d.raw ?? "")).toBe(4095);
    const audit = fallbackRows(app)[0].result as { raw: string };
    expect(audit.raw).toBe(d.raw);
    const status = await app.engine.status();
    const view = (status.last_decisions as Array<Record<string, unknown>>)[0];
    expect(view.raw).toBe("€".repeat(1000));
    expect(view.raw_truncated).toBe(true);
    expect(view).not.toHaveProperty("answer");
  });

  it("risk_multiplier: the answer's multiplier scales the baseline's weights (recomputed here from the features)", async () => {
    const { app, stub } = await setup(
      () => ({ content: JSON.stringify({ regime: "risk_off", multiplier: 0.25, rationale: "choppy" }) }),
      (c) => {
        c.cycle.decisionMode = "risk_multiplier";
      },
    );
    const d = await decideCycle(app, 0);
    expect(d).toMatchObject({
      used: "llm",
      mode: "risk_multiplier",
      answer: { regime: "risk_off", multiplier: 0.25 },
    });
    const features = (
      JSON.parse(
        (app.db.prepare("SELECT features FROM cycles").get() as { features: string }).features,
      ) as Array<{
        symbol: string;
        ret_1h: number;
        vol_1h: number;
      }>
    ).map((f) => ({ symbol: f.symbol, score: f.ret_1h / f.vol_1h }));
    const total = features.reduce((a, f) => a + Math.abs(f.score), 0);
    expect(total).toBeGreaterThan(0);
    for (const f of features) {
      const w = d.target.targets.find((x) => x.symbol === f.symbol)?.weight;
      expect(w).toBeCloseTo((0.3 * f.score * 0.25) / total, 12);
    }
    expect(d.target.rationale).toBe("risk_off x0.25: choppy");
    const schema = stub.requests[0].body.response_format.json_schema?.schema as Record<string, any>;
    expect(schema.required).toEqual(["regime", "multiplier", "rationale"]);
    const user = JSON.parse(stub.requests[0].body.messages[1].content);
    expect(Object.keys(user.baseline_weights)).toEqual(app.config.universe);

    stub.behave = () => ({
      content: JSON.stringify({ regime: "risk_on", multiplier: 1.5, rationale: "all in" }),
    });
    const bad = await decideCycle(app, 1);
    expect(bad.used).toBe("baseline_fallback");
    expect(bad.error).toMatch(/^out of schema: multiplier/);
  });

  it("decisionEveryCycles 3: the model is asked every third cycle and its answer holds in between", async () => {
    const { app, stub } = await setup(
      (n) => ({ content: weightsAnswer({ BTC: n === 0 ? 0.05 : 0.1 }) }),
      (c) => {
        c.cycle.decisionEveryCycles = 3;
      },
    );
    const ds: DecisionRecord[] = [];
    for (let i = 0; i < 5; i++) ds.push(await decideCycle(app, i));
    expect(stub.requests).toHaveLength(2);
    expect(ds.map((d) => [d.used, d.asked, d.held_from])).toEqual([
      ["llm", true, null],
      ["llm", false, ds[0].cycle_id],
      ["llm", false, ds[0].cycle_id],
      ["llm", true, null],
      ["llm", false, ds[3].cycle_id],
    ]);
    expect(ds[2].target.targets).toEqual([{ symbol: "BTC", weight: 0.05 }]);
    expect(ds[4].target.targets).toEqual([{ symbol: "BTC", weight: 0.1 }]);
    for (const d of ds) expect(Math.abs(d.clipped.weights.BTC)).toBeLessThanOrEqual(0.15 + EPS);
  });

  it("the agent's targets are not traded when the llm decides, and the tool says so", async () => {
    const { app } = await setup(() => ({ content: weightsAnswer({ ETH: 0.05 }) }));
    const { callTool } = await import("../../../src/tools/registry.js");
    const { callerFor } = await import("../../../src/policy/scopes.js");
    const r = await callTool(app, callerFor("memory:agent", "agent", "memory"), "portfolio_set_target", {
      targets: [{ symbol: "BTC", weight: 0.1 }],
      confidence: 1,
      rationale: "agent wants BTC",
      model: { name: "agent", version: "1" },
    });
    expect((r.structuredContent as { decision_source: string }).decision_source).toBe("llm");
    const d = await decideCycle(app, 0);
    expect(d.used).toBe("llm");
    expect(d.clipped.weights.BTC).toBe(0);
    const status = await app.engine.status();
    expect(status.decision).toMatchObject({
      source: "llm",
      mode: "weights",
      every_cycles: 1,
      model: "stub-model",
    });
    expect((status.last_decisions as DecisionRecord[])[0]).toMatchObject({
      cycle_id: d.cycle_id,
      used: "llm",
    });
  });
});
