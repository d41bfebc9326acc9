import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { TwError } from "../errors.js";
import { type CandleColumns, ReplaySource } from "../exchange/replay/index.js";
import type { MarketService } from "../exchange/service.js";
import { type FundingPoint, INTERVAL_MS } from "../exchange/types.js";
import type { EvidenceCard } from "../knowledge/evidence.js";
import { type BacktestRecord, type ExperimentRecord, ResearchStore } from "../store/backtests.js";
import type { Db } from "../store/db.js";
import { buildFrame } from "./data.js";
import { cardMetrics } from "./evidence.js";
import { type ExperimentOutcome, type ExperimentSpec, runExperiment } from "./experiment.js";
import { type GateConfig, GateSpec } from "./gate.js";
import { type NextExperiment, nextExperiment } from "./next.js";
import { type BacktestSpec, type DataSpec, runBacktest } from "./run.js";
import { resolveStrategy } from "./strategies/index.js";
import type { Frame } from "./types.js";
import { backtestDiagnostics, clockWarning, type FundingRemedy, type WarningLimits } from "./warnings.js";
import type { z } from "zod";

/**
 * Research service (`app.research`): loads frames from the market-data source, runs backtests and
 * experiments, judges experiments with the gate, attaches warnings and funding coverage, stores
 * every run with its full spec, and writes evidence cards. Tools and the CLI are thin adapters over it.
 *
 * Data: the configured source only (tools never name files). Replay folders are read in full through
 * the replay source's clock-free column loader, but bars are cut at the market clock — only bars
 * closed by `now` are used, so a backtest inside a replay never sees its future (and says so in a
 * warning when that cut the window short). Live sources are read through `market.candles`/`funding`
 * (the candle cache applies).
 */

/** Most bar × symbol cells a tool-started run may simulate. */
export const MAX_CELLS = 5_000_000;

/** Who started a run and how to report. */
export interface RunContext {
  caller: string;
  signal?: AbortSignal;
  progress?: (done: number, total: number, message?: string) => void | Promise<void>;
  /** How funding warnings say to add funding: `server` (default) or `cli`. */
  remedy?: FundingRemedy;
}

/** The research settings (config `research`, `universe`). */
export interface ResearchSettings {
  /** The default gate's thresholds. */
  gate: GateConfig;
  limits: WarningLimits;
  /** Coins next_experiment may suggest. */
  universe: string[];
}

/** Research settings from the app config. */
export function researchSettings(c: Config): ResearchSettings {
  const g = c.research.gate;
  return {
    gate: {
      min_sharpe: g.minSharpe,
      min_deflated_sharpe: g.minDeflatedSharpe,
      min_trades: g.minTrades,
      beat_buy_and_hold: g.beatBuyAndHold,
    },
    limits: { min_bars: c.research.warnMinBars, min_trades: c.research.warnMinTrades },
    universe: c.universe,
  };
}

/** What the service uses (explicit, so it is testable without an App). */
export interface ResearchDeps {
  db: Db;
  /** Wall clock of records (created_at). */
  clock: Clock;
  /** The active market-data service and its clock, read at each call. */
  market: () => { service: MarketService; clock: Clock };
  settings: ResearchSettings;
  /** Writes a strategy_evidence card; null when it could not be written (the run stays stored). */
  evidence: (card: EvidenceCard) => number | null;
}

/** A frame loaded by the service with the warnings its loading raised (the replay clock's cut). */
export interface LoadedFrame {
  frame: Frame;
  warnings: string[];
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
  next_experiment: NextExperiment;
}

export class ResearchService {
  readonly store: ResearchStore;

  constructor(private readonly deps: ResearchDeps) {
    this.store = new ResearchStore(deps.db);
  }

  /**
   * The gate of an experiment: the default gate when `custom` is omitted, else `custom` over the
   * default thresholds, named `custom` so the result and the evidence card say a caller chose it.
   */
  resolveGate(custom?: Partial<GateConfig>): GateSpec {
    if (custom === undefined) return { name: "default", ...this.deps.settings.gate };
    return GateSpec.parse({ ...this.deps.settings.gate, ...custom, name: "custom" });
  }

  /**
   * Loads the frame a data spec names from the market-data source, cut at the market clock.
   * @throws TwError INVALID_INPUT (source is not the configured one, empty range, too many bars),
   *   NOT_FOUND (symbol), EXCHANGE_UNAVAILABLE from live sources.
   */
  async loadFrame(data: z.infer<typeof DataSpec>): Promise<LoadedFrame> {
    const { service: market, clock } = this.deps.market();
    if (data.source !== market.id) {
      throw new TwError("INVALID_INPUT", `This server backtests on ${market.id} only.`, {
        hint: "Omit the source (or repeat the stored spec on a server configured with that source).",
      });
    }
    const iv = INTERVAL_MS[data.interval];
    const now = clock.now();
    const closedBy = now - iv;
    const to = data.to === null ? closedBy : Math.min(data.to, closedBy);
    const from = data.from ?? undefined;
    const req = { symbols: data.symbols, interval: data.interval, from, to, funding: data.funding };
    const src = market.source;
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
    const warnings: string[] = [];
    if (src instanceof ReplaySource) {
      // The data's own end (bars common to every symbol end at the earliest last bar).
      const dataEnd = Math.min(...cols.map((c) => c.time[c.length - 1]), data.to ?? Number.POSITIVE_INFINITY);
      const last = frame.time[frame.time.length - 1];
      if (closedBy < dataEnd && last < dataEnd) warnings.push(clockWarning(last, dataEnd, now));
    }
    return { frame, warnings };
  }

  /**
   * Runs, stores and records evidence for a backtest; the record carries warnings and funding
   * coverage. Errors as {@link runBacktest} and {@link loadFrame}.
   */
  async backtest(input: BacktestSpec, ctx: RunContext, frame?: Frame): Promise<StoredBacktest> {
    // Store params with defaults filled in, so a later default change cannot alter a repeat.
    const spec = { ...input, params: resolveStrategy(input.strategy, input.params).params };
    const loaded = frame ? { frame, warnings: [] } : await this.loadFrame(spec.data);
    const f = loaded.frame;
    const out = await runBacktest(f, spec, {
      signal: ctx.signal,
      progress: (done, total) => ctx.progress?.(done, total, `${done}/${total} bars`),
    });
    const diag = backtestDiagnostics(
      f,
      out.metrics,
      spec.data.funding,
      this.deps.settings.limits,
      ctx.remedy,
    );
    const base = {
      created_at: this.deps.clock.now(),
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
      warnings: [...loaded.warnings, ...diag.warnings],
      funding_coverage: diag.funding_coverage,
    };
    const id = this.store.insertBacktest(base, out.trades);
    const evidence_id = this.deps.evidence({
      strategy: spec.strategy,
      params: spec.params,
      symbols: spec.data.symbols,
      interval: spec.data.interval,
      data_range: { start: out.first_bar, end: out.last_bar },
      metrics: cardMetrics(out.metrics as unknown as Record<string, unknown>),
      gate: null,
      warnings: base.warnings,
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

  /**
   * Runs, judges, stores and records evidence for an experiment, and picks the next experiment.
   * Errors as {@link runExperiment} and {@link loadFrame}.
   */
  async experiment(spec: ExperimentSpec, ctx: RunContext, frame?: Frame): Promise<StoredExperiment> {
    const loaded = frame ? { frame, warnings: [] } : await this.loadFrame(spec.data);
    const f = loaded.frame;
    const { settings } = this.deps;
    const run = await runExperiment(
      f,
      spec,
      {
        signal: ctx.signal,
        progress: (done, total) => ctx.progress?.(done, total, `${done}/${total} variants`),
      },
      { gateDefaults: settings.gate, limits: settings.limits, remedy: ctx.remedy },
    );
    const outcome: ExperimentOutcome = { ...run, warnings: [...loaded.warnings, ...run.warnings] };
    const w = outcome.winner;
    const next = nextExperiment({
      spec,
      winner: w?.params ?? spec.base_params,
      gate: outcome.gate,
      oos_bars: w?.out_of_sample.bars ?? 0,
      oos_trades: w?.out_of_sample.trades ?? 0,
      min_bars: settings.limits.min_bars,
      universe: settings.universe,
    });
    const rec = {
      created_at: this.deps.clock.now(),
      caller: ctx.caller,
      strategy: spec.strategy,
      spec: spec as unknown as Record<string, unknown>,
      outcome: { ...outcome, next_experiment: next } as unknown as Record<string, unknown>,
      passed: outcome.gate.passed,
      decision: outcome.gate.decision,
    };
    const id = this.store.insertExperiment(rec);
    const evidence_id = this.deps.evidence({
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
        name: outcome.gate.name,
        passed: outcome.gate.passed,
        failed: outcome.gate.failed,
        criteria: outcome.gate.criteria,
      },
      warnings: outcome.warnings,
      run_id: id,
      run_kind: "experiment",
      author: ctx.caller,
    });
    return { record: { ...rec, id }, outcome, evidence_id, next_experiment: next };
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
