import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { ReplaySummary } from "../engine/replay.js";
import { TwError } from "../errors.js";
import { commandLogLevel, configFrom, EXIT, printJson } from "./context.js";
import type { CliModule } from "./types.js";

function parseTime(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new TwError("INVALID_INPUT", `${flag} must be ISO-8601 or ms UTC, got ${v}`);
  return t;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

const iso = (t: number) => new Date(t).toISOString().replace(":00.000Z", "Z");
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const money = (x: number) =>
  x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * The human summary of a replay (what `replay` prints without `--json`): window, equity and return,
 * risk figures, costs, the control-mode timeline and every warning. Times ISO-8601 UTC, ratios as
 * percentages, money rounded to cents in the quote currency.
 */
export function formatReplaySummary(s: ReplaySummary): string {
  const lines = [
    `replay ${iso(s.from)} → ${iso(s.to)}: ${s.cycles} cycles (${Math.round(s.cycles_per_second)}/s)`,
    `  equity     ${money(s.start_equity)} → ${money(s.end_equity)} (${s.total_return >= 0 ? "+" : ""}${pct(s.total_return)}), max drawdown ${pct(s.max_drawdown)}`,
    `  orders     ${s.orders} (${s.fills} fills, ${s.rejected} rejected, ${s.refused} refused by the gate)`,
    `  costs      fees ${money(s.fees)}, funding ${money(s.funding)} (positive = received)`,
    `  exposure   max gross ${pct(s.max_gross)}, max |net| ${pct(s.max_net)}, max turnover ${pct(s.max_turnover)} per cycle`,
    `  targets    ${s.baseline_cycles} of ${s.cycles} cycles on the baseline target, ${s.clips} risk clips`,
    `  decisions  ${Object.entries(s.decisions)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")} (model calls ${s.decision_calls}, cached ${s.decision_cache_hits})`,
  ];
  if (s.mode_timeline.length === 0) lines.push("  modes      NORMAL throughout");
  else {
    lines.push("  modes      NORMAL at start");
    for (const m of s.mode_timeline) lines.push(`             ${iso(m.time)} → ${m.to}: ${m.reason}`);
  }
  lines.push(`  database   ${s.db}`);
  if (s.warnings.length > 0) {
    lines.push("warnings:");
    for (const w of s.warnings) lines.push(`  - ${w}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `tradewarden replay [--data DIR]... [--funding DIR]... [--from ISO] [--to ISO] [--equity N]
 * [--target-file FILE] [--decision llm|baseline|agent] [--no-decision-cache] [--decision-cache FILE]
 * [--db PATH] [--ledger FILE] [--json]`. Without `--data`: the embedded 30 days with funding (data/).
 * Writes its own database (default `$TW_HOME/replays/<run-id>.db`), never the server's. `--ledger`
 * writes the paper cash ledger as CSV after the run.
 */
export const replayCommand: CliModule = {
  register(program: Command) {
    program
      .command("replay")
      .description("run the minute cycle on the paper venue over replay data, as fast as possible")
      .option(
        "--data <dir>",
        "replay folder of CSV/CSV.gz candles (+ funding); repeatable; default: the embedded 30 days with funding",
        collect,
      )
      .option("--funding <dir>", "folder of <COIN><QUOTE>_funding*.csv[.gz] files; repeatable", collect)
      .option("--from <time>", "first cycle (ISO-8601 or ms UTC)")
      .option("--to <time>", "last cycle (ISO-8601 or ms UTC)")
      .option("--equity <quote>", "starting paper equity", (v) => Number(v))
      .option(
        "--target-file <file>",
        "JSONL of agent targets (one per line, with `time`); implies --decision agent",
      )
      .option(
        "--decision <source>",
        "who decides each cycle: llm (TW_LLM_URL, TW_LLM_MODEL, TW_LLM_API_KEY) | baseline | agent (default: cycle.decision)",
      )
      .option("--no-decision-cache", "ask the model for every prompt, replacing cached answers")
      .option(
        "--decision-cache <file>",
        "database whose cached model answers to use and extend (an earlier run's tradewarden.db); default: this run's",
      )
      .option(
        "--db <path>",
        "the run's database (default $TW_HOME/replays/<run-id>.db); an existing one resumes its run",
      )
      .option("--ledger <file>", "write the paper cash ledger as CSV (time,kind,symbol,amount,balance)")
      .option("--json", "print the summary as one JSON object on stdout")
      .action(
        async (
          o: {
            data?: string[];
            funding?: string[];
            from?: string;
            to?: string;
            equity?: number;
            targetFile?: string;
            db?: string;
            ledger?: string;
            decision?: string;
            decisionCache?: boolean | string;
            json?: boolean;
          },
          cmd: Command,
        ) => {
          const cfg = configFrom(cmd);
          const decision = o.decision ?? (o.targetFile ? "agent" : undefined);
          if (decision !== undefined && !["llm", "baseline", "agent"].includes(decision)) {
            process.stderr.write(
              `tradewarden: --decision must be llm, baseline or agent (sampling needs a connected client), got ${decision}\n`,
            );
            process.exit(EXIT.CONFIG);
          }
          if (o.equity !== undefined && !(o.equity > 0)) {
            process.stderr.write("tradewarden: --equity must be a positive number\n");
            process.exit(EXIT.CONFIG);
          }
          const [{ runReplay }, { createLogger }] = await Promise.all([
            import("../engine/replay.js"),
            import("../log.js"),
          ]);
          const bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: "replay [{bar}] {percentage}% | {value}/{total} cycles | eta {eta}s",
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          let started = false;
          try {
            const s = await runReplay(cfg, {
              dataDirs: o.data,
              fundingDirs: o.funding,
              from: parseTime(o.from, "--from"),
              to: parseTime(o.to, "--to"),
              equity: o.equity,
              targetFile: o.targetFile,
              db: o.db,
              ledgerFile: o.ledger,
              decision: decision as "llm" | "baseline" | "agent" | undefined,
              decisionCache: o.decisionCache !== false,
              decisionCacheFile: typeof o.decisionCache === "string" ? o.decisionCache : undefined,
              log: createLogger(commandLogLevel(cfg.logLevel)),
              onStart: (run) => {
                if (process.stderr.isTTY)
                  process.stderr.write(`replay ${run.run_id}: resume with --db ${run.db}\n`);
              },
              onProgress: (done, total) => {
                if (!started) {
                  bar.start(total, 0);
                  started = true;
                }
                if (done % 50 === 0 || done === total) bar.update(done);
              },
            });
            if (started) bar.stop();
            if (o.json) printJson(s);
            else process.stdout.write(formatReplaySummary(s));
          } catch (e) {
            if (started) bar.stop();
            if (e instanceof TwError) {
              process.stderr.write(`tradewarden: ${e.code}: ${e.message}${e.hint ? ` ${e.hint}` : ""}\n`);
              process.exit(EXIT.FAIL);
            }
            throw e;
          }
        },
      );
  },
};
