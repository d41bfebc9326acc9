import type { Command } from "commander";
import { PROFILES, type Profile } from "../policy/scopes.js";
import { createToken, listTokens, revokeToken } from "../store/tokens.js";
import { EXIT, printJson, withApp } from "./context.js";
import type { CliModule } from "./types.js";

/** `tradewarden token create|list|revoke`: bearer tokens for the HTTP transport. */
export const tokenCommand: CliModule = {
  register(program: Command) {
    const token = program.command("token").description("manage HTTP bearer tokens (stored hashed)");
    token
      .command("create")
      .description("create a token and print it once")
      .requiredOption("--name <name>", "unique token name (shown in the audit log as token:<name>)")
      .option("--profile <profile>", `profile: ${PROFILES.join(" | ")}`, "agent")
      .option("--json", "print { name, profile, token } as JSON")
      .action(async (o: { name: string; profile: string; json?: boolean }, cmd: Command) => {
        if (!(PROFILES as readonly string[]).includes(o.profile)) {
          process.stderr.write(`tradewarden: --profile must be one of ${PROFILES.join(", ")}\n`);
          process.exit(EXIT.CONFIG);
        }
        await withApp(cmd, async (app) => {
          const { token: t, info } = createToken(app.db, o.name, o.profile as Profile, app.clock.now());
          if (o.json) printJson({ name: info.name, profile: info.profile, token: t });
          else {
            process.stdout.write(`${t}\n`);
            process.stderr.write(
              `token "${info.name}" (profile ${info.profile}) created; it is shown only once.\n`,
            );
          }
        });
      });
    token
      .command("list")
      .description("list tokens (never shows the tokens themselves)")
      .option("--json", "JSON output")
      .action(async (o: { json?: boolean }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          const rows = listTokens(app.db);
          if (o.json) printJson({ tokens: rows });
          else
            for (const r of rows) {
              const state = r.revoked_at ? `revoked ${new Date(r.revoked_at).toISOString()}` : "active";
              process.stdout.write(`${r.name}\t${r.profile}\t${r.prefix}…\t${state}\n`);
            }
        });
      });
    token
      .command("revoke")
      .description("revoke a token by name")
      .requiredOption("--name <name>", "token name")
      .action(async (o: { name: string }, cmd: Command) => {
        await withApp(cmd, async (app) => {
          if (!revokeToken(app.db, o.name, app.clock.now())) {
            process.stderr.write(
              `tradewarden: no active token named "${o.name}" (see: tradewarden token list)\n`,
            );
            process.exitCode = EXIT.FAIL;
            return;
          }
          process.stderr.write(`token "${o.name}" revoked\n`);
        });
      });
  },
};
