import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../app.js";
import { SimClock } from "../clock.js";
import { loadConfig } from "../config.js";
import { baselineTarget } from "../engine/baseline.js";
import { planExecution } from "../engine/planner.js";
import { runReplay } from "../engine/replay.js";
import { clipTarget } from "../engine/riskClip.js";
import type { Weights } from "../engine/types.js";
import { evalDataDir } from "../evals/paths.js";
import type { ReplaySource } from "../exchange/replay/source.js";
import { createLogger } from "../log.js";
import type { BenchModule } from "./index.js";

/**
 * Replay throughput (issue 5): the full minute cycle — features, target, risk clip, plan, orders
 * through the policy gate with audit, paper fills, reconciliation, all persisted in SQLite — over the
 * real 30-day, 5-coin 1m data set, against a baseline measured in the same run: the same ticks with
 * only the pure decision stages (features → baseline target → clip → plan), no gate, venue or
 * storage. The ratio is the cost of governance and persistence per cycle. Target: ≥ 5,000 cycles/s.
 */

const DATA = () => join(evalDataDir(), "ohlcv", "binance_usdm_perp_1m_2025-05-25_2025-06-24");

function config(home: string) {
  return loadConfig({
    env: { TW_HOME: home, TW_LOG_LEVEL: "silent", TW_MARKET_DATA: `replay:${DATA()}` },
    cwd: home,
  });
}

async function decisionOnly(home: string): Promise<{ cycles: number; seconds: number }> {
  const clock = new SimClock(0);
  const app = await createApp(config(home), { clock, log: createLogger("silent") });
  try {
    const range = (app.market.source as ReplaySource).commonRange()!;
    const step = 60_000;
    const from = Math.ceil((range.start + 62 * step) / step) * step;
    const to = Math.floor(range.end / step) * step;
    let prev: Weights = {};
    let cycles = 0;
    const t0 = performance.now();
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
    }
    return { cycles, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await app.close();
  }
}

export const replayBench: BenchModule = {
  name: "replay",
  async run() {
    const homeA = mkdtempSync(join(tmpdir(), "tw-bench-"));
    const homeB = mkdtempSync(join(tmpdir(), "tw-bench-"));
    try {
      const base = await decisionOnly(homeA);
      const baseRate = base.cycles / base.seconds;
      process.stdout.write(
        `decision stages only (baseline): ${base.cycles} cycles in ${base.seconds.toFixed(2)} s = ${baseRate.toFixed(0)} cycles/s\n`,
      );
      const s = await runReplay(config(homeB), { dataDirs: [DATA()], log: createLogger("silent") });
      process.stdout.write(
        `full replay (gate, audit, paper venue, reconcile, SQLite): ${s.cycles} cycles, ${s.orders} orders = ${s.cycles_per_second.toFixed(0)} cycles/s\n` +
          `ratio baseline / full: ${(baseRate / s.cycles_per_second).toFixed(1)}× (target ≥ 5,000 cycles/s: ${s.cycles_per_second >= 5000 ? "met" : "not met"})\n`,
      );
      return {
        data: "binance_usdm_perp_1m_2025-05-25_2025-06-24 (5 coins, 30 days of 1m bars)",
        cycles: s.cycles,
        orders: s.orders,
        baseline_cycles_per_second: baseRate,
        replay_cycles_per_second: s.cycles_per_second,
        ratio: baseRate / s.cycles_per_second,
      };
    } finally {
      rmSync(homeA, { recursive: true, force: true });
      rmSync(homeB, { recursive: true, force: true });
    }
  },
};
