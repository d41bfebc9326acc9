import { userInfo } from "node:os";
import type { Command } from "commander";
import { callerFor } from "../policy/scopes.js";
import { getControl } from "../store/control.js";
import { callTool } from "../tools/registry.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

const TOOLS = {
  halt: "control_halt",
  "reduce-only": "control_reduce_only",
  resume: "control_resume",
} as const;

/**
 * `tradewarden control halt|reduce-only|resume --reason R [--json]` and `tradewarden control status`:
 * the operator's kill switch. Changes run through the policy gate as `cli:<os user>` (operator
 * profile) and are audited. Exit 0 on success, 1 when refused, 2 on a bad mode.
 */
export const controlCommand: CliModule = {
  register(program: Command) {
    program
      .command("control <mode>")
      .description("halt | reduce-only | resume trading, or show the status")
      .option("--reason <text>", "why (required to change the mode; recorded)")
      .option("--json", "print the result as JSON")
      .action(async (mode: string, o: { reason?: string; json?: boolean }, cmd: Command) => {
        if (mode === "status") {
          await withApp(cmd, async (app) => {
            const c = getControl(app.db);
            // A home whose mode was never changed has no row: NORMAL by default, with no time.
            const since = c.since > 0 ? c.since : null;
            if (o.json) printJson({ ...c, since });
            else if (since === null)
              process.stdout.write(`${c.mode} (default: the mode was never changed)\n`);
            else
              process.stdout.write(
                `${c.mode} since ${new Date(since).toISOString()} by ${c.actor}: ${c.reason}\n`,
              );
          });
          return;
        }
        const tool = TOOLS[mode as keyof typeof TOOLS];
        if (!tool || !o.reason) {
          process.stderr.write(
            "tradewarden: usage: control halt|reduce-only|resume --reason TEXT (or control status)\n",
          );
          process.exitCode = EXIT.CONFIG;
          return;
        }
        await withApp(cmd, async (app) => {
          const caller = callerFor(`cli:${userInfo().username}`, "operator", "cli");
          const r = await callTool(app, caller, tool, { reason: o.reason });
          const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
          if (o.json) printJson(sc);
          else if (!r.isError) process.stdout.write(`${sc.previous_mode} → ${sc.mode} (${sc.reason})\n`);
          if (r.isError) {
            if (!o.json) process.stderr.write(`tradewarden: ${String(sc.message)}\n`);
            process.exitCode = EXIT.FAIL;
          }
        });
      });
  },
};
