import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { Decimal } from "decimal.js";
import { type App, createApp } from "../app.js";
import { SimClock } from "../clock.js";
import type { Config } from "../config.js";
import { TwError } from "../errors.js";
import { embeddedReplayDirs } from "../exchange/replay/embedded.js";
import { fundingWarnings } from "../exchange/replay/funding.js";
import { ReplaySource } from "../exchange/replay/source.js";
import type { Logger } from "../log.js";
import { callerFor } from "../policy/scopes.js";
import { Dec } from "../exchange/fillModel.js";
import { iterateLedger } from "../exchange/paper/store.js";
import { blockCycles } from "../store/cycleBlocks.js";
import { compactCycles, iterateCycles, recentEvents } from "../store/cycles.js";
import { bumpCacheEpoch, type Db, openDb } from "../store/db.js";
import { compactDecisions, countDecisions, dropDecisions } from "../store/decisions.js";
import { compactIntentChecks } from "../store/intents.js";
import { compactKeyResults } from "../policy/idempotency.js";
import { createReplayFile, useReplayJournal } from "../store/replayFile.js";
import { CYCLE_CALLER, cycleIdAt, WHOLE_CYCLE } from "./cycle.js";
import { PROMPT_LAST_DECISIONS } from "./decision/prompt.js";
import { RunAuditGroup } from "./replayRunAudit.js";
import { getMeta, setMeta } from "../store/meta.js";
import { callTool } from "../tools/registry.js";
import { gross, net } from "./limits.js";

/**
 * `tradewarden replay`: the full minute cycle on the paper venue over replay data, on a simulated
 * clock, as fast as the machine allows. A replay writes to its own database — `--db PATH`, default
 * `$TW_HOME/replays/<run-id>.db` — never to the server's `$TW_HOME/tradewarden.db`: the server's
 * paper account, control mode, audit log and idempotency keys are untouched. Re-running with the same
 * `--db` resumes: finished cycles are skipped, a cycle interrupted mid-way resumes its stored plan,
 * and no client order id is sent twice (idempotency store).
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
  /**
   * The run's database; default `$TW_HOME/replays/<run-id>.db` (a new run). An existing file resumes
   * the run stored in it.
   */
  db?: string;
  /** Called once the run's database is known (before the first cycle), e.g. to say how to resume. */
  onStart?: (run: { run_id: string; db: string; from: number; to: number; cycles: number }) => void;
  /** Writes the paper cash ledger here as CSV (`time,kind,symbol,amount,balance`) after the run. */
  ledgerFile?: string;
  /**
   * Who decides (overrides `cycle.decision`): `llm` (the configured endpoint), `baseline`, or `agent`
   * (the target file's targets). `sampling` cannot be replayed: no client is connected.
   */
  decision?: "llm" | "baseline" | "agent";
  /** Answer model prompts from the decision cache when it has them (default true). */
  decisionCache?: boolean;
  /** Database file whose `decision_cache` to use (an earlier run's database); default this run's. */
  decisionCacheFile?: string;
  /**
   * The run's last cycles kept with their full detail (features, target, clips, plan, end positions);
   * the others are compacted in the tick that finishes them (see `compactCycles`, `compactDecisions`).
   * Default {@link REPLAY_DETAIL_CYCLES}.
   */
  detailCycles?: number;
  /** Called after every cycle with (done, total). */
  onProgress?: (done: number, total: number) => void;
  log?: Logger;
}

/** A change of the control mode during the run. */
export interface ModeChange {
  /** ms UTC (replay time). */
  time: number;
  from: string;
  to: string;
  reason: string;
}

/** The replay summary (snake_case, printed by `--json`). Money in quote currency; ratios as fractions. */
export interface ReplaySummary {
  /** Id of the run: the database file's name without `.db`. */
  run_id: string;
  /** The run's database (absolute path); pass it as `--db` to resume. */
  db: string;
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
  /** Every control-mode change of the run, oldest first (drawdown breaker, reconcile failures). */
  mode_timeline: ModeChange[];
  clips: number;
  baseline_cycles: number;
  /**
   * Universe symbol in the data → fraction of the run's 8-hour funding times (00/08/16 UTC) that
   * the data covers (src/exchange/replay/funding.ts). Below 1, funding PnL is incomplete.
   */
  funding_coverage: Record<string, number>;
  /** What makes this run less than it looks (missing funding, symbols not in the data); empty when none. */
  warnings: string[];
  /** Cycles by where their target came from (docs/cycle.md "Who decides"). */
  decisions: Record<"agent" | "sampling" | "llm" | "baseline" | "baseline_fallback", number>;
  /** Model requests this run made, and answers it took from the decision cache (not deterministic). */
  decision_calls: number;
  decision_cache_hits: number;
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

/** A new run id: `replay-<UTC start, seconds>-<6 hex>`, sortable by start time. */
export function newRunId(now = Date.now()): string {
  const t = new Date(now).toISOString().replace(/[-:]/g, "").slice(0, 15);
  return `replay-${t}Z-${randomBytes(3).toString("hex")}`;
}

/** The database a replay writes: `opts.db`, else `$TW_HOME/replays/<new run id>.db` (absolute). */
export function replayDbPath(cfg: Config, db?: string): string {
  return resolve(db ?? join(cfg.home, "replays", `${newRunId()}.db`));
}

/** Runs a replay and returns its summary. Closes the app it creates. */
export async function runReplay(cfg0: Config, opts: ReplayOptions): Promise<ReplaySummary> {
  const decision = replayDecision(cfg0, opts);
  const cfg: Config = {
    ...cfg0,
    marketData: `replay:${replayDirs(opts).join(delimiter)}`,
    cycle: { ...cfg0.cycle, venue: "paper", enabled: false, decision },
    paper: { ...cfg0.paper, startingEquity: opts.equity ?? cfg0.paper.startingEquity },
  };
  const db = replayDbPath(cfg, opts.db);
  mkdirSync(dirname(db), { recursive: true });
  createReplayFile(db);
  const clock = new SimClock(0);
  // Role `command`: the run needs no knowledge index. Exclusive: the replay's database is its own
  // (no other process opens it), so lanes need no cross-process lease and the anchor need not fsync
  // every order.
  const app = await createApp(cfg, { clock, log: opts.log, dbFile: db, role: "command", exclusive: true });
  useReplayJournal(app.db);
  const cacheDb = opts.decisionCacheFile ? openDb(resolve(opts.decisionCacheFile)) : null;
  try {
    app.decisions.useReplayCache({ db: cacheDb ?? app.db, refresh: opts.decisionCache === false });
    return await drive(app, clock, opts, { run_id: basename(db).replace(/\.db$/, ""), db });
  } finally {
    cacheDb?.close();
    await app.close();
  }
}

/** The decision source of a replay. @throws TwError INVALID_INPUT for a combination that cannot run. */
function replayDecision(cfg: Config, opts: ReplayOptions): Config["cycle"]["decision"] {
  const decision = opts.decision ?? cfg.cycle.decision;
  if (decision === "sampling")
    throw new TwError(
      "INVALID_INPUT",
      "A replay cannot ask a client's model: no MCP client is connected to it.",
      {
        hint: "Use --decision llm (an OpenAI-compatible endpoint), baseline, or agent with --target-file.",
      },
    );
  if (opts.targetFile && decision !== "agent")
    throw new TwError(
      "INVALID_INPUT",
      `--target-file sets agent targets, but the ${decision} source decides.`,
      {
        hint: "Drop --target-file, or use --decision agent.",
      },
    );
  return decision;
}

async function drive(
  app: App,
  clock: SimClock,
  opts: ReplayOptions,
  run: { run_id: string; db: string },
): Promise<ReplaySummary> {
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
  // The source parses its files around the clock times this run reads (issue 15: start-up).
  source.readAt(clock.now(), to);

  const targets = opts.targetFile ? readTargetFile(opts.targetFile) : [];
  const agent = callerFor("replay:target-file", "agent", "cli");
  let nextTarget = 0;
  const total = Math.floor((to - from) / step) + 1;
  opts.onStart?.({ ...run, from, to, cycles: total });
  const venue = app.venues.get("paper");
  // A resumed replay reports against the equity the run started with, not where it was interrupted.
  const startEquity =
    getMeta<number>(app.db, "replay.start_equity") ?? Number((await venue.accountState()).equity);
  setMeta(app.db, "replay.start_equity", startEquity);
  await app.engine.reconciler.reconcile();
  const t0 = performance.now();
  let done = 0;
  const keep = (opts.detailCycles ?? REPLAY_DETAIL_CYCLES) * step;
  // The run's last `keep` cycles stay whole. Older ones are compacted in the tick that finished them
  // (inside its savepoint), so a whole row lives only until its cycle ends and the next cycle's
  // rows reuse its pages: compacting at each commit freed a batch's worth of pages, whose reuse the
  // next batch paid for in the journal. The first call also covers the cycles of a resumed run.
  const cutoff = to - keep + 1;
  let compacted = 0;
  // A model's prompt shows the newest decisions whole: those stay a few ticks longer. Without a
  // model source no prompt is built, and a decision is compacted with its cycle while it is still
  // the table's newest row, so its emptied space is reused (compacted three ticks later, the freed
  // holes sat behind newer rows: 40 % of the table's pages were empty). Without a model its
  // decision is deleted then: the compacted cycle row says what it said (`dropDecisions`).
  const decider = app.config.cycle.decision;
  const promptLag = decider === "llm" || decider === "sampling" ? PROMPT_LAST_DECISIONS : 0;
  let compactedDecisions = 0;
  // A cycle compacted in its own tick is written compacted when it finishes, and a decision row
  // dropped in it is not written (MinuteCycle.storage): the whole row was written, updated, read
  // back, deleted and written again in the same tick (issue 15).
  const compactOwn = { compact: true, decisionRow: promptLag > 0 };
  app.engine.cycle.storage = (t) => (t < cutoff ? compactOwn : WHOLE_CYCLE);
  const compact = (t: number) => {
    const before = Math.min(t + 1, cutoff);
    const ids = before > compacted ? compactCycles(app.db, compacted, before) : [];
    // This tick's cycle, written compacted, is not among the rows compactCycles shrank.
    if (t < cutoff && !ids.includes(cycleIdAt(t))) ids.push(cycleIdAt(t));
    for (const id of ids) compactCycleOrders(app.db, venueId, id);
    compacted = Math.max(compacted, before);
    // Compacted cycles go on into deflated blocks of 60 (≈ 130 instead of ≈ 460 bytes a cycle).
    blockCycles(app.db, compacted);
    const beforeD = Math.min(before, t + step - promptLag * step);
    if (beforeD > compactedDecisions)
      (promptLag === 0 ? dropDecisions : compactDecisions)(app.db, compactedDecisions, beforeD);
    compactedDecisions = Math.max(compactedDecisions, beforeD);
  };
  const venueId = app.engine.settings.venue;
  // One cycle.run audit row per group of a batch's cycles (src/engine/replayRunAudit.ts).
  const runs = new RunAuditGroup(app.db, venueId);
  app.engine.cycle.recordRun = (e) => runs.add(e);
  const batch = new TickBatch(app.db, runs);
  try {
    for (let t = from; t <= to; t += step) {
      if (t > clock.now()) clock.set(t);
      if (nextTarget < targets.length && targets[nextTarget].time <= t) batch.commit();
      while (nextTarget < targets.length && targets[nextTarget].time <= t) {
        const r = await callTool(app, agent, "portfolio_set_target", targets[nextTarget].args);
        if (r.isError)
          app.log.warn({ line: nextTarget + 1, error: r.structuredContent }, "target line refused");
        nextTarget++;
      }
      await batch.tick(async () => {
        await app.engine.tick(t);
        compact(t);
      });
      done++;
      opts.onProgress?.(done, total);
    }
  } finally {
    batch.commit();
  }
  const elapsed = (performance.now() - t0) / 1000;
  if (opts.ledgerFile) await writeLedgerCsv(app, opts.ledgerFile);
  return summarize(app, source, { ...run, from, to, startEquity, cycles: done, elapsed });
}

/**
 * Compacts what the orders of the finished cycle `cycleId` left in the idempotency store and the
 * intents (client order ids `<cycle id>:…`, src/engine/cycle.ts): stored results of order_propose
 * (key `<caller>:<venue>:<client order id>`) and order_submit (`<venue>:<client order id>`), and the
 * intents' checks. The cycle has finished, so no retry of these calls can arrive inside the replay
 * (only a `planned` cycle resumes); the keys still block reuse, and each decision stays whole in its
 * audit row. Issue 15: these were ≈ 0.85 KB a cycle of a 7-day replay.
 */
function compactCycleOrders(db: Db, venue: string, cycleId: string): void {
  const prefix = `${venue}:${cycleId}:`;
  compactKeyResults(db, "order_propose", `${CYCLE_CALLER}:${prefix}`);
  compactKeyResults(db, "order_submit", prefix);
  compactIntentChecks(db, venue, `${cycleId}:`);
}

/**
 * The last cycles of a replay kept with full detail (the last hour of 1-minute cycles: what the
 * console's cycle table and `portfolio_get_status` show, with room to spare); the others are
 * compacted (issue 15: a whole cycle with its decision is ≈ 10 KB, a compacted one ≈ 0.6 KB; a day
 * kept whole was 1.4 KB a cycle of a 7-day run).
 */
export const REPLAY_DETAIL_CYCLES = 60;

/** Ticks per SQLite commit in a replay (see {@link TickBatch}). */
export const REPLAY_TICKS_PER_COMMIT = 240;

/**
 * Groups replay ticks into one SQLite transaction per {@link REPLAY_TICKS_PER_COMMIT} ticks, each tick
 * its own savepoint. The paper venue lives in the same file, so a tick stays all or nothing (a failed
 * tick is rolled back to its savepoint and the ticks before it are committed) and a killed replay
 * resumes from the last commit, redoing at most one batch with the same cycle ids and client order
 * ids. Committing every tick wrote each touched page (table tails, indexes) to the journal once per
 * tick; a batch writes it once per batch. Nothing in a tick depends on the commit boundary, so the
 * result is the same as committing every tick. The batch's `cycle.run` audit entries are appended
 * as grouped rows (`RunAuditGroup`) before its commit, so they are committed, or lost to a kill -9,
 * with their cycles. Only for a database no other process opens (the replay's own,
 * `exclusive: true`).
 */
class TickBatch {
  private open = 0;
  constructor(
    private readonly db: Db,
    private readonly runs: RunAuditGroup,
  ) {}

  /** Runs one tick inside the current batch. @throws whatever the tick throws, after committing the ticks before it. */
  async tick(run: () => Promise<unknown>): Promise<void> {
    if (!this.db.inTransaction) {
      this.db.prepare("BEGIN IMMEDIATE").run();
      this.open = 0;
    }
    this.runs.beginTick();
    this.db.prepare("SAVEPOINT replay_tick").run();
    try {
      await run();
      this.db.prepare("RELEASE replay_tick").run();
    } catch (e) {
      // Rows an in-process cache read during the tick may be taken back below.
      bumpCacheEpoch(this.db);
      this.runs.dropTick();
      if (this.db.inTransaction) {
        this.db.exec("ROLLBACK TO replay_tick");
        this.db.exec("RELEASE replay_tick");
        this.commit();
      } else {
        // SQLite rolled the whole batch back: its cycles' entries with it.
        this.runs.clear();
      }
      throw e;
    }
    if (++this.open >= REPLAY_TICKS_PER_COMMIT) this.commit();
  }

  /** Commits the open batch, if any, with its cycles' grouped `cycle.run` audit row. */
  commit(): void {
    if (this.db.inTransaction) {
      this.runs.flush();
      this.db.prepare("COMMIT").run();
    }
    this.open = 0;
  }
}

/**
 * Funding coverage of the run and its warnings: a perp below full coverage (its funding PnL is
 * missing or partial), funding files that disagree, universe symbols the data does not have.
 */
function fundingReport(
  app: App,
  source: ReplaySource,
  from: number,
  to: number,
): { funding_coverage: Record<string, number>; warnings: string[] } {
  const inData = new Set(source.symbols());
  const traded = app.config.universe.filter((s) => inData.has(s));
  const coverage = source.fundingCoverage(traded, from, to);
  const warnings = fundingWarnings(coverage);
  for (const s of traded) {
    const conflicts = source.allFunding(s).conflicts.filter((t) => t >= from && t <= to);
    if (conflicts.length > 0) {
      warnings.push(
        `${s}: ${conflicts.length} funding time(s) in this run have different rates in different files (first at ${new Date(conflicts[0]).toISOString()}); the first file's rate was used.`,
      );
    }
  }
  const missing = app.config.universe.filter((s) => !inData.has(s));
  if (missing.length > 0) {
    warnings.push(
      `${missing.join(", ")}: in the universe but not in the replay data, so never traded; add their candle files or set TW_UNIVERSE.`,
    );
  }
  return { funding_coverage: coverage, warnings };
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
  source: ReplaySource,
  r: {
    run_id: string;
    db: string;
    from: number;
    to: number;
    startEquity: number;
    cycles: number;
    elapsed: number;
  },
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
    clips += c.clips ?? c.approved.rejections.length;
    if (c.target.used === "baseline" || c.target.used === "baseline_fallback") baseline++;
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
  const modes = recentEvents(db, 10_000, "mode_change")
    .reverse()
    .map((e) => {
      const d = e.detail as { from?: string; to?: string; reason?: string };
      return {
        time: e.ts,
        from: String(d.from ?? "?"),
        to: String(d.to ?? "?"),
        reason: String(d.reason ?? ""),
      };
    });
  return {
    run_id: r.run_id,
    db: r.db,
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
    mode_timeline: modes,
    clips,
    baseline_cycles: baseline,
    ...fundingReport(app, source, r.from, r.to),
    decisions: countDecisions(db, r.from, r.to),
    decision_calls: app.decisions.cacheStats().calls,
    decision_cache_hits: app.decisions.cacheStats().hits,
    cycles_per_second: r.elapsed > 0 ? r.cycles / r.elapsed : 0,
  };
}
