import { readFileSync } from "node:fs";
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
import { iterateCycles } from "../store/cycles.js";
import { openDb } from "../store/db.js";
import { countDecisions } from "../store/decisions.js";
import { getMeta, setMeta } from "../store/meta.js";
import { callTool } from "../tools/registry.js";

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
  /**
   * Who decides (overrides `cycle.decision`): `llm` (the configured endpoint), `baseline`, or `agent`
   * (the target file's targets). `sampling` cannot be replayed: no client is connected.
   */
  decision?: "llm" | "baseline" | "agent";
  /** Answer model prompts from the decision cache when it has them (default true). */
  decisionCache?: boolean;
  /** Database file whose `decision_cache` to use (an earlier run's tradewarden.db); default this run's. */
  decisionCacheFile?: string;
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
  funding: number;
  start_equity: number;
  end_equity: number;
  total_return: number;
  max_drawdown: number;
  max_gross: number;
  max_net: number;
  max_turnover: number;
  mode_changes: number;
  clips: number;
  baseline_cycles: number;
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

/** Runs a replay and returns its summary. Closes the app it creates. */
export async function runReplay(cfg0: Config, opts: ReplayOptions): Promise<ReplaySummary> {
  const decision = replayDecision(cfg0, opts);
  const cfg: Config = {
    ...cfg0,
    marketData: `replay:${replayDirs(opts).join(delimiter)}`,
    cycle: { ...cfg0.cycle, venue: "paper", enabled: false, decision },
    paper: { ...cfg0.paper, startingEquity: opts.equity ?? cfg0.paper.startingEquity },
  };
  const clock = new SimClock(0);
  const app = await createApp(cfg, { clock, log: opts.log });
  const cacheDb = opts.decisionCacheFile ? openDb(resolve(opts.decisionCacheFile)) : null;
  try {
    app.decisions.useReplayCache({ db: cacheDb ?? app.db, refresh: opts.decisionCache === false });
    return await drive(app, clock, opts);
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
  return summarize(app, { from, to, startEquity, cycles: done, elapsed });
}

function summarize(
  app: App,
  r: { from: number; to: number; startEquity: number; cycles: number; elapsed: number },
): ReplaySummary {
  const db = app.db;
  let maxGross = 0;
  let maxNet = 0;
  let maxTurnover = 0;
  let clips = 0;
  let baseline = 0;
  let peak = r.startEquity;
  let maxDd = 0;
  let endEquity = r.startEquity;
  for (const c of iterateCycles(db)) {
    if (c.ts < r.from || c.ts > r.to) continue;
    maxGross = Math.max(maxGross, c.approved.gross);
    maxNet = Math.max(maxNet, Math.abs(c.approved.net));
    maxTurnover = Math.max(maxTurnover, c.approved.turnover);
    clips += c.approved.rejections.length;
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
      db.prepare("SELECT funding AS v FROM positions WHERE venue = 'paper'").all() as Array<{ v: string }>,
    ),
    start_equity: r.startEquity,
    end_equity: endEquity,
    total_return: r.startEquity > 0 ? endEquity / r.startEquity - 1 : 0,
    max_drawdown: maxDd,
    max_gross: maxGross,
    max_net: maxNet,
    max_turnover: maxTurnover,
    mode_changes: count("SELECT COUNT(*) AS n FROM engine_events WHERE kind = 'mode_change'"),
    clips,
    baseline_cycles: baseline,
    decisions: countDecisions(db, r.from, r.to),
    decision_calls: app.decisions.cacheStats().calls,
    decision_cache_hits: app.decisions.cacheStats().hits,
    cycles_per_second: r.elapsed > 0 ? r.cycles / r.elapsed : 0,
  };
}
