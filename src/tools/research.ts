import { z } from "zod";
import { MAX_MARKERS, renderChartPng } from "../backtest/chart.js";
import { ExperimentSpec, SplitSpec } from "../backtest/experiment.js";
import { GateConfig } from "../backtest/gate.js";
import { RULE_VOCABULARY } from "../backtest/rules.js";
import { BacktestSpec } from "../backtest/run.js";
import { describeStrategies } from "../backtest/strategies/index.js";
import { TwError } from "../errors.js";
import { SYMBOL } from "../exchange/symbols.js";
import { INTERVALS } from "../exchange/types.js";
import type { BacktestRecord } from "../store/backtests.js";
import { defineTool, type ToolContext } from "./registry.js";

/**
 * research toolset (DESIGN.md §2, issue 6): strategies, backtests, experiments and charts over the
 * server's market data. Thin adapters over `app.research` (src/backtest/service.ts); conventions in
 * docs/backtesting.md.
 */

const time = z.union([z.number().int(), z.iso.datetime({ offset: true })]);
const toMs = (v: number | string | undefined): number | null =>
  v === undefined ? null : typeof v === "number" ? v : Date.parse(v);

const symbols = z.array(SYMBOL).min(1).max(10);

const common = {
  symbols,
  interval: z.enum(INTERVALS).default("1m"),
  from: time
    .optional()
    .describe("first bar open time, ms UTC or ISO-8601 (inclusive); default: start of data"),
  to: time
    .optional()
    .describe("last bar open time, ms UTC or ISO-8601 (inclusive); default: last closed bar"),
  fee_bps: z.number().min(0).max(100).default(4.5).describe("taker fee, bps of notional"),
  slippage_bps: z.number().min(0).max(100).default(1).describe("slippage against the taker at the open, bps"),
  initial_equity: z.number().positive().max(1e12).default(100_000).describe("quote currency"),
  leverage: z.number().positive().max(10).default(1).describe("multiplies every target weight"),
  funding: z.boolean().default(true).describe("apply funding when the source has it"),
};

const num = z.number();
const metrics = z.object({
  initial_equity: num,
  final_equity: num,
  total_return: num,
  cagr: num.nullable(),
  max_drawdown: num,
  sharpe: num.nullable(),
  sortino: num.nullable(),
  win_rate: num.nullable(),
  profit_factor: num.nullable(),
  avg_trade: num.nullable(),
  exposure: num,
  turnover: num,
  fees_paid: num,
  funding_paid: num,
  trades: num,
  bars: num,
  days: num,
});

const trade = z.object({
  seq: num,
  symbol: z.string(),
  side: z.enum(["long", "short"]),
  entry_time: num,
  entry_price: num,
  exit_time: num.nullable(),
  exit_price: num.nullable(),
  qty: num,
  pnl: num,
  fees: num,
  funding: num,
  return: num,
  bars: num,
  open: z.boolean(),
});

// Output shapes stay plain (no enums, bounds or descriptions): docs/backtesting.md documents them and
// tools/list is kept small for a model's context.
const warnings = z.array(z.string());
const fundingCoverage = z.record(z.string(), num);

const gateResult = z.object({
  name: z.string(),
  config: z.object({
    min_sharpe: num.nullable(),
    min_deflated_sharpe: num.nullable(),
    min_trades: num,
    beat_buy_and_hold: z.boolean(),
  }),
  passed: z.boolean(),
  decision: z.string(),
  failed: z.array(z.string()),
  criteria: z.array(
    z.object({
      criterion: z.string(),
      rule: z.string(),
      value: num.nullable(),
      op: z.string(),
      threshold: num,
      passed: z.boolean(),
      required: z.boolean(),
    }),
  ),
});

const nextExperiment = z.object({
  kind: z.string(),
  reason: z.string(),
  arguments: z.record(z.string(), z.unknown()),
});

const summary = z.object({
  id: z.string(),
  created_at: num,
  strategy: z.string(),
  symbols: z.array(z.string()),
  interval: z.string(),
  spec: z.record(z.string(), z.unknown()),
  metrics,
  first_bar: num,
  last_bar: num,
  bars: num,
  trade_count: num,
  elapsed_ms: num,
  warnings,
  funding_coverage: fundingCoverage.nullable(),
});

function summarise(r: BacktestRecord): z.infer<typeof summary> {
  const { samples: _s, caller: _c, ...rest } = r;
  return rest;
}

function encodeCursor(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

function decodeCursor<T>(c: string, check: (v: unknown) => v is T): T {
  try {
    const v = JSON.parse(Buffer.from(c, "base64url").toString("utf8"));
    if (check(v)) return v;
  } catch {
    // fall through to the error below
  }
  throw new TwError("INVALID_INPUT", "cursor is not valid.", {
    hint: "Pass next_cursor exactly as returned.",
  });
}

function requireBacktest(ctx: ToolContext, id: string): BacktestRecord {
  const r = ctx.app.research.store.getBacktest(id);
  if (!r)
    throw new TwError("NOT_FOUND", `No backtest ${id}.`, {
      hint: "Call backtest_list to see stored backtests.",
    });
  return r;
}

const progressOf = (ctx: ToolContext) => (done: number, total: number, message?: string) =>
  ctx.progress(done, total, message);

/** research toolset. */
export const researchTools = [
  defineTool({
    name: "strategy_list",
    toolset: "research",
    title: "List backtest strategies",
    description:
      "Strategies backtest_run and experiment_run accept, with the JSON schema of their params (defaults apply when omitted), and the vocabulary of the `rules` expression strategy.",
    scope: "research:run",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z.object({}).strict(),
    output: z.object({
      strategies: z.array(
        z.object({
          name: z.string(),
          description: z.string(),
          kind: z.enum(["single", "portfolio"]),
          params_schema: z.record(z.string(), z.unknown()),
        }),
      ),
      rules_vocabulary: z.object({
        series: z.array(z.string()),
        functions: z.array(z.string()),
        operators: z.array(z.string()),
      }),
    }),
    handler: async () => ({ strategies: describeStrategies(), rules_vocabulary: RULE_VOCABULARY }),
  }),

  defineTool({
    name: "backtest_run",
    toolset: "research",
    title: "Run a backtest",
    description:
      "Backtests a strategy on the server's market data: a signal at bar i's close fills at bar i+1's open ± slippage, with fees and funding; sizing equity × leverage × weight. Metrics are fractions (Sharpe/Sortino annualised from daily UTC returns). `warnings` says what makes the result weak evidence. Cancellable; stores a new run and evidence card per call.",
    scope: "research:run",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    input: z
      .object({
        strategy: z.string().min(1).max(64).describe("see strategy_list"),
        params: z.record(z.string(), z.unknown()).default({}).describe("strategy params (snake_case)"),
        ...common,
      })
      .strict(),
    output: z.object({
      id: z.string(),
      strategy: z.string(),
      params: z.record(z.string(), z.unknown()),
      symbols: z.array(z.string()),
      interval: z.string(),
      metrics,
      first_bar: num,
      last_bar: num,
      bars: num,
      trade_count: num,
      elapsed_ms: num,
      bars_per_second: num,
      warnings,
      funding_coverage: fundingCoverage,
      evidence_id: num.nullable(),
      spec: z.record(z.string(), z.unknown()),
    }),
    summarize: (r) => ({
      id: r.id,
      total_return: r.metrics.total_return,
      trades: r.metrics.trades,
      bars: r.bars,
      warnings: r.warnings.length,
    }),
    handler: async (a, ctx) => {
      const spec = BacktestSpec.parse({
        strategy: a.strategy,
        params: a.params,
        data: {
          source: ctx.app.market.id,
          symbols: a.symbols,
          interval: a.interval,
          from: toMs(a.from),
          to: toMs(a.to),
          funding: a.funding,
        },
        fee_bps: a.fee_bps,
        slippage_bps: a.slippage_bps,
        initial_equity: a.initial_equity,
        leverage: a.leverage,
      });
      const { record, evidence_id, bars_per_second } = await ctx.app.research.backtest(spec, {
        caller: ctx.caller.id,
        signal: ctx.signal,
        progress: progressOf(ctx),
      });
      return {
        id: record.id,
        strategy: record.strategy,
        params: (record.spec as { params: Record<string, unknown> }).params,
        symbols: record.symbols,
        interval: record.interval,
        metrics: record.metrics,
        first_bar: record.first_bar,
        last_bar: record.last_bar,
        bars: record.bars,
        trade_count: record.trade_count,
        elapsed_ms: record.elapsed_ms,
        bars_per_second,
        warnings: record.warnings,
        funding_coverage: record.funding_coverage ?? {},
        evidence_id,
        spec: record.spec,
      };
    },
  }),

  defineTool({
    name: "backtest_get",
    toolset: "research",
    title: "Get a backtest",
    description:
      "A stored backtest: spec, metrics, warnings, funding coverage and round-trip trades (paged with next_cursor; open trades marked to the last close). Equity/drawdown samples (≤ 1000 points) only with include_samples: true.",
    scope: "research:run",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        id: z.string().min(1).max(100),
        trades_limit: z.number().int().min(0).max(500).default(50),
        cursor: z.string().max(200).optional(),
        include_samples: z.boolean().default(false).describe("add the equity/drawdown/close samples"),
      })
      .strict(),
    output: z.object({
      backtest: summary,
      samples: z
        .object({
          time: z.array(num),
          equity: z.array(num),
          drawdown: z.array(num),
          close: z.array(z.array(num)),
        })
        .nullable(),
      trades: z.array(trade),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    summarize: (r) => ({ id: r.backtest.id, trades: r.trades.length, truncated: r.truncated }),
    handler: async (a, ctx) => {
      const r = requireBacktest(ctx, a.id);
      const after = a.cursor ? decodeCursor(a.cursor, (v): v is number => Number.isInteger(v)) : -1;
      const page = ctx.app.research.store.trades(a.id, after, a.trades_limit + 1);
      const truncated = page.length > a.trades_limit;
      const trades = page.slice(0, a.trades_limit);
      return {
        backtest: summarise(r),
        samples: a.include_samples ? r.samples : null,
        trades,
        truncated,
        next_cursor: truncated && trades.length > 0 ? encodeCursor(trades[trades.length - 1].seq) : null,
      };
    },
  }),

  defineTool({
    name: "backtest_list",
    toolset: "research",
    title: "List backtests",
    description:
      "Stored backtests, newest first, optionally for one strategy, with headline metrics; paged with next_cursor.",
    scope: "research:run",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        strategy: z.string().max(64).optional(),
        limit: z.number().int().min(1).max(100).default(20),
        cursor: z.string().max(300).optional(),
      })
      .strict(),
    output: z.object({
      backtests: z.array(
        z.object({
          id: z.string(),
          created_at: num,
          strategy: z.string(),
          symbols: z.array(z.string()),
          interval: z.string(),
          total_return: num,
          sharpe: num.nullable(),
          max_drawdown: num,
          trades: num,
          bars: num,
        }),
      ),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    summarize: (r) => ({ count: r.backtests.length, truncated: r.truncated }),
    handler: async (a, ctx) => {
      const isCursor = (v: unknown): v is [number, string] =>
        Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "string";
      const before = a.cursor ? decodeCursor(a.cursor, isCursor) : undefined;
      const rows = ctx.app.research.store.listBacktests({ strategy: a.strategy, limit: a.limit + 1, before });
      const truncated = rows.length > a.limit;
      const page = rows.slice(0, a.limit);
      const last = page[page.length - 1];
      return {
        backtests: page.map((r) => ({
          id: r.id,
          created_at: r.created_at,
          strategy: r.strategy,
          symbols: r.symbols,
          interval: r.interval,
          total_return: r.metrics.total_return,
          sharpe: r.metrics.sharpe,
          max_drawdown: r.metrics.max_drawdown,
          trades: r.metrics.trades,
          bars: r.bars,
        })),
        truncated,
        next_cursor: truncated && last ? encodeCursor([last.created_at, last.id]) : null,
      };
    },
  }),

  defineTool({
    name: "experiment_run",
    toolset: "research",
    title: "Run a parameter experiment",
    description:
      "Grid search gated out of sample: every combination of `grid` over base_params is backtested in and out of sample (train_test or walk_forward) and ranked by out-of-sample Sharpe. The default gate needs out-of-sample return > 0, Sharpe > 0, deflated-Sharpe probability > 0.95, ≥ 30 round trips and beating buy-and-hold (gate.criteria). Also warnings, next_experiment. Cancellable; stores the experiment and a card.",
    scope: "research:run",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    input: z
      .object({
        strategy: z.string().min(1).max(64),
        base_params: z.record(z.string(), z.unknown()).default({}),
        grid: z.record(
          z.string(),
          z
            .array(z.union([z.number(), z.boolean(), z.string().max(1000)]))
            .min(1)
            .max(1000),
        ),
        split: SplitSpec,
        gate: GateConfig.partial().strict().optional().describe("thresholds over the default gate's"),
        max_variants: z.number().int().min(1).max(1000).default(1000),
        ...common,
      })
      .strict(),
    output: z.object({
      id: z.string(),
      passed: z.boolean(),
      decision: z.string(),
      gate: gateResult,
      warnings,
      funding_coverage: fundingCoverage,
      next_experiment: nextExperiment,
      outcome: z.record(z.string(), z.unknown()),
      evidence_id: num.nullable(),
    }),
    summarize: (r) => ({ id: r.id, passed: r.passed, decision: r.decision, warnings: r.warnings.length }),
    handler: async (a, ctx) => {
      const spec = ExperimentSpec.parse({
        strategy: a.strategy,
        base_params: a.base_params,
        grid: a.grid,
        data: {
          source: ctx.app.market.id,
          symbols: a.symbols,
          interval: a.interval,
          from: toMs(a.from),
          to: toMs(a.to),
          funding: a.funding,
        },
        split: a.split,
        gate: ctx.app.research.resolveGate(a.gate),
        max_variants: a.max_variants,
        fee_bps: a.fee_bps,
        slippage_bps: a.slippage_bps,
        initial_equity: a.initial_equity,
        leverage: a.leverage,
      });
      const { record, outcome, evidence_id, next_experiment } = await ctx.app.research.experiment(spec, {
        caller: ctx.caller.id,
        signal: ctx.signal,
        progress: progressOf(ctx),
      });
      const { gate, warnings, funding_coverage, ...rest } = outcome;
      return {
        id: record.id,
        passed: record.passed,
        decision: record.decision,
        gate,
        warnings,
        funding_coverage,
        next_experiment: { ...next_experiment, arguments: { ...next_experiment.arguments } },
        outcome: { ...rest, ranking: rest.ranking.slice(0, 10) } as unknown as Record<string, unknown>,
        evidence_id,
      };
    },
  }),

  defineTool({
    name: "backtest_chart",
    toolset: "research",
    title: "Chart a backtest",
    description:
      `PNG chart of a stored backtest as image content: price of the first symbol with entries (▲ long, ▼ short) and exits ` +
      `(●) — the latest ${MAX_MARKERS} trades — then equity and drawdown panels, on the stored ≤ 1000-point samples. ` +
      "width 600..2000 px (default 1000). The PNG is sent once, as image content; structuredContent has its size. Read-only.",
    scope: "research:run",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({ id: z.string().min(1).max(100), width: z.number().int().min(600).max(2000).default(1000) })
      .strict(),
    output: z.object({
      id: z.string(),
      mime_type: z.literal("image/png"),
      width: num,
      height: num,
      bytes: num,
    }),
    summarize: (r) => ({ id: r.id, width: r.width, height: r.height, bytes: r.bytes }),
    handler: async (a, ctx) => {
      const r = requireBacktest(ctx, a.id);
      const m = r.metrics;
      const title = `${r.strategy} ${r.symbols.join(",")} ${r.interval} · return ${(m.total_return * 100).toFixed(2)}% · max DD ${(m.max_drawdown * 100).toFixed(2)}% · ${m.trades} trades`;
      const { png, width, height } = await renderChartPng({
        title,
        symbol: r.symbols[0],
        samples: r.samples,
        trades: ctx.app.research.store.allTrades(a.id),
        width: a.width,
      });
      ctx.attach({ type: "image", data: png.toString("base64"), mimeType: "image/png" });
      return { id: r.id, mime_type: "image/png" as const, width, height, bytes: png.length };
    },
  }),
];
