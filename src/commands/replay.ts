import cliProgress from "cli-progress";
import type { Command } from "commander";
import { runReplay } from "../engine/replay.js";
import { TwError } from "../errors.js";
import { createLogger } from "../log.js";
import { configFrom, EXIT, printJson } from "./context.js";
import type { CliModule } from "./types.js";

function parseTime(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new TwError("INVALID_INPUT", `${flag} must be ISO-8601 or ms UTC, got ${v}`);
  return t;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * `tradewarden replay [--data DIR]... [--funding DIR]... [--from ISO] [--to ISO] [--equity N]
 * [--target-file FILE] [--decision llm|baseline|agent] [--no-decision-cache] [--decision-cache FILE]
 * [--json]`. Without `--data`: the embedded 30 days with funding (data/).
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
              decision: decision as "llm" | "baseline" | "agent" | undefined,
              decisionCache: o.decisionCache !== false,
              decisionCacheFile: typeof o.decisionCache === "string" ? o.decisionCache : undefined,
              log: createLogger(cfg.logLevel === "info" ? "warn" : cfg.logLevel),
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
            else {
              for (const [k, v] of Object.entries(s))
                process.stdout.write(`${k.padEnd(20)} ${typeof v === "object" ? JSON.stringify(v) : v}\n`);
            }
          } catch (e) {
            if (started) bar.stop();
            if (e instanceof TwError) {
              process.stderr.write(`tradewarden: ${e.code}: ${e.message}\n`);
              process.exit(EXIT.FAIL);
            }
            throw e;
          }
        },
      );
  },
};
