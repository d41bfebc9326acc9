import type { Command } from "commander";
import { auditHead, verifyAudit } from "../store/audit.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

/**
 * `tradewarden audit verify [--expect COUNT:HASH] [--json]`: checks the hash chain, the head row, the
 * anchor file (`$TW_HOME/audit.anchor`) and, when given, a head kept elsewhere; exits 1 naming the
 * first bad row. `tradewarden audit head`: prints the current head `COUNT:HASH` for an operator to
 * keep outside this machine.
 */
export const auditCommand: CliModule = {
  register(program: Command) {
    const audit = program.command("audit").description("audit log");
    audit
      .command("verify")
      .description("verify the audit log hash chain and its anchor (exit 1 on tampering)")
      .option(
        "--expect <count:hash>",
        "a head printed earlier by `audit head`; the log must still contain it",
      )
      .option("--json", "JSON output")
      .action(async (o: { json?: boolean; expect?: string }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          let r: ReturnType<typeof verifyAudit>;
          try {
            r = verifyAudit(app.db, { expect: o.expect });
          } catch (e) {
            process.stderr.write(`tradewarden: ${(e as Error).message}\n`);
            process.exitCode = EXIT.CONFIG;
            return;
          }
          if (o.json) {
            printJson({
              ok: r.ok,
              rows: r.rows,
              head: r.head,
              anchor_lines: r.anchorLines,
              first_bad_id: r.firstBadId ?? null,
              reason: r.reason ?? null,
            });
          } else if (r.ok) {
            process.stdout.write(
              `audit log OK: ${r.rows} rows, chain intact, ${r.anchorLines} anchored heads agree; head ${r.head}\n`,
            );
          } else {
            process.stdout.write(`audit log TAMPERED at row ${r.firstBadId}: ${r.reason}\n`);
          }
          if (!r.ok) process.exitCode = EXIT.FAIL;
        });
      });
    audit
      .command("head")
      .description("print the audit chain head COUNT:HASH (keep it elsewhere; check with verify --expect)")
      .option("--json", "JSON output")
      .action(async (o: { json?: boolean }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          const h = auditHead(app.db);
          if (o.json) printJson({ count: h.count, hash: h.hash, head: `${h.count}:${h.hash}` });
          else process.stdout.write(`${h.count}:${h.hash}\n`);
        });
      });
  },
};
