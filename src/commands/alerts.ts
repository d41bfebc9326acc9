import { hostname, userInfo } from "node:os";
import type { Command } from "commander";
import { SEVERITIES, type Severity } from "../alerts/types.js";
import { callerFor } from "../policy/scopes.js";
import { callTool } from "../tools/registry.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

/**
 * `tradewarden alerts list|ack|test`: the operator's view of alerts without an MCP client. list and
 * ack run through the policy gate as `cli:<os user>` (operator profile) and are audited; `test`
 * sends a test notice to every configured channel from this process and prints each channel's
 * outcome (exit 1 when a channel did not take it).
 */
export const alertsCommand: CliModule = {
  register(program: Command) {
    const alerts = program.command("alerts").description("list, acknowledge and test alerts");
    const caller = () => callerFor(`cli:${userInfo().username}`, "operator", "cli");
    const run = async (cmd: Command, tool: string, args: Record<string, unknown>, json?: boolean) =>
      withApp(cmd, async (app) => {
        const r = await callTool(app, caller(), tool, args);
        const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
        if (r.isError) {
          if (json) printJson(sc);
          else process.stderr.write(`tradewarden: ${String(sc.message)}\n`);
          process.exitCode = EXIT.FAIL;
          return undefined;
        }
        return sc;
      });

    alerts
      .command("list")
      .description("open alerts, newest first (--all: resolved too)")
      .option("--all", "include resolved alerts and notices")
      .option("--limit <n>", "at most this many (1..200)", (v) => Number(v), 50)
      .option("--json", "print the alert_list result as JSON")
      .action(async (o: { all?: boolean; limit: number; json?: boolean }, cmd: Command) => {
        const sc = await run(cmd, "alert_list", { status: o.all ? "all" : "open", limit: o.limit }, o.json);
        if (!sc) return;
        if (o.json) return printJson(sc);
        const rows = sc.alerts as Array<Record<string, unknown>>;
        if (rows.length === 0) process.stdout.write("no alerts\n");
        for (const a of rows) {
          const state = a.resolved_at === null ? "OPEN" : "resolved";
          const ack = a.acknowledged_at === null ? "" : ` (ack ${String(a.acknowledged_by)})`;
          process.stdout.write(
            `${a.alert_id}\t${new Date(a.raised_at as number).toISOString()}\t${String(a.severity).toUpperCase()}\t${a.kind}\t${state}${ack}\t${a.message}\n`,
          );
        }
      });

    alerts
      .command("ack <id>")
      .description("acknowledge an alert")
      .option("--note <text>", "a note recorded with the acknowledgement")
      .option("--json", "print the result as JSON")
      .action(async (id: string, o: { note?: string; json?: boolean }, cmd: Command) => {
        const sc = await run(cmd, "alert_ack", { alert_id: Number(id), note: o.note }, o.json);
        if (!sc) return;
        if (o.json) return printJson(sc);
        const a = sc.alert as Record<string, unknown>;
        process.stdout.write(
          `${sc.already_acknowledged ? "already acknowledged" : "acknowledged"}: alert ${a.alert_id} by ${a.acknowledged_by}\n`,
        );
      });

    alerts
      .command("test")
      .description("send a test notice to every configured channel and report what each answered")
      .option("--severity <level>", `severity of the test notice: ${SEVERITIES.join(" | ")}`, "info")
      .option("--json", "print { alert_id, channels: [{ channel, status, http_status, error }] }")
      .action(async (o: { severity: string; json?: boolean }, cmd: Command) => {
        if (!(SEVERITIES as readonly string[]).includes(o.severity)) {
          process.stderr.write(`tradewarden: --severity must be one of ${SEVERITIES.join(", ")}\n`);
          process.exitCode = EXIT.CONFIG;
          return;
        }
        await withApp(cmd, async (app) => {
          const { channels, problems, delivery } = app.alerting;
          for (const p of problems) process.stderr.write(`tradewarden: ${p}\n`);
          if (channels.length === 0) {
            process.stderr.write(
              "tradewarden: no alert channel is configured: set TW_ALERT_WEBHOOK_URL, or TW_TELEGRAM_BOT_TOKEN and TW_TELEGRAM_CHAT_ID (docs/alerts.md).\n",
            );
            process.exitCode = EXIT.CONFIG;
            return;
          }
          delivery.init();
          const by = caller().id;
          const notice = app.alerts.notice({
            kind: "test",
            severity: o.severity as Severity,
            key: `test:${app.clock.now()}`,
            message: `Test alert from tradewarden on ${hostname()}, sent by ${by}.`,
            details: { by, host: hostname() },
          });
          await delivery.runOnce();
          const view = app.alerts
            .list({ status: "all", kind: "test", limit: 20 })
            .alerts.find((a) => a.alert_id === notice?.alert_id);
          const out = channels.map((c) => {
            const d = view?.deliveries.find((x) => x.channel === c.id);
            return {
              channel: c.id,
              status: d?.status ?? `not sent (minimum severity ${c.minSeverity})`,
              http_status: d?.http_status ?? null,
              error: d?.error ?? null,
            };
          });
          if (o.json) printJson({ alert_id: notice?.alert_id ?? null, channels: out });
          else
            for (const c of out)
              process.stdout.write(
                `${c.channel}\t${c.status}${c.http_status ? ` (HTTP ${c.http_status})` : ""}${c.error ? `\t${c.error}` : ""}\n`,
              );
          if (out.some((c) => c.status !== "ok")) process.exitCode = EXIT.FAIL;
        });
      });
  },
};
