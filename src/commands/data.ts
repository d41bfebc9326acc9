import { delimiter, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { TwError } from "../errors.js";
import type { IngestRow } from "../exchange/ingest.js";
import type { WrittenSeries } from "../exchange/replay/writer.js";
import { INTERVALS, type Interval } from "../exchange/types.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

const iso = (t: number | null) => (t === null ? "-" : new Date(t).toISOString());

function table(rows: Array<IngestRow | WrittenSeries>): string {
  return rows
    .map((r) => {
      const range = r.first === null ? "-" : `${iso(r.first)} → ${iso(r.last ?? r.first)}`;
      const extra = "inserted" in r ? `${String(r.inserted).padStart(7)} new` : `  ${r.file ?? "(no data)"}`;
      return `${r.symbol.padEnd(8)} ${r.interval.padEnd(8)} ${String(r.rows).padStart(7)} rows ${extra}  ${range}`;
    })
    .join("\n");
}

/** Prints a TwError (JSON or text) and sets exit code 1: a failed fetch is never reported as success. */
function fail(e: unknown, json: boolean | undefined): void {
  if (!(e instanceof TwError)) throw e;
  if (json) printJson({ ok: false, error: e.toJSON() });
  else process.stderr.write(`tradewarden: ${e.code}: ${e.message}${e.hint ? ` (${e.hint})` : ""}\n`);
  process.exitCode = EXIT.FAIL;
}

/** A progress bar on stderr when it is a terminal; a no-op otherwise (pipes and CI stay clean). */
function progressBar(
  label: string,
  unit: string,
): { update(done: number, total: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} ${unit}`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function parseTime(v: string, flag: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : /(Z|[+-]\d\d:?\d\d)$/i.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t))
    throw new TwError("INVALID_INPUT", `${flag} must be ms UTC or ISO-8601 with a zone, got ${v}.`);
  return t;
}

interface FetchOpts {
  source: string;
  symbols?: string;
  interval: string;
  days: string;
  from?: string;
  to?: string;
  out?: string;
  funding: boolean;
  json?: boolean;
}

/**
 * `tradewarden data import <dir>`: loads a replay folder (candles + funding CSV/CSV.gz) into the
 * candle store, with a progress bar on a terminal. `tradewarden data fetch --source hyperliquid
 * --symbols BTC,ETH --interval 1m (--days 7 | --from T --to T) [--out DIR]`: fetches closed candles
 * and funding from a live source — with `--out`, into a replay folder (`replay --data DIR` and
 * `backtest --data DIR` run on it), else into the store. `--json` prints `{ ok, source, series }`.
 */
export const dataCommand: CliModule = {
  register(program: Command) {
    const data = program
      .command("data")
      .description("market data: fetch candles and funding to CSV.gz folders, import folders into the store");
    data
      .command("import <dir>")
      .description(
        "load a replay folder (e.g. data/ohlcv/binance_usdm_perp_1m_2025-05-25_2025-06-24) into the store",
      )
      .option("--as <source>", "source label stored with the rows (default replay:<absolute dir>)")
      .option("--json", "JSON output")
      .action(async (dir: string, o: { as?: string; json?: boolean }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          const [{ importReplayDir }, { replayDirsOf }] = await Promise.all([
            import("../exchange/ingest.js"),
            import("../exchange/replay/dir.js"),
          ]);
          const bar = progressBar("import", "files");
          try {
            const r = importReplayDir(
              app.candleStore,
              replayDirsOf(dir, delimiter).map((d) => resolve(d)),
              o.as,
              (done, total) => bar.update(done, total),
            );
            bar.stop();
            if (o.json) printJson({ ok: true, source: r.source, series: r.series });
            else process.stdout.write(`imported into ${r.source}\n${table(r.series)}\n`);
          } catch (e) {
            bar.stop();
            fail(e, o.json);
          }
        });
      });
    data
      .command("fetch")
      .description(
        "fetch closed candles and funding from a live source into a replay folder (--out) or the store",
      )
      .option("--source <source>", "hyperliquid | ccxt:<id>", "hyperliquid")
      .option("--symbols <list>", "comma-separated canonical symbols (default: the universe)")
      .option("--interval <interval>", `one of ${INTERVALS.join(", ")}`, "1m")
      .option("--days <n>", "days back from now (ignored with --from)", "7")
      .option("--from <time>", "first candle open time (ISO-8601 with zone or ms UTC)")
      .option("--to <time>", "last candle open time (default: now)")
      .option("--out <dir>", "write <COIN><QUOTE>_<interval>.csv.gz and _funding_*.csv.gz files to DIR")
      .option("--no-funding", "candles only")
      .option("--json", "JSON output")
      .action(async (o: FetchOpts, cmd: Command) => {
        const days = Number(o.days);
        if (
          !(INTERVALS as readonly string[]).includes(o.interval) ||
          !(days > 0) ||
          o.source.startsWith("replay")
        ) {
          process.stderr.write(
            "tradewarden: --interval must be 1m|5m|15m|1h|4h|1d, --days > 0, --source hyperliquid|ccxt:<id>\n",
          );
          process.exitCode = EXIT.CONFIG;
          return;
        }
        let from: number | undefined;
        let to: number | undefined;
        try {
          from = o.from === undefined ? undefined : parseTime(o.from, "--from");
          to = o.to === undefined ? undefined : parseTime(o.to, "--to");
        } catch (e) {
          process.stderr.write(`tradewarden: ${(e as Error).message}\n`);
          process.exitCode = EXIT.CONFIG;
          return;
        }
        await withApp(
          cmd,
          async (app) => {
            const bar = progressBar("fetch", "symbols");
            try {
              const wanted = o.symbols ? o.symbols.split(",").map((s) => s.trim()) : app.market.universe;
              const symbols: string[] = [];
              for (const s of wanted) symbols.push(await app.market.resolve(s));
              const end = to ?? app.marketClock.now();
              const start = from ?? end - days * 86_400_000;
              if (start > end) throw new TwError("INVALID_INPUT", "--from is after --to.");
              // The raw source: the service would already cache the rows and `new` would read 0.
              const source = app.market.source;
              let rows: Array<IngestRow | WrittenSeries>;
              if (o.out) {
                const { fetchToReplayDir } = await import("../exchange/replay/writer.js");
                const quotes = new Map((await app.market.instruments()).map((i) => [i.symbol, i.quote]));
                rows = await fetchToReplayDir(source, {
                  symbols,
                  interval: o.interval as Interval,
                  from: start,
                  to: end,
                  out: resolve(o.out),
                  funding: o.funding,
                  quoteOf: (s) => quotes.get(s) ?? "USD",
                  onProgress: (d, t) => bar.update(d, t),
                });
              } else {
                const { fetchToStore } = await import("../exchange/ingest.js");
                rows = await fetchToStore(source, app.candleStore, {
                  symbols,
                  interval: o.interval as Interval,
                  from: start,
                  to: end,
                  onProgress: (d, t) => bar.update(d, t),
                });
              }
              bar.stop();
              const where = o.out ? resolve(o.out) : app.market.id;
              if (o.json)
                printJson({ ok: true, source: app.market.id, out: o.out ? where : null, series: rows });
              else process.stdout.write(`fetched from ${app.market.id} into ${where}\n${table(rows)}\n`);
            } catch (e) {
              bar.stop();
              fail(e, o.json);
            }
          },
          { overrides: { marketData: o.source } },
        );
      });
  },
};
