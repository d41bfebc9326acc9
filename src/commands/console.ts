import type { Command } from "commander";
import { createApp } from "../app.js";
import { consoleBind, consoleBaseUrl, startConsole } from "../console/index.js";
import { configFrom } from "./context.js";
import type { CliModule } from "./types.js";

/**
 * `tradewarden console [--host H] [--port N]`: serves the operator console on its own against the
 * config's home (the same database as every `serve` process). It runs no background jobs: the
 * minute cycle and reconciler stay with `serve`.
 */
export const consoleCommand: CliModule = {
  register(program: Command) {
    program
      .command("console")
      .description("serve the operator console in the browser (log in with an operator or readonly token)")
      .option("--host <host>", "bind address (default console.host, else http.host: 127.0.0.1)")
      .option("--port <port>", "port (default console.port, else http.port: 8787)", (v) => Number(v))
      .action(async (o: { host?: string; port?: number }, cmd: Command) => {
        const cfg = configFrom(cmd, { "console.host": o.host, "console.port": o.port });
        const app = await createApp(cfg);
        const h = await startConsole(app, consoleBind(cfg));
        process.stderr.write(
          `tradewarden: console at ${consoleBaseUrl(cfg)} (listening on ${h.url}); log in with a token from \`tradewarden token create --profile operator --name NAME\`\n`,
        );
        const stop = async () => {
          await h.close();
          await app.close();
          process.exit(0);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
  },
};
