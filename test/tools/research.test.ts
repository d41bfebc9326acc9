import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { SimClock } from "../../src/clock.js";
import { readCsv } from "../backtest/helpers.js";
import { call, connectClient, REPLAY_30D, testApp } from "../helpers/app.js";

let app: App;
let client: Client;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  // The replay clock stands after the data's end, so every bar has closed.
  const t = await testApp({ TW_MARKET_DATA: `replay:${REPLAY_30D}` }, new SimClock(Date.UTC(2025, 5, 25)));
  app = t.app;
  cleanup = t.cleanup;
  client = await connectClient(app, "agent");
});

afterAll(async () => {
  await cleanup?.();
});

describe("research tools over MCP on the real 30-day replay", () => {
  it("strategy_list names every strategy with a params JSON schema", async () => {
    const r = await call(client, "strategy_list");
    expect(r.isError).toBe(false);
    const names = r.sc.strategies.map((s: { name: string }) => s.name);
    expect(names).toEqual([
      "buy_and_hold",
      "ema_cross",
      "rsi_reversion",
      "donchian_breakout",
      "momentum_vol_target",
      "rules",
    ]);
    const ema = r.sc.strategies.find((s: { name: string }) => s.name === "ema_cross");
    expect(ema.params_schema.properties.fast.default).toBe(12);
    expect(ema.params_schema.additionalProperties).toBe(false);
  });

  it("backtest_run reports progress, stores the run, and backtest_get pages its trades with a cursor", async () => {
    const progress: Array<{ progress: number; total?: number }> = [];
    const res = (await client.callTool(
      {
        name: "backtest_run",
        arguments: { strategy: "ema_cross", params: { fast: 20, slow: 100 }, symbols: ["BTC"] },
      },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p) },
    )) as CallToolResult;
    expect(res.isError).toBeFalsy();
    const sc = res.structuredContent as Record<string, any>;
    const btc = readCsv(join(REPLAY_30D, "BTCUSDT_1m.csv.gz"));
    expect(sc.bars).toBe(btc.time.length);
    expect(sc.first_bar).toBe(btc.time[0]);
    expect(sc.last_bar).toBe(btc.time[btc.time.length - 1]);
    expect(sc.spec.data.source).toBe(`replay:${REPLAY_30D}`);
    expect(sc.spec.params).toEqual({ fast: 20, slow: 100, allow_short: false });
    expect(sc.metrics.trades).toBeGreaterThan(20);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toMatchObject({
      progress: btc.time.length,
      total: btc.time.length,
    });
    expect(sc.evidence_id).toEqual(expect.any(Number));
    // No funding files in this folder: the result says so, naming the symbol and what to configure.
    expect(sc.funding_coverage).toEqual({ BTC: 0 });
    expect(sc.warnings).toEqual([
      expect.stringMatching(
        /^BTC: funding data covers 0% .*TW_MARKET_DATA=replay:<candles dir>:<funding dir>/,
      ),
    ]);

    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await call(client, "backtest_get", {
        id: sc.id,
        trades_limit: 10,
        include_samples: pages === 0,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.isError).toBe(false);
      if (pages === 0) {
        expect(page.sc.samples.equity.length).toBeLessThanOrEqual(1000);
        expect(page.sc.samples.time[page.sc.samples.time.length - 1]).toBe(sc.last_bar);
        expect(page.sc.backtest.warnings).toEqual(sc.warnings);
        expect(page.sc.backtest.funding_coverage).toEqual({ BTC: 0 });
      } else expect(page.sc.samples).toBeNull();
      seen.push(...page.sc.trades.map((t: { seq: number }) => t.seq));
      cursor = page.sc.next_cursor ?? undefined;
      expect(page.sc.truncated).toBe(cursor !== undefined);
      pages++;
    } while (cursor);
    expect(seen).toEqual([...Array(sc.trade_count).keys()]);
    expect(pages).toBe(Math.max(1, Math.ceil(sc.trade_count / 10)));

    const list = await call(client, "backtest_list", { strategy: "ema_cross" });
    expect(list.sc.backtests.map((b: { id: string }) => b.id)).toContain(sc.id);

    const bad = await call(client, "backtest_get", { id: sc.id, cursor: "garbage" });
    expect(bad.sc.code).toBe("INVALID_INPUT");
  });

  it("backtest_get returns equity samples only when asked", async () => {
    const run = await call(client, "backtest_run", {
      strategy: "buy_and_hold",
      symbols: ["ETH"],
      interval: "1h",
    });
    const plain = await call(client, "backtest_get", { id: run.sc.id });
    expect(plain.sc.samples).toBeNull();
    const asked = await call(client, "backtest_get", { id: run.sc.id, include_samples: true });
    expect(asked.sc.samples.time.length).toBe(run.sc.bars);
  });

  it("backtest_chart returns the PNG once, as image content, and not again in structuredContent", async () => {
    const run = await call(client, "backtest_run", {
      strategy: "donchian_breakout",
      params: { entry: 120, exit: 60 },
      symbols: ["ETH"],
      from: "2025-06-01T00:00:00Z",
      to: "2025-06-07T00:00:00Z",
    });
    expect(run.isError).toBe(false);
    const res = (await client.callTool({
      name: "backtest_chart",
      arguments: { id: run.sc.id, width: 800 },
    })) as CallToolResult;
    expect(res.isError).toBeFalsy();
    const img = res.content.find((c) => c.type === "image");
    expect(img).toBeDefined();
    const png = Buffer.from((img as { data: string }).data, "base64");
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // IHDR width/height (big-endian) agree with the reported size.
    expect(png.readUInt32BE(16)).toBe((res.structuredContent as any).width);
    expect((res.structuredContent as any).width).toBeGreaterThanOrEqual(800);
    expect(png.length).toBeGreaterThan(10_000);
    expect((res.structuredContent as any).bytes).toBe(png.length);
    const data = (img as { data: string }).data;
    expect(res.content.filter((c) => c.type === "image")).toHaveLength(1);
    expect(JSON.stringify(res.structuredContent)).not.toContain(data.slice(0, 64));
    expect(JSON.stringify(res).split(data.slice(0, 64)).length - 1).toBe(1);
  });

  it("experiment_run reports in/out-of-sample metrics and the gate, and writes a strategy_evidence memory", async () => {
    const r = await call(client, "experiment_run", {
      strategy: "ema_cross",
      grid: { fast: [10, 30], slow: [60, 240] },
      symbols: ["SOL"],
      split: { kind: "train_test", train_fraction: 0.6 },
      gate: { min_trades: 3 },
    });
    expect(r.isError).toBe(false);
    expect(r.sc.outcome.variants_tried).toBe(4);
    expect(r.sc.outcome.winner.in_sample.bars + r.sc.outcome.winner.out_of_sample.bars).toBe(
      r.sc.outcome.buy_and_hold.in_sample.bars + r.sc.outcome.buy_and_hold.out_of_sample.bars,
    );
    expect(r.sc.passed).toBe(r.sc.decision === "passed");
    expect(r.sc.gate.name).toBe("custom");
    expect(r.sc.gate.config).toEqual({
      min_sharpe: 0,
      min_deflated_sharpe: 0.95,
      min_trades: 3,
      beat_buy_and_hold: true,
    });
    expect(r.sc.gate.criteria.map((c: { criterion: string }) => c.criterion)).toEqual([
      "positive_return",
      "min_sharpe",
      "deflated_sharpe",
      "min_trades",
      "beats_buy_and_hold",
    ]);
    const row = app.db
      .prepare("SELECT kind, source FROM memory_items WHERE id = ?")
      .get(r.sc.evidence_id) as { kind: string; source: string };
    expect(row).toEqual({ kind: "strategy_evidence", source: `experiment:${r.sc.id}` });
  });

  it("experiment_run honours cancellation and stores nothing", async () => {
    const before = (app.db.prepare("SELECT count(*) AS n FROM experiments").get() as { n: number }).n;
    const ac = new AbortController();
    const p = client.callTool(
      {
        name: "experiment_run",
        arguments: {
          strategy: "rsi_reversion",
          grid: { period: [7, 14, 21, 28], lower: [20, 25, 30], upper: [70, 75, 80], exit: [45, 50, 55] },
          symbols: ["BTC", "ETH", "SOL", "ADA", "DOGE"],
        },
      },
      CallToolResultSchema,
      { signal: ac.signal, onprogress: () => ac.abort() },
    );
    await expect(p).rejects.toThrow();
    // Give the server a moment to observe the cancellation and unwind.
    await new Promise((r) => setTimeout(r, 500));
    const after = (app.db.prepare("SELECT count(*) AS n FROM experiments").get() as { n: number }).n;
    expect(after).toBe(before);
    const audit = app.db
      .prepare("SELECT code FROM audit_log WHERE tool = 'experiment_run' ORDER BY id DESC LIMIT 1")
      .get() as { code: string };
    expect(audit.code).toBe("CANCELLED");
  });

  it("backtest_run refuses unknown strategies and bad params with actionable errors", async () => {
    const a = await call(client, "backtest_run", { strategy: "nope", symbols: ["BTC"] });
    expect(a.sc.code).toBe("NOT_FOUND");
    expect(a.sc.hint).toContain("ema_cross");
    const b = await call(client, "backtest_run", {
      strategy: "rules",
      params: { entry: "constructor", exit: "close > 1" },
      symbols: ["BTC"],
    });
    expect(b.sc.code).toBe("INVALID_INPUT");
    expect(b.sc.message).toContain('unknown name "constructor"');
  });
});
