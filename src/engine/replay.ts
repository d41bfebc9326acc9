import { createWriteStream, readFileSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { Decimal } from "decimal.js";
import { type App, createApp } from "../app.js";
import { SimClock } from "../clock.js";
import type { Config } from "../config.js";
import { TwError } from "../errors.js";
import { embeddedReplayDirs } from "../exchange/replay/embedded.js";
import { ReplaySource } from "../exchange/replay/source.js";
import type { Logger } from "../log.js";
import { callerFor } from "../policy/scopes.js";
import { Dec } from "../exchange/fillModel.js";
import { iterateLedger } from "../exchange/paper/store.js";
import { iterateCycles } from "../store/cycles.js";
import { getMeta, setMeta } from "../store/meta.js";
import { callTool } from "../tools/registry.js";
import { gross, net } from "./limits.js";

/**
 * `tradewarden replay`: the full minute cycle on the paper venue over replay data, on a simulated
 * clock, as fast as the machine allows, writing everything to the DB under TW_HOME. Re-running on the
 * same TW_HOME resumes: finished cycles are skipped, a cycle interrupted mid-way resumes its stored
 * plan, and no client order id is sent twice (idempotency store).
 */

/** Options of {@link runReplay}. Times ms UTC. */
export interface ReplayOptions {
  /** Candle (and funding) folders; default: the embedded 30 days with funding (data/). */
  dataDirs?: string[];
  /** Extra funding folders (`<COIN><QUOTE>_funding*.csv[.gz]`). */
  fundingDirs?: string[];
  from?: number;
  to?: number;
  /** Starting paper equity (quote), default config.paper.startingEquity. */
  equity?: number;
  /** JSONL of agent targets: one TargetPortfolio per line plus `time` (ms UTC or ISO). */
  targetFile?: string;
  /** Writes the paper cash ledger here as CSV (`time,kind,symbol,amount,balance`) after the run. */
  ledgerFile?: string;
  /** Called after every cycle with (done, total). */
  onProgress?: (done: number, total: number) => void;
  log?: Logger;
}

/** The replay summary (snake_case, printed by `--json`). Money in quote currency; ratios as fractions. */
export interface ReplaySummary {
  from: number;
  to: number;
  cycles: number;
  orders: number;
  fills: number;
  rejected: number;
  refused: number;
  fees: number;
  /** Σ funding ledger rows (quote; negative = paid). */
  funding: number;
  /** Funding ledger rows = funding events booked (one per symbol and funding time held). */
  funding_events: number;
  start_equity: number;
  end_equity: number;
  total_return: number;
  max_drawdown: number;
  /** Largest Σ|w| of the ACTUAL book at any cycle start or end (position × mid / equity). */
  max_gross: number;
  /** Largest |Σw| of the actual book at any cycle start or end. */
  max_net: number;
  /** Largest executed turnover of a cycle: Σ |filled coins| × mid / start equity. */
  max_turnover: number;
  /** The same three on the approved vectors (what the risk clip asked for). */
  max_gross_approved: number;
  max_net_approved: number;
  max_turnover_approved: number;
  /** Increasing slices skipped because the rolling-24h notional budget was spent. */
  budget_skipped_slices: number;
  /** Slices skipped because the per-minute order/cancel budget was empty. */
  rate_limited: number;
  /** Reduce-only orders sent after execution because the actual book was outside a limit. */
  limit_corrections: number;
  /** Cycles that started with no position. */
  flat_cycles: number;
  /** Liquidation fills of the paper venue. */
  liquidations: number;
  mode_changes: number;
  clips: number;
  baseline_cycles: number;
  cycles_per_second: number;
}

interface TargetLine {
  time: number;
  args: Record<string, unknown>;
}

function parseTime(v: unknown, where: string): number {
  const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw new TwError("INVALID_INPUT", `${where}: time must be ms UTC or ISO-8601.`);
  return t;
}

/** Reads a JSONL target file. @throws TwError INVALID_INPUT naming the line. */
export function readTargetFile(path: string): TargetLine[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const out: TargetLine[] = [];
  lines.forEach((raw, i) => {
    if (raw.trim() === "") return;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new TwError("INVALID_INPUT", `${path}:${i + 1}: not valid JSON.`);
    }
    const { time, ...args } = obj;
    out.push({ time: parseTime(time, `${path}:${i + 1}`), args });
  });
  return out.sort((a, b) => a.time - b.time);
}

/** The folders a replay reads: `dataDirs` (or the embedded data) then `fundingDirs`, absolute. */
export function replayDirs(opts: Pick<ReplayOptions, "dataDirs" | "fundingDirs">): string[] {
  const data = opts.dataDirs && opts.dataDirs.length > 0 ? opts.dataDirs : embeddedReplayDirs();
  return [...data, ...(opts.fundingDirs ?? [])].map((d) => resolve(d));
}

/** Runs a replay and returns its summary. Closes the app it creates. */
export async function runReplay(cfg0: Config, opts: ReplayOptions): Promise<ReplaySummary> {
  const cfg: Config = {
    ...cfg0,
    marketData: `replay:${replayDirs(opts).join(delimiter)}`,
    cycle: { ...cfg0.cycle, venue: "paper", enabled: false },
    paper: { ...cfg0.paper, startingEquity: opts.equity ?? cfg0.paper.startingEquity },
  };
  const clock = new SimClock(0);
  const app = await createApp(cfg, { clock, log: opts.log });
  try {
    return await drive(app, clock, opts);
  } finally {
    await app.close();
  }
}

async function drive(app: App, clock: SimClock, opts: ReplayOptions): Promise<ReplaySummary> {
  const source = app.market.source;
  if (!(source instanceof ReplaySource))
    throw new TwError("CONFIG_INVALID", "replay needs a replay: data source.");
  const range = source.commonRange();
  if (!range) throw new TwError("CONFIG_INVALID", `No common time range in ${replayDirs(opts).join(", ")}.`);
  const step = app.engine.settings.cycleMs;
  // Features need 61 closed one-minute bars before the first decision.
  const earliest = Math.ceil((range.start + 62 * 60_000) / step) * step;
  const from = Math.max(earliest, opts.from !== undefined ? Math.ceil(opts.from / step) * step : earliest);
  const last = Math.floor(range.end / step) * step;
  const to = Math.min(last, opts.to ?? last);
  if (to < from) throw new TwError("INVALID_INPUT", "--from/--to select no cycle inside the data range.");
  clock.set(Math.max(clock.now(), from - step));

  const targets = opts.targetFile ? readTargetFile(opts.targetFile) : [];
  const agent = callerFor("replay:target-file", "agent", "cli");
  let nextTarget = 0;
  const total = Math.floor((to - from) / step) + 1;
  const venue = app.venues.get("paper");
  // A resumed replay reports against the equity the run started with, not where it was interrupted.
  const startEquity =
    getMeta<number>(app.db, "replay.start_equity") ?? Number((await venue.accountState()).equity);
  setMeta(app.db, "replay.start_equity", startEquity);
  await app.engine.reconciler.reconcile();
  const t0 = performance.now();
  let done = 0;
  for (let t = from; t <= to; t += step) {
    if (t > clock.now()) clock.set(t);
    while (nextTarget < targets.length && targets[nextTarget].time <= t) {
      const r = await callTool(app, agent, "portfolio_set_target", targets[nextTarget].args);
      if (r.isError)
        app.log.warn({ line: nextTarget + 1, error: r.structuredContent }, "target line refused");
      nextTarget++;
    }
    // One SQLite transaction per tick: the paper venue lives in the same file, so a cycle is all or
    // nothing (a killed replay redoes the tick it was in) and the commit cost is paid once per cycle.
    app.db.exec("BEGIN IMMEDIATE");
    try {
      await app.engine.tick(t);
      app.db.exec("COMMIT");
    } catch (e) {
      if (app.db.inTransaction) app.db.exec("ROLLBACK");
      throw e;
    }
    done++;
    opts.onProgress?.(done, total);
  }
  const elapsed = (performance.now() - t0) / 1000;
  if (opts.ledgerFile) await writeLedgerCsv(app, opts.ledgerFile);
  return summarize(app, { from, to, startEquity, cycles: done, elapsed });
}

/**
 * Writes the paper cash ledger as CSV: `time,kind,symbol,amount,balance` (time ms UTC; amounts and the
 * running balance in quote currency, exact decimal strings; kinds deposit, fee, funding, realized_pnl,
 * liquidation). The last balance is the paper cash; equity = cash + Σ unrealised PnL of open positions.
 */
export async function writeLedgerCsv(app: App, file: string): Promise<void> {
  const out = createWriteStream(file, "utf8");
  const done = new Promise<void>((ok, fail) => {
    out.on("finish", ok);
    out.on("error", fail);
  });
  out.write("time,kind,symbol,amount,balance\n");
  let balance = new Dec(0);
  for (const r of iterateLedger(app.db)) {
    balance = balance.plus(r.amount);
    if (!out.write(`${r.ts},${r.kind},${r.symbol ?? ""},${r.amount},${balance.toFixed()}\n`))
      await new Promise<void>((ok) => out.once("drain", () => ok()));
  }
  out.end();
  await done;
}

function summarize(
  app: App,
  r: { from: number; to: number; startEquity: number; cycles: number; elapsed: number },
): ReplaySummary {
  const db = app.db;
  let maxGross = 0;
  let maxNet = 0;
  let maxTurnover = 0;
  let maxGrossA = 0;
  let maxNetA = 0;
  let maxTurnoverA = 0;
  let budgetSkipped = 0;
  let rateLimited = 0;
  let corrections = 0;
  let flat = 0;
  let clips = 0;
  let baseline = 0;
  let peak = r.startEquity;
  let maxDd = 0;
  let endEquity = r.startEquity;
  for (const c of iterateCycles(db)) {
    if (c.ts < r.from || c.ts > r.to) continue;
    maxGrossA = Math.max(maxGrossA, c.approved.gross);
    maxNetA = Math.max(maxNetA, Math.abs(c.approved.net));
    maxTurnoverA = Math.max(maxTurnoverA, c.approved.turnover);
    const start = Object.values(c.current_weights);
    if (start.every((w) => w === 0)) flat++;
    maxGross = Math.max(maxGross, gross(c.current_weights), c.report?.end_gross ?? 0);
    maxNet = Math.max(maxNet, Math.abs(net(c.current_weights)), Math.abs(c.report?.end_net ?? 0));
    maxTurnover = Math.max(maxTurnover, c.report?.executed_turnover ?? 0);
    budgetSkipped += c.report?.skipped_budget ?? 0;
    rateLimited += c.report?.rate_limited ?? 0;
    corrections += c.report?.corrections ?? 0;
    clips += c.approved.rejections.length;
    if (c.target.used === "baseline") baseline++;
    for (const e of [Number(c.equity), Number(c.report?.end_equity ?? c.equity)]) {
      peak = Math.max(peak, e);
      maxDd = Math.max(maxDd, peak > 0 ? 1 - e / peak : 0);
      endEquity = e;
    }
  }
  const count = (sql: string, ...p: unknown[]) => (db.prepare(sql).get(...p) as { n: number }).n;
  const sum = (rows: Array<{ v: string }>) => rows.reduce((a, x) => a.plus(x.v), new Decimal(0)).toNumber();
  const refused = count(
    "SELECT COUNT(*) AS n FROM audit_log WHERE caller = 'system:cycle' AND decision = 'refused' AND ts BETWEEN ? AND ?",
    r.from,
    r.to + 60_000,
  );
  return {
    from: r.from,
    to: r.to,
    cycles: r.cycles,
    orders: count("SELECT COUNT(*) AS n FROM orders WHERE venue = 'paper' AND caller = 'system:cycle'"),
    fills: count("SELECT COUNT(*) AS n FROM fills WHERE venue = 'paper'"),
    rejected: count("SELECT COUNT(*) AS n FROM orders WHERE venue = 'paper' AND status = 'rejected'"),
    refused,
    fees: sum(db.prepare("SELECT fee AS v FROM fills WHERE venue = 'paper'").all() as Array<{ v: string }>),
    funding: sum(
      db.prepare("SELECT amount AS v FROM paper_ledger WHERE kind = 'funding'").all() as Array<{ v: string }>,
    ),
    funding_events: count("SELECT COUNT(*) AS n FROM paper_ledger WHERE kind = 'funding'"),
    start_equity: r.startEquity,
    end_equity: endEquity,
    total_return: r.startEquity > 0 ? endEquity / r.startEquity - 1 : 0,
    max_drawdown: maxDd,
    max_gross: maxGross,
    max_net: maxNet,
    max_turnover: maxTurnover,
    max_gross_approved: maxGrossA,
    max_net_approved: maxNetA,
    max_turnover_approved: maxTurnoverA,
    budget_skipped_slices: budgetSkipped,
    rate_limited: rateLimited,
    limit_corrections: corrections,
    flat_cycles: flat,
    liquidations: count("SELECT COUNT(*) AS n FROM fills WHERE venue = 'paper' AND kind = 'liquidation'"),
    mode_changes: count("SELECT COUNT(*) AS n FROM engine_events WHERE kind = 'mode_change'"),
    clips,
    baseline_cycles: baseline,
    cycles_per_second: r.elapsed > 0 ? r.cycles / r.elapsed : 0,
  };
}
