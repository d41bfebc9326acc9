import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadFrameFromDirs } from "../backtest/data.js";
import { runEngine } from "../backtest/engine.js";
import { ExperimentSpec, runExperiment } from "../backtest/experiment.js";
import * as ind from "../backtest/indicators.js";
import { computeMetrics } from "../backtest/metrics.js";
import { resolveStrategy } from "../backtest/strategies/index.js";
import type { Frame } from "../backtest/types.js";
import { dataDir } from "../exchange/replay/embedded.js";
import type { BenchModule } from "./index.js";

/**
 * Backtester benchmark (issues 6 and 15): on 1,000,000 bars of real BTC 1m data repeated to size (each
 * copy rescaled to continue from the previous close), reports ema_cross engine throughput against a
 * hand-written Float64Array loop doing the same work (target ratio ≤ 2×) twice: warm in this process
 * (best of 5, a full GC before each), and as the issue measures it — the CLI's own `elapsed_ms` in a
 * fresh process against one hand-loop run in a fresh process (medians of TW_BENCH_CLI_RUNS, default
 * 5; the CSV is written to a temp folder first); then 5-coin momentum_vol_target
 * throughput, indicator timings against technicalindicators, and a 1,000-variant grid's wall time
 * (target < 5 s). Data: $TW_DATA or the package's data/ folder.
 */

const BARS = 1_000_000;
const FEE = 4.5e-4;
const SLIP = 1e-4;

function dataFolder(): string {
  return process.env.TW_DATA ?? dataDir();
}

/** Repeats a frame to `n` bars: times continue at the bar interval, prices chain multiplicatively. */
function repeatTo(f: Frame, n: number): Frame {
  const len = f.time.length;
  const alloc = () => new Float64Array(n);
  const out: Frame = {
    symbols: f.symbols,
    intervalMs: f.intervalMs,
    time: alloc(),
    assets: f.assets.map(() => ({
      open: alloc(),
      high: alloc(),
      low: alloc(),
      close: alloc(),
      volume: alloc(),
    })),
    funding: null,
  };
  const scale = f.assets.map(() => 1);
  for (let i = 0; i < n; i++) {
    const k = i % len;
    if (k === 0 && i > 0) {
      for (let j = 0; j < scale.length; j++) scale[j] = out.assets[j].close[i - 1] / f.assets[j].open[0];
    }
    out.time[i] = f.time[0] + i * f.intervalMs;
    f.assets.forEach((b, j) => {
      const o = out.assets[j];
      const s = scale[j];
      o.open[i] = b.open[k] * s;
      o.high[i] = b.high[k] * s;
      o.low[i] = b.low[k] * s;
      o.close[i] = b.close[k] * s;
      o.volume[i] = b.volume[k];
    });
  }
  return out;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Best wall time (ms) of `reps` runs, and the last result. */
function best<T>(reps: number, fn: () => T): { ms: number; value: T } {
  let ms = Number.POSITIVE_INFINITY;
  let value!: T;
  for (let r = 0; r < reps; r++) {
    gc();
    const t0 = performance.now();
    value = fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, value };
}

/**
 * The baseline: EMA(fast), EMA(slow) (SMA-seeded), long while fast > slow, executed at the next open
 * with slippage, all-in sizing and fees, equity marked at every close — in plain typed-array loops.
 * Also run cold in its own process by src/bench/backtestChild.ts.
 * @returns the final equity (to check it agrees with the engine).
 */
export function handWritten(open: Float64Array, close: Float64Array, fast: number, slow: number): number {
  const n = close.length;
  const emaOf = (p: number) => {
    const e = new Float64Array(n).fill(Number.NaN);
    let s = 0;
    for (let i = 0; i < p; i++) s += close[i];
    let v = s / p;
    e[p - 1] = v;
    const a = 2 / (p + 1);
    for (let i = p; i < n; i++) {
      v += a * (close[i] - v);
      e[i] = v;
    }
    return e;
  };
  const f = emaOf(fast);
  const s = emaOf(slow);
  const equity = new Float64Array(n);
  let cash = 100_000;
  let q = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const want = i > 0 && f[i - 1] > s[i - 1] ? 1 : 0;
    if (want !== prev) {
      if (want === 1) {
        const px = open[i] * (1 + SLIP);
        q = cash / (px * (1 + FEE));
        cash -= q * px + q * px * FEE;
      } else {
        const px = open[i] * (1 - SLIP);
        cash += q * px - q * px * FEE;
        q = 0;
      }
      prev = want;
    }
    equity[i] = cash + q * close[i];
  }
  return equity[n - 1];
}

const HERE = dirname(fileURLToPath(import.meta.url));
const execFileP = promisify(execFile);

/** Writes one symbol of a frame as `<COIN>USDT_1m.csv` (the replay layout) in a new temp folder. */
function writeCsv(f: Frame): string {
  const dir = mkdtempSync(join(tmpdir(), "tw-bench-bt-"));
  const b = f.assets[0];
  const parts = ["open_time_ms,open,high,low,close,volume\n"];
  for (let from = 0; from < f.time.length; from += 100_000) {
    const rows: string[] = [];
    for (let i = from; i < Math.min(f.time.length, from + 100_000); i++) {
      rows.push(`${f.time[i]},${b.open[i]},${b.high[i]},${b.low[i]},${b.close[i]},${b.volume[i]}\n`);
    }
    parts.push(rows.join(""));
  }
  writeFileSync(join(dir, `${f.symbols[0]}USDT_1m.csv`), parts.join(""));
  return dir;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The issue's measure: `tradewarden backtest --json` on the 1 M bars, its own `elapsed_ms` (strategy
 * signals + simulation + metrics, after loading), against the hand loop timed the same way — one run
 * in a fresh process after the same loader (backtestChild.ts). Runs alternate; medians of `runs` each.
 */
async function cliVsHand(
  f: Frame,
  runs: number,
): Promise<{ cli: number[]; hand: number[]; cliEquity: number; handEquity: number }> {
  const dir = writeCsv(f);
  const home = mkdtempSync(join(tmpdir(), "tw-bench-home-"));
  const env = { ...process.env, TW_HOME: home, TW_LOG_LEVEL: "silent" };
  const cli: number[] = [];
  const hand: number[] = [];
  let cliEquity = Number.NaN;
  let handEquity = Number.NaN;
  try {
    for (let r = 0; r < runs; r++) {
      const c = await execFileP(
        process.execPath,
        [
          join(HERE, "..", "cli.js"),
          "backtest",
          "--strategy",
          "ema_cross",
          "--params",
          '{"fast":12,"slow":26}',
          "--data",
          dir,
          "--symbols",
          f.symbols[0],
          "--no-funding",
          "--json",
        ],
        { env, maxBuffer: 1 << 24 },
      );
      const doc = JSON.parse(c.stdout) as { elapsed_ms: number; final_equity: number };
      cli.push(doc.elapsed_ms);
      cliEquity = doc.final_equity;
      const h = await execFileP(process.execPath, [join(HERE, "backtestChild.js"), dir], { env });
      const res = JSON.parse(h.stdout) as { elapsed_ms: number; final_equity: number };
      hand.push(res.elapsed_ms);
      handEquity = res.final_equity;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
  return { cli, hand, cliEquity, handEquity };
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const line = (s: string) => process.stdout.write(`${s}\n`);

/** The backtest benchmark module. */
export const backtestBench: BenchModule = {
  name: "backtest",
  async run() {
    const dir = join(dataFolder(), "ohlcv", "binance_usdm_perp_1m_2025-05-25_2025-06-24");
    const btc30 = loadFrameFromDirs(dir, { symbols: ["BTC"], interval: "1m", funding: false });
    const btc = repeatTo(btc30, BARS);
    const five = repeatTo(
      loadFrameFromDirs(dir, {
        symbols: ["BTC", "ETH", "SOL", "ADA", "DOGE"],
        interval: "1m",
        funding: false,
      }),
      BARS,
    );
    line(
      `data: ${fmt(BARS)} bars (BTC 1m, ${fmt(btc30.time.length)} real bars repeated), ${cpus().length} CPUs, node ${process.version}`,
    );

    const opts = { feeRate: FEE, slippage: SLIP, initialEquity: 100_000, leverage: 1 };
    const ema = resolveStrategy("ema_cross", { fast: 12, slow: 26 });
    const engine = best(5, () => {
      const sig = ema.def.signals(btc, ema.params, new Map());
      const r = runEngine(btc, sig, opts);
      return computeMetrics(r, btc.time, btc.intervalMs, 100_000).final_equity;
    });
    const hand = best(5, () => handWritten(btc.assets[0].open, btc.assets[0].close, 12, 26));
    const ratio = engine.ms / hand.ms;
    line(
      `ema_cross(12,26) engine: ${engine.ms.toFixed(1)} ms = ${fmt(BARS / (engine.ms / 1000))} bars/s (signals + engine + metrics)`,
    );
    line(`hand-written loop:       ${hand.ms.toFixed(1)} ms = ${fmt(BARS / (hand.ms / 1000))} bars/s`);
    line(
      `ratio engine / hand-written: ${ratio.toFixed(2)}× (target ≤ 2×); final equity ${engine.value.toFixed(6)} vs ${hand.value.toFixed(6)}`,
    );

    const cliRuns = Number(process.env.TW_BENCH_CLI_RUNS ?? 5);
    const cold = await cliVsHand(btc, cliRuns);
    const cliMs = median(cold.cli);
    const coldHandMs = median(cold.hand);
    const cliRatio = cliMs / coldHandMs;
    line(
      `CLI \`backtest --json\` elapsed_ms, median of ${cliRuns} fresh processes: ${cliMs.toFixed(1)} ms = ${fmt(BARS / (cliMs / 1000))} bars/s ` +
        `(runs ${cold.cli.map((x) => x.toFixed(0)).join(", ")})`,
    );
    line(
      `hand-written loop, one run per fresh process after the same loader: ${coldHandMs.toFixed(1)} ms ` +
        `(runs ${cold.hand.map((x) => x.toFixed(0)).join(", ")})`,
    );
    line(
      `ratio CLI / hand-written (both cold): ${cliRatio.toFixed(2)}× (target ≤ 2×); final equity ${cold.cliEquity} vs ${cold.handEquity}` +
        (cold.cliEquity === cold.handEquity ? " (identical)" : " (DIFFERENT)"),
    );

    const mom = resolveStrategy("momentum_vol_target", {});
    const momRun = best(
      3,
      () => runEngine(five, mom.def.signals(five, mom.params, new Map()), opts).trades.length,
    );
    line(
      `momentum_vol_target 5 coins: ${momRun.ms.toFixed(1)} ms = ${fmt(BARS / (momRun.ms / 1000))} bars/s (${fmt((5 * BARS) / (momRun.ms / 1000))} symbol-bars/s), ${momRun.value} round trips`,
    );

    const c = btc.assets[0];
    const indicators: Record<string, { ours_ms: number; reference_ms: number | null }> = {};
    let ti: Record<string, { calculate(input: unknown): unknown }> | null = null;
    try {
      ti = (await import("technicalindicators")) as unknown as Record<
        string,
        { calculate(input: unknown): unknown }
      >;
    } catch {
      line("technicalindicators not installed (dev dependency): reference timings skipped");
    }
    const close = Array.from(c.close);
    const high = Array.from(c.high);
    const low = Array.from(c.low);
    const cases: Array<[string, () => unknown, string, unknown]> = [
      ["sma(20)", () => ind.sma(c.close, 20), "SMA", { period: 20, values: close }],
      ["ema(26)", () => ind.ema(c.close, 26), "EMA", { period: 26, values: close }],
      ["rsi(14)", () => ind.rsi(c.close, 14), "RSI", { period: 14, values: close }],
      ["atr(14)", () => ind.atr(c.high, c.low, c.close, 14), "ATR", { period: 14, high, low, close }],
      [
        "macd(12,26,9)",
        () => ind.macd(c.close),
        "MACD",
        {
          values: close,
          fastPeriod: 12,
          slowPeriod: 26,
          signalPeriod: 9,
          SimpleMAOscillator: false,
          SimpleMASignal: false,
        },
      ],
      [
        "bollinger(20,2)",
        () => ind.bollinger(c.close, 20, 2),
        "BollingerBands",
        { period: 20, stdDev: 2, values: close },
      ],
      ["adx(14)", () => ind.adx(c.high, c.low, c.close, 14), "ADX", { period: 14, high, low, close }],
      ["donchian(20)", () => ind.donchian(c.high, c.low, 20), "Highest", { period: 20, values: high }],
      ["realized_vol(60)", () => ind.realizedVol(c.close, 60), "", null],
      ["zscore(20)", () => ind.zscore(c.close, 20), "", null],
    ];
    for (const [name, ours, refName, refInput] of cases) {
      const o = best(3, ours).ms;
      const r = ti && refName ? best(1, () => ti[refName].calculate(refInput)).ms : null;
      indicators[name] = {
        ours_ms: Math.round(o * 10) / 10,
        reference_ms: r === null ? null : Math.round(r * 10) / 10,
      };
      line(
        `  ${name.padEnd(18)} ours ${o.toFixed(1).padStart(7)} ms   technicalindicators ${r === null ? "     n/a" : `${r.toFixed(1).padStart(7)} ms (${(r / o).toFixed(0)}× slower)`}`,
      );
    }

    const fastValues = Array.from({ length: 40 }, (_, k) => k + 2);
    const slowValues = Array.from({ length: 25 }, (_, k) => 45 + k * 10);
    const grid = ExperimentSpec.parse({
      strategy: "ema_cross",
      grid: { fast: fastValues, slow: slowValues },
      data: { source: `replay:${dir}`, symbols: ["BTC"], interval: "1m" },
      max_variants: 1000,
    });
    gc();
    const t0 = performance.now();
    const exp = await runExperiment(btc30, grid);
    const gridMs = performance.now() - t0;
    line(
      `1,000-variant ema_cross grid on ${fmt(btc30.time.length)} bars (train/test 70/30, single thread): ${(gridMs / 1000).toFixed(2)} s (target < 5 s); ` +
        `winner ${JSON.stringify(exp.winner?.params)} gate ${exp.gate.decision}`,
    );

    return {
      bars: BARS,
      ema_cross_engine_bars_per_s: Math.round(BARS / (engine.ms / 1000)),
      hand_written_bars_per_s: Math.round(BARS / (hand.ms / 1000)),
      engine_over_hand_written: Math.round(ratio * 100) / 100,
      final_equity_engine: engine.value,
      final_equity_hand_written: hand.value,
      cli_elapsed_ms_median: cliMs,
      cli_hand_written_cold_ms_median: coldHandMs,
      cli_over_hand_written: Math.round(cliRatio * 100) / 100,
      cli_runs: cliRuns,
      momentum_vol_target_5_coins_bars_per_s: Math.round(BARS / (momRun.ms / 1000)),
      indicators_ms: indicators,
      grid_1000_variants_s: Math.round(gridMs) / 1000,
      grid_bars: btc30.time.length,
    };
  },
};
