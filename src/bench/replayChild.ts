import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createApp } from "../app.js";
import { SimClock } from "../clock.js";
import { loadConfig } from "../config.js";
import { baselineTarget } from "../engine/baseline.js";
import { cycleIdAt } from "../engine/cycle.js";
import { planExecution } from "../engine/planner.js";
import { runReplay } from "../engine/replay.js";
import { ReplaySource } from "../exchange/replay/source.js";
import { clipTarget } from "../engine/riskClip.js";
import type { Weights } from "../engine/types.js";
import { createLogger } from "../log.js";
import { ordersPerCycle, tickSplit } from "./tickSplit.js";

/**
 * One measured replay run in its own process (spawned by src/bench/replay.ts), so peak RSS and bytes
 * written belong to that run alone. `node dist/bench/replayChild.js <full|decision> <data dir> <home>
 * <from ms> <to ms>` prints one JSON line: `{ cycles, seconds, orders?, day_rates (cycles per CPU second
 * of each full day, from the end of the first cycle), cpu_seconds, ticks? (src/bench/tickSplit.ts),
 * ticks_last_day? (the same over the last full day of a run of two days or more),
 * db_bytes?, written_bytes, max_rss_bytes }`.
 * - `full`: `runReplay` — features, target, clip, plan, gate with audit, paper venue, reconcile, SQLite;
 * - `decision` (the baseline hand loop): the same ticks through the pure decision stages only
 *   (features → baseline target → clip → plan), no gate, venue or storage.
 */

function config(home: string, data: string) {
  return loadConfig({
    env: { TW_HOME: home, TW_LOG_LEVEL: "silent", TW_MARKET_DATA: `replay:${data}` },
    cwd: home,
  });
}

/**
 * CPU seconds (user + system) this process has used: on a shared machine a busy neighbour stretches
 * wall time, and would read as a slower (or growing) cycle.
 */
function cpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Bytes this process has written to storage (Linux /proc/self/io), or null elsewhere. */
function writtenBytes(): number | null {
  try {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * This process's peak resident set in bytes: `VmHWM` from /proc/self/status (Linux), the high-water
 * mark of this program's own memory. `process.resourceUsage().maxRSS` (getrusage) is not that after a
 * fork + exec: Linux carries the parent's peak over exec, so a child spawned by a bench process that
 * had loaded 1 M backtest bars reported the parent's 321 MB for every run. Falls back to it elsewhere.
 */
function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: getrusage below
  }
  return process.resourceUsage().maxRSS * 1024;
}

async function decisionOnly(home: string, data: string, from: number, to: number) {
  const clock = new SimClock(0);
  const app = await createApp(config(home, data), { clock, log: createLogger("silent") });
  try {
    const step = 60_000;
    // The same windowed candle parse as the replay command (src/engine/replay.ts), so the baseline
    // loads no more than the run it is compared with.
    if (app.market.source instanceof ReplaySource) app.market.source.readAt(from - step, to);
    let prev: Weights = {};
    let cycles = 0;
    const t0 = performance.now();
    const cpu0 = cpu();
    // Cycles per CPU second of each full day, as `full` reports them (the first day from the start).
    const dayRates: number[] = [];
    let dayStart = cpu0;
    for (let t = from; t <= to; t += step) {
      clock.set(t);
      const features = [];
      for (const s of app.config.universe) features.push(await app.market.features(s));
      const approved = clipTarget({
        target: baselineTarget(features),
        current: prev,
        universe: app.config.universe,
        mode: "NORMAL",
      });
      const markets = Object.fromEntries(
        features.map((f) => [f.symbol, { mid: f.mid, lot: 0.001, tick: 0.01, minNotional: 10 }]),
      );
      planExecution({
        cycleId: String(t),
        now: t,
        equity: 100_000,
        approved: approved.weights,
        positions: {},
        markets,
        twapSlices: 3,
        twapIntervalMs: 20_000,
        guardBps: 50,
        minTradeWeight: 0.01,
      });
      prev = approved.weights;
      cycles++;
      if (cycles % DAY_CYCLES === 0) {
        const now = cpu();
        dayRates.push(DAY_CYCLES / (now - dayStart));
        dayStart = now;
      }
    }
    return {
      cycles,
      seconds: (performance.now() - t0) / 1000,
      cpu_seconds: cpu() - cpu0,
      day_rates: dayRates,
    };
  } finally {
    await app.close();
  }
}

const DAY_CYCLES = 1440;

async function full(home: string, data: string, from: number, to: number) {
  const db = join(home, "bench.db");
  const t0 = performance.now();
  const cpu0 = cpu();
  // Cycles per CPU second of each replayed day: the last day against the first shows growth with
  // history. Timed from the first cycle's end, so data loading and set-up do not count against day 1.
  const dayRates: number[] = [];
  let dayStart = cpu();
  let dayFrom = 0;
  // Wall ms of each tick (onProgress runs once a tick has finished); the first from the loop's start.
  const tickMs: number[] = [];
  let lastTick = 0;
  const s = await runReplay(config(home, data), {
    dataDirs: [data],
    from,
    to,
    db,
    log: createLogger("silent"),
    onStart: () => {
      lastTick = performance.now();
    },
    onProgress: (done) => {
      const now = performance.now();
      tickMs.push(now - lastTick);
      lastTick = now;
      if (done !== 1 && done % DAY_CYCLES !== 0) return;
      const c = cpu();
      if (done > 1) dayRates.push((done - dayFrom) / (c - dayStart));
      dayStart = c;
      dayFrom = done;
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpu() - cpu0;
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  const ordersAt = ordersOfTick(db, s.from);
  return {
    cycles: s.cycles,
    seconds,
    cycles_per_second: s.cycles_per_second,
    cpu_seconds: cpuSeconds,
    orders: s.orders,
    day_rates: dayRates,
    ticks: tickSplit(tickMs, ordersAt),
    // The same split over the run's last full day: warm code, the history of the days before.
    ticks_last_day:
      tickMs.length >= 2 * DAY_CYCLES ? tickSplit(tickMs, ordersAt, tickMs.length - DAY_CYCLES) : undefined,
    db_bytes: size(db) + size(`${db}-wal`),
  };
}

/**
 * The orders tick i of a finished run sent (for {@link tickSplit}): tick i is the cycle at `from` +
 * i minutes, and its orders are those whose client order id starts with its cycle id. Reads the
 * run's orders once.
 */
function ordersOfTick(file: string, from: number): (i: number) => number {
  const db = new Database(file, { readonly: true });
  let perCycle: Map<string, number>;
  try {
    perCycle = ordersPerCycle(
      db.prepare("SELECT client_order_id FROM orders").pluck().iterate() as Iterable<string>,
    );
  } finally {
    db.close();
  }
  return (i) => perCycle.get(cycleIdAt(from + i * 60_000)) ?? 0;
}

const [mode, data, home, from, to] = process.argv.slice(2);
const w0 = writtenBytes();
const r =
  mode === "decision"
    ? await decisionOnly(home, data, Number(from), Number(to))
    : await full(home, data, Number(from), Number(to));
const w1 = writtenBytes();
process.stdout.write(
  `${JSON.stringify({
    ...r,
    written_bytes: w0 === null || w1 === null ? null : w1 - w0,
    max_rss_bytes: peakRssBytes(),
  })}\n`,
);
