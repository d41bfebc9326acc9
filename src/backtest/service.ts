import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { type CandleColumns, ReplaySource } from "../exchange/replay/index.js";
import { type FundingPoint, INTERVAL_MS } from "../exchange/types.js";
import { type BacktestRecord, type ExperimentRecord, ResearchStore } from "../store/backtests.js";
import { buildFrame } from "./data.js";
import { cardMetrics, recordEvidence } from "./evidence.js";
import { type ExperimentOutcome, type ExperimentSpec, runExperiment } from "./experiment.js";
import { type BacktestSpec, type DataSpec, runBacktest } from "./run.js";
import { resolveStrategy } from "./strategies/index.js";
import type { Frame } from "./types.js";
import type { z } from "zod";

/**
 * Research service (`app.research`): loads frames from the app's market-data source, runs
 * backtests and experiments, stores them with their full spec, and writes evidence cards. Tools and
 * the CLI are thin adapters over it.
 *
 * Data: the configured source only (tools never name files). Replay folders are read in full through
 * the replay source's clock-free column loader, but bars are cut at the market clock — only bars
 * closed by `now` are used, so a backtest inside a replay never sees its future. Live sources are
 * read through `app.market.candles`/`funding` (the candle cache applies).
 */

/** Most bar × symbol cells a tool-started run may simulate. */
export const MAX_CELLS = 5_000_000;

/** Who started a run and how to report. */
export interface RunContext {
  caller: string;
  signal?: AbortSignal;
  progress?: (done: number, total: number, message?: string) => void | Promise<void>;
}

/** A stored backtest plus the id of its evidence card. */
export interface StoredBacktest {
  record: BacktestRecord;
  evidence_id: number | null;
  bars_per_second: number;
}

/** A stored experiment plus its evidence card id. */
export interface StoredExperiment {
  record: ExperimentRecord;
  outcome: ExperimentOutcome;
  evidence_id: number | null;
}

export class ResearchService {
  readonly store: ResearchStore;

  constructor(private readonly app: App) {
    this.store = new ResearchStore(app.db);
  }

  /**
   * Loads the frame a data spec names from the app's source, cut at the market clock.
   * @throws TwError INVALID_INPUT (source is not the configured one, empty range, too many bars),
   *   NOT_FOUND (symbol), EXCHANGE_UNAVAILABLE from live sources.
   */
  async loadFrame(data: z.infer<typeof DataSpec>): Promise<Frame> {
    const market = this.app.market;
    if (data.source !== market.id) {
      throw new TwError("INVALID_INPUT", `This server backtests on ${market.id} only.`, {
        hint: "Omit the source (or repeat the stored spec on a server configured with that source).",
      });
    }
    const iv = INTERVAL_MS[data.interval];
    const closedBy = this.app.marketClock.now() - iv;
    const to = data.to === null ? closedBy : Math.min(data.to, closedBy);
    const from = data.from ?? undefined;
    const req = { symbols: data.symbols, interval: data.interval, from, to, funding: data.funding };
    const src = (market as unknown as { source?: unknown }).source;
    const cols: CandleColumns[] = [];
    for (const sym of data.symbols) {
      if (src instanceof ReplaySource) cols.push(src.columns(sym, data.interval));
      else cols.push(toColumns(await market.candles(sym, data.interval, { start: from, end: to })));
    }
    let funding: FundingPoint[][] | null = null;
    if (data.funding) {
      funding = [];
      for (const sym of data.symbols) funding.push(await market.funding(sym, { start: from, end: to + iv }));
      if (funding.every((f) => f.length === 0)) funding = null;
    }
    const frame = buildFrame(req, cols, funding);
    if (frame.time.length * frame.symbols.length > MAX_CELLS) {
      throw new TwError(
        "INVALID_INPUT",
        `${frame.time.length} bars × ${frame.symbols.length} symbols exceeds ${MAX_CELLS}.`,
        {
          hint: "Narrow from/to, use a coarser interval, or run it with the CLI.",
        },
      );
    }
    return frame;
  }

  /** Runs, stores and records evidence for a backtest. Errors as {@link runBacktest} and {@link loadFrame}. */
  async backtest(input: BacktestSpec, ctx: RunContext, frame?: Frame): Promise<StoredBacktest> {
    // Store params with defaults filled in, so a later default change cannot alter a repeat.
    const spec = { ...input, params: resolveStrategy(input.strategy, input.params).params };
    const f = frame ?? (await this.loadFrame(spec.data));
    const out = await runBacktest(f, spec, {
      signal: ctx.signal,
      progress: (done, total) => ctx.progress?.(done, total, `${done}/${total} bars`),
    });
    const base = {
      created_at: this.app.clock.now(),
      caller: ctx.caller,
      strategy: spec.strategy,
      symbols: spec.data.symbols,
      interval: spec.data.interval,
      spec: spec as unknown as Record<string, unknown>,
      metrics: out.metrics,
      samples: out.samples,
      first_bar: out.first_bar,
      last_bar: out.last_bar,
      bars: out.metrics.bars,
      elapsed_ms: out.elapsed_ms,
    };
    const id = this.store.insertBacktest(base, out.trades);
    const evidence_id = recordEvidence(this.app, {
      strategy: spec.strategy,
      params: spec.params,
      symbols: spec.data.symbols,
      interval: spec.data.interval,
      data_range: { start: out.first_bar, end: out.last_bar },
      metrics: cardMetrics(out.metrics as unknown as Record<string, unknown>),
      gate: null,
      run_id: id,
      run_kind: "backtest",
      author: ctx.caller,
    });
    return {
      record: { ...base, id, trade_count: out.trades.length },
      evidence_id,
      bars_per_second: out.bars_per_second,
    };
  }

  /** Runs, stores and records evidence for an experiment. Errors as {@link runExperiment}. */
  async experiment(spec: ExperimentSpec, ctx: RunContext, frame?: Frame): Promise<StoredExperiment> {
    const f = frame ?? (await this.loadFrame(spec.data));
    const outcome = await runExperiment(f, spec, {
      signal: ctx.signal,
      progress: (done, total) => ctx.progress?.(done, total, `${done}/${total} variants`),
    });
    const rec = {
      created_at: this.app.clock.now(),
      caller: ctx.caller,
      strategy: spec.strategy,
      spec: spec as unknown as Record<string, unknown>,
      outcome: outcome as unknown as Record<string, unknown>,
      passed: outcome.gate.passed,
      decision: outcome.gate.decision,
    };
    const id = this.store.insertExperiment(rec);
    const w = outcome.winner;
    const evidence_id = recordEvidence(this.app, {
      strategy: spec.strategy,
      params: w?.params ?? spec.base_params,
      symbols: spec.data.symbols,
      interval: spec.data.interval,
      data_range: { start: f.time[0], end: f.time[f.time.length - 1] },
      metrics: {
        variants: outcome.variants_tried,
        ...prefixed("oos_", w ? cardMetrics(w.out_of_sample as unknown as Record<string, unknown>) : {}),
        ...(w?.deflated_sharpe != null ? { deflated_sharpe: w.deflated_sharpe } : {}),
      },
      gate: {
        passed: outcome.gate.passed,
        failed: outcome.gate.checks.filter((c) => !c.passed).map((c) => c.gate),
      },
      run_id: id,
      run_kind: "experiment",
      author: ctx.caller,
    });
    return { record: { ...rec, id }, outcome, evidence_id };
  }
}

function prefixed(p: string, m: Record<string, number>): Record<string, number> {
  const keep = ["total_return", "sharpe", "max_drawdown", "trades"];
  return Object.fromEntries(
    Object.entries(m)
      .filter(([k]) => keep.includes(k))
      .map(([k, v]) => [p + k, v]),
  );
}

function toColumns(
  c: Array<{ time: number; open: number; high: number; low: number; close: number; volume: number }>,
): CandleColumns {
  return {
    time: Float64Array.from(c, (x) => x.time),
    open: Float64Array.from(c, (x) => x.open),
    high: Float64Array.from(c, (x) => x.high),
    low: Float64Array.from(c, (x) => x.low),
    close: Float64Array.from(c, (x) => x.close),
    volume: Float64Array.from(c, (x) => x.volume),
    length: c.length,
  };
}
