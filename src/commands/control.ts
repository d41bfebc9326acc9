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
  flatten: "control_flatten",
} as const;

/**
 * `tradewarden control halt|reduce-only|resume|flatten --reason R [--venue V] [--json]` and
 * `tradewarden control status`: the operator's kill switch. `flatten` halts, cancels every resting order
 * and closes every position with reduce-only orders (control_flatten). Changes run through the policy
 * gate as `cli:<os user>` (operator profile) and are audited. Exit 0 on success, 1 when refused or when
 * a flatten leaves a position open, 2 on a bad mode.
 */
export const controlCommand: CliModule = {
  register(program: Command) {
    program
      .command("control <mode>")
      .description("halt | reduce-only | resume | flatten trading, or show the status")
      .option("--reason <text>", "why (required to change the mode; recorded)")
      .option("--venue <id>", "flatten: the venue to close (default: the cycle venue)")
      .option("--json", "print the result as JSON")
      .action(async (mode: string, o: { reason?: string; venue?: string; json?: boolean }, cmd: Command) => {
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
            "tradewarden: usage: control halt|reduce-only|resume|flatten --reason TEXT [--venue ID] (or control status)\n",
          );
          process.exitCode = EXIT.CONFIG;
          return;
        }
        await withApp(cmd, async (app) => {
          const caller = callerFor(`cli:${userInfo().username}`, "operator", "cli");
          const args =
            mode === "flatten" && o.venue ? { reason: o.reason, venue: o.venue } : { reason: o.reason };
          const r = await callTool(app, caller, tool, args);
          const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
          if (o.json) printJson(sc);
          else if (!r.isError && mode === "flatten") {
            const closes = sc.closes as Array<{
              symbol: string;
              size: string;
              status: string;
              filled_size: string;
            }>;
            const left = sc.remaining as Array<{ symbol: string; size: string }>;
            process.stdout.write(
              `${sc.previous_mode} → ${sc.mode}; ${closes.length} close order(s) on ${sc.venue}\n`,
            );
            for (const c of closes)
              process.stdout.write(`  ${c.symbol} ${c.size}: ${c.status} (filled ${c.filled_size})\n`);
            process.stdout.write(
              left.length === 0
                ? "flat\n"
                : `still open: ${left.map((p) => `${p.symbol} ${p.size}`).join(", ")}\n`,
            );
          } else if (!r.isError) process.stdout.write(`${sc.previous_mode} → ${sc.mode} (${sc.reason})\n`);
          if (!r.isError && mode === "flatten" && (sc.remaining as unknown[]).length > 0)
            process.exitCode = EXIT.FAIL;
          if (r.isError) {
            if (!o.json) process.stderr.write(`tradewarden: ${String(sc.message)}\n`);
            process.exitCode = EXIT.FAIL;
          }
        });
      });
  },
};
