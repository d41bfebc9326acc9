import type { Command } from "commander";
import { verifyAudit } from "../store/audit.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

/** `tradewarden audit verify`: checks the hash chain; exits 1 naming the first bad row. */
export const auditCommand: CliModule = {
  register(program: Command) {
    const audit = program.command("audit").description("audit log");
    audit
      .command("verify")
      .description("verify the audit log hash chain (exit 1 on tampering)")
      .option("--json", "JSON output")
      .action(async (o: { json?: boolean }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          const r = verifyAudit(app.db);
          if (o.json) {
            printJson({
              ok: r.ok,
              rows: r.rows,
              first_bad_id: r.firstBadId ?? null,
              reason: r.reason ?? null,
            });
          } else if (r.ok) {
            process.stdout.write(`audit log OK: ${r.rows} rows, chain intact\n`);
          } else {
            process.stdout.write(`audit log TAMPERED at row ${r.firstBadId}: ${r.reason}\n`);
          }
          if (!r.ok) process.exitCode = EXIT.FAIL;
        });
      });
  },
};
