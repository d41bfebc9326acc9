import { delimiter, resolve } from "node:path";
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { loadFrameFromDirs } from "../backtest/data.js";
import { BacktestSpec, runBacktest } from "../backtest/run.js";
import { researchSettings } from "../backtest/service.js";
import { resolveStrategy } from "../backtest/strategies/index.js";
import { backtestDiagnostics } from "../backtest/warnings.js";
import { TwError } from "../errors.js";
import { embeddedReplayDirs } from "../exchange/replay/embedded.js";
import { INTERVALS } from "../exchange/types.js";
import { configFrom, EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

/**
 * `tradewarden backtest`: runs one backtest on CSV/CSV.gz folders (the data/ layout) without
 * a server; without `--data`, on the embedded 30 days with funding. Funding files are found in the
 * `--data` and `--funding` folders. `--json` prints one JSON object on stdout: the metrics
 * (snake_case) plus bars, elapsed_ms, bars_per_second, the range, `funding_coverage`, `warnings` and
 * the full spec. `--save` also stores it (and its evidence card) in the database like backtest_run
 * does. Errors go to stderr; exit 2 for bad input, 1 for failures.
 */

interface Opts {
  strategy: string;
  params: string;
  data?: string[];
  /** Folders from `--funding DIR`; false with `--no-funding` (commander shares the key). */
  funding?: string[] | false;
  symbols: string;
  interval: string;
  from?: string;
  to?: string;
  feeBps: string;
  slippageBps: string;
  equity: string;
  leverage: string;
  save?: boolean;
  json?: boolean;
}

function parseTime(v: string | undefined, flag: string): number | null {
  if (v === undefined) return null;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms))
    throw new TwError("INVALID_INPUT", `${flag} ${v} is neither ms UTC nor an ISO-8601 date.`);
  return ms;
}

function parseParams(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return v;
  } catch {
    // reported below
  }
  throw new TwError("INVALID_INPUT", `--params must be a JSON object, got ${s}.`, {
    hint: `e.g. --params '{"fast":12,"slow":26}'`,
  });
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Candle and funding folders: `--data` (each may hold several, `:`-separated) then `--funding`. */
function folders(o: Opts): string[] {
  const data = o.data?.length ? o.data.flatMap((d) => d.split(delimiter)) : embeddedReplayDirs();
  return [...data, ...(o.funding || [])].filter((d) => d !== "").map((d) => resolve(d));
}

async function run(o: Opts, cmd: Command): Promise<void> {
  const dirs = [...new Set(folders(o))];
  const settings = researchSettings(configFrom(cmd));
  const spec = BacktestSpec.parse({
    strategy: o.strategy,
    params: parseParams(o.params),
    data: {
      source: `replay:${dirs.join(delimiter)}`,
      symbols: o.symbols.split(",").map((s) => s.trim().toUpperCase()),
      interval: o.interval,
      from: parseTime(o.from, "--from"),
      to: parseTime(o.to, "--to"),
      funding: o.funding !== false,
    },
    fee_bps: Number(o.feeBps),
    slippage_bps: Number(o.slippageBps),
    initial_equity: Number(o.equity),
    leverage: Number(o.leverage),
  });
  spec.params = resolveStrategy(spec.strategy, spec.params).params;
  const t0 = performance.now();
  const frame = loadFrameFromDirs(dirs, {
    symbols: spec.data.symbols,
    interval: spec.data.interval,
    from: spec.data.from ?? undefined,
    to: spec.data.to ?? undefined,
    funding: spec.data.funding,
  });
  const loadMs = performance.now() - t0;
  const bar =
    !o.json && process.stderr.isTTY
      ? new SingleBar({
          stream: process.stderr,
          format: "backtest [{bar}] {percentage}% {value}/{total} bars",
        })
      : null;
  bar?.start(frame.time.length, 0);
  const progress = (done: number) => bar?.update(done);
  let id: string | null = null;
  let out: Awaited<ReturnType<typeof runBacktest>>;
  if (o.save) {
    const stored = await withApp(cmd, (app) =>
      app.research.backtest(
        spec,
        { caller: `cli:${process.env.USER ?? "user"}`, progress, remedy: "cli" },
        frame,
      ),
    );
    id = stored.record.id;
    out = {
      metrics: stored.record.metrics,
      trades: [],
      samples: stored.record.samples,
      first_bar: stored.record.first_bar,
      last_bar: stored.record.last_bar,
      elapsed_ms: stored.record.elapsed_ms,
      bars_per_second: stored.bars_per_second,
    };
  } else out = await runBacktest(frame, spec, { progress });
  bar?.stop();
  const diag = backtestDiagnostics(frame, out.metrics, spec.data.funding, settings.limits, "cli");
  const doc = {
    ...out.metrics,
    elapsed_ms: out.elapsed_ms,
    bars_per_second: out.bars_per_second,
    load_ms: Math.round(loadMs),
    first_bar: out.first_bar,
    last_bar: out.last_bar,
    funding_coverage: diag.funding_coverage,
    warnings: diag.warnings,
    id,
    spec,
  };
  if (o.json) {
    printJson(doc);
    return;
  }
  const m = out.metrics;
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`);
  const f2 = (x: number | null) => (x === null ? "n/a" : x.toFixed(2));
  const cover = Object.entries(diag.funding_coverage)
    .map(([s, c]) => `${s} ${pct(c)}`)
    .join(", ");
  process.stdout.write(
    `${spec.strategy} ${JSON.stringify(spec.params)} on ${spec.data.symbols.join(",")} ${spec.data.interval}, ` +
      `${new Date(out.first_bar).toISOString()} → ${new Date(out.last_bar).toISOString()}\n` +
      `  total return ${pct(m.total_return)}  CAGR ${pct(m.cagr)}  max drawdown ${pct(m.max_drawdown)}\n` +
      `  Sharpe ${f2(m.sharpe)}  Sortino ${f2(m.sortino)}  trades ${m.trades}  win rate ${pct(m.win_rate)}  profit factor ${f2(m.profit_factor)}\n` +
      `  exposure ${pct(m.exposure)}  turnover ${f2(m.turnover)}  fees ${m.fees_paid.toFixed(2)}  funding ${m.funding_paid.toFixed(2)}\n` +
      `  funding coverage ${cover}\n` +
      `  ${m.bars} bars in ${out.elapsed_ms.toFixed(1)} ms (${out.bars_per_second.toLocaleString("en-US")} bars/s)${id ? `, saved as ${id}` : ""}\n` +
      diag.warnings.map((w) => `  warning: ${w}\n`).join(""),
  );
}

/** The `backtest` command. */
export const backtestCommand: CliModule = {
  register(program: Command) {
    program
      .command("backtest")
      .description(
        "backtest a strategy on CSV/CSV.gz candle folders, by default the embedded data (conventions: docs/backtesting.md)",
      )
      .requiredOption(
        "--strategy <name>",
        "strategy name (buy_and_hold, ema_cross, rsi_reversion, donchian_breakout, momentum_vol_target, rules)",
      )
      .option("--params <json>", "strategy params as a JSON object", "{}")
      .option(
        "--data <dir>",
        `folder of <COIN>USDT_<interval>.csv[.gz] candles (and <COIN>USDT_funding*.csv[.gz]); repeatable or ` +
          `"${delimiter}"-separated; default: the embedded 30 days with funding`,
        collect,
      )
      .option("--funding <dir>", "folder of <COIN><QUOTE>_funding*.csv[.gz] files; repeatable", collect)
      .requiredOption("--symbols <list>", "comma-separated base coins, e.g. BTC,ETH")
      .option("--interval <iv>", `bar interval (${INTERVALS.join(", ")})`, "1m")
      .option("--from <time>", "first bar open time (ISO-8601 or ms UTC)")
      .option("--to <time>", "last bar open time (ISO-8601 or ms UTC)")
      .option("--fee-bps <n>", "taker fee in bps", "4.5")
      .option("--slippage-bps <n>", "slippage in bps", "1")
      .option("--equity <n>", "initial equity (quote)", "100000")
      .option("--leverage <n>", "leverage applied to target weights", "1")
      .option("--no-funding", "ignore funding files (results then carry a warning per symbol)")
      .option("--save", "store the run (and its evidence card) in the database")
      .option("--json", "print one JSON object (snake_case) on stdout")
      .action(async (o: Opts, cmd: Command) => {
        try {
          await run(o, cmd);
        } catch (e) {
          const tw = e instanceof TwError ? e : null;
          const zod = (e as { name?: string }).name === "ZodError";
          const msg = tw
            ? `${tw.message}${tw.hint ? ` ${tw.hint}` : ""}`
            : zod
              ? `invalid options: ${(e as Error).message}`
              : (e as Error).message;
          process.stderr.write(`tradewarden backtest: ${msg}\n`);
          process.exitCode =
            tw?.code === "INVALID_INPUT" || tw?.code === "NOT_FOUND" || zod ? EXIT.CONFIG : EXIT.FAIL;
        }
      });
  },
};
