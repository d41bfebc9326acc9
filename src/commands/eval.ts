import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { renderTable, runEvals, ScenarioError } from "../evals/index.js";
import { TRANSPORTS, type TransportName } from "../evals/schema.js";
import { EXIT } from "./context.js";
import type { CliModule } from "./types.js";

/**
 * `tradewarden eval [--filter PATTERN] [--report FILE] [--transport memory|stdio|http] [--dir DIR]`:
 * runs the scenario files through a real MCP client and prints a table (scenario, steps, result,
 * time). Exit 0 when every applicable scenario passed, 1 on any failure, 2 on an invalid scenario
 * file or option. Progress goes to stderr; the table to stdout.
 */
export const evalCommand: CliModule = {
  register(program: Command) {
    program
      .command("eval")
      .description("run the deterministic eval scenarios (evals/scenarios/*.yaml) through an MCP client")
      .option(
        "--filter <pattern>",
        "only scenarios whose name or file contains PATTERN (or matches a * glob)",
      )
      .option("--report <file>", "write the JSON report to FILE")
      .option("--transport <name>", `how to reach the server: ${TRANSPORTS.join(" | ")}`, "memory")
      .option("--dir <dir>", "scenario folder (default: the shipped evals/scenarios)")
      .action(async (o: { filter?: string; report?: string; transport: string; dir?: string }) => {
        if (!(TRANSPORTS as readonly string[]).includes(o.transport)) {
          process.stderr.write(`tradewarden: --transport must be one of ${TRANSPORTS.join(", ")}\n`);
          process.exit(EXIT.CONFIG);
        }
        let report: Awaited<ReturnType<typeof runEvals>>;
        try {
          report = await runEvals({
            dir: o.dir ? resolve(o.dir) : undefined,
            filter: o.filter,
            transport: o.transport as TransportName,
            onResult: (r, i, n) => {
              process.stderr.write(`[${i + 1}/${n}] ${r.result.toUpperCase().padEnd(4)} ${r.name}\n`);
            },
          });
        } catch (e) {
          if (e instanceof ScenarioError) {
            process.stderr.write(`tradewarden: ${e.message}\n`);
            process.exit(EXIT.CONFIG);
          }
          throw e;
        }
        process.stdout.write(renderTable(report));
        if (o.report) writeFileSync(resolve(o.report), `${JSON.stringify(report, null, 2)}\n`);
        if (report.summary.failed > 0) process.exitCode = EXIT.FAIL;
      });
  },
};
