import { delimiter, resolve } from "node:path";
import type { Command } from "commander";
import { TwError } from "../errors.js";
import { fetchToStore, importReplayDir, type IngestRow } from "../exchange/ingest.js";
import { replayDirsOf } from "../exchange/replay/dir.js";
import { INTERVALS, type Interval } from "../exchange/types.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

function table(rows: IngestRow[]): string {
  return rows
    .map((r) => {
      const range =
        r.first === null
          ? "-"
          : `${new Date(r.first).toISOString()} → ${new Date(r.last ?? r.first).toISOString()}`;
      return `${r.symbol.padEnd(8)} ${r.interval.padEnd(8)} ${String(r.rows).padStart(7)} rows ${String(r.inserted).padStart(7)} new  ${range}`;
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

/**
 * `tradewarden data import <dir>`: loads a replay folder (candles + funding CSV/CSV.gz) into the
 * candle store. `tradewarden data fetch --source hyperliquid --symbols BTC,ETH --interval 1m --days 7`:
 * fetches closed candles from a live source into the store. `--json` prints `{ ok, source, series }`.
 */
export const dataCommand: CliModule = {
  register(program: Command) {
    const data = program.command("data").description("market data: import replay files, fetch live candles");
    data
      .command("import <dir>")
      .description(
        "load a replay folder (e.g. data/ohlcv/binance_usdm_perp_1m_2025-05-25_2025-06-24) into the store",
      )
      .option("--as <source>", "source label stored with the rows (default replay:<absolute dir>)")
      .option("--json", "JSON output")
      .action(async (dir: string, o: { as?: string; json?: boolean }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          try {
            const r = importReplayDir(
              app.candleStore,
              replayDirsOf(dir, delimiter).map((d) => resolve(d)),
              o.as,
            );
            if (o.json) printJson({ ok: true, source: r.source, series: r.series });
            else process.stdout.write(`imported into ${r.source}\n${table(r.series)}\n`);
          } catch (e) {
            fail(e, o.json);
          }
        });
      });
    data
      .command("fetch")
      .description("fetch closed candles from a live source into the store")
      .option("--source <source>", "hyperliquid | ccxt:<id>", "hyperliquid")
      .option("--symbols <list>", "comma-separated canonical symbols (default: the universe)")
      .option("--interval <interval>", `one of ${INTERVALS.join(", ")}`, "1m")
      .option("--days <n>", "days back from now", "7")
      .option("--json", "JSON output")
      .action(
        async (
          o: { source: string; symbols?: string; interval: string; days: string; json?: boolean },
          cmd: Command,
        ) => {
          const days = Number(o.days);
          if (
            !(INTERVALS as readonly string[]).includes(o.interval) ||
            !(days > 0) ||
            o.source.startsWith("replay:")
          ) {
            process.stderr.write(
              "tradewarden: --interval must be 1m|5m|15m|1h|4h|1d, --days > 0, --source hyperliquid|ccxt:<id>\n",
            );
            process.exitCode = EXIT.CONFIG;
            return;
          }
          await withApp(
            cmd,
            async (app) => {
              try {
                const wanted = o.symbols ? o.symbols.split(",").map((s) => s.trim()) : app.market.universe;
                const symbols: string[] = [];
                for (const s of wanted) symbols.push(await app.market.resolve(s));
                // The raw source: the service would already cache the rows and `new` would read 0.
                const rows = await fetchToStore(app.market.source, app.candleStore, {
                  symbols,
                  interval: o.interval as Interval,
                  days,
                  now: app.marketClock.now(),
                  onProgress: (d, t) => process.stderr.write(`fetched ${d}/${t}\n`),
                });
                if (o.json) printJson({ ok: true, source: app.market.id, series: rows });
                else process.stdout.write(`fetched into ${app.market.id}\n${table(rows)}\n`);
              } catch (e) {
                fail(e, o.json);
              }
            },
            { overrides: { marketData: o.source } },
          );
        },
      );
  },
};
