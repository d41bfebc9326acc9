import { userInfo } from "node:os";
import type { Command } from "commander";
import { callerFor } from "../policy/scopes.js";
import { callTool } from "../tools/registry.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

/**
 * `tradewarden approve ID [--reason R] [--json]` and `tradewarden reject ID ...`: the human
 * operator's decision on an intent. Runs order_approve / order_reject through the policy gate as
 * `cli:<os user>` with the operator profile, so the decision is audited like any tool call.
 * Exit 0 on success, 1 when refused (unknown, already submitted or rejected intent).
 */
async function decide(
  cmd: Command,
  tool: "order_approve" | "order_reject",
  id: string,
  o: { reason?: string; json?: boolean },
) {
  await withApp(cmd, async (app) => {
    const caller = callerFor(`cli:${userInfo().username}`, "operator", "cli");
    const r = await callTool(app, caller, tool, { intent_id: id, ...(o.reason ? { reason: o.reason } : {}) });
    const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
    if (o.json) printJson(sc);
    if (r.isError) {
      if (!o.json) process.stderr.write(`tradewarden: ${String(sc.message)}\n`);
      process.exitCode = EXIT.FAIL;
      return;
    }
    if (!o.json) {
      const intent = sc.intent as { preview: string };
      const until = sc.expires_at ? ` (valid until ${new Date(Number(sc.expires_at)).toISOString()})` : "";
      process.stdout.write(`${sc.decision} ${id}${until}: ${intent.preview}\n`);
    }
  });
}

export const approveCommand: CliModule = {
  register(program: Command) {
    program
      .command("approve <intent_id>")
      .description("approve an order intent (binds to its exact payload; expires after approval.ttlMs)")
      .option("--reason <text>", "why (recorded)")
      .option("--json", "print the result as JSON")
      .action(async (id: string, o: { reason?: string; json?: boolean }, cmd: Command) =>
        decide(cmd, "order_approve", id, o),
      );
    program
      .command("reject <intent_id>")
      .description("reject an order intent (final)")
      .option("--reason <text>", "why (recorded)")
      .option("--json", "print the result as JSON")
      .action(async (id: string, o: { reason?: string; json?: boolean }, cmd: Command) =>
        decide(cmd, "order_reject", id, o),
      );
  },
};
