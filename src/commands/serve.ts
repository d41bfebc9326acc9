import type { Command } from "commander";
import { createApp } from "../app.js";
import { BackgroundRunner } from "../background.js";
import { startHttp } from "../server/http.js";
import { serveStdio } from "../server/stdio.js";
import { configFrom } from "./context.js";
import type { CliModule } from "./types.js";

/** `tradewarden serve [--http] [--host H] [--port N] [--stateless]`. */
export const serveCommand: CliModule = {
  register(program: Command) {
    program
      .command("serve")
      .description("serve MCP over stdio (default) or streamable HTTP (--http)")
      .option("--http", "serve streamable HTTP instead of stdio")
      .option("--host <host>", "HTTP bind address (default 127.0.0.1; env TW_HTTP_HOST)")
      .option("--port <port>", "HTTP port (default 8787; env TW_HTTP_PORT)", (v) => Number(v))
      .option("--stateless", "HTTP without sessions (a server per request; GET/DELETE → 405)")
      .action(
        async (o: { http?: boolean; host?: string; port?: number; stateless?: boolean }, cmd: Command) => {
          const cfg = configFrom(cmd, {
            "http.host": o.host,
            "http.port": o.port,
            "http.stateless": o.stateless ? true : undefined,
          });
          const app = await createApp(cfg);
          // Background jobs run only in the process holding the home's lease (DESIGN.md §10).
          const runner = new BackgroundRunner({
            db: app.db,
            log: app.log,
            jobs: app.background,
            exclusive: app.exclusive,
          });
          app.statusProviders.set("lease", () => runner.status());
          runner.start();
          const shutdown = async () => {
            await runner.stop();
            await app.close();
          };
          if (o.http) {
            const h = await startHttp(app, cfg.http);
            process.stderr.write(
              `tradewarden: MCP endpoint ${h.url}/mcp (bearer token required); console ${h.url}/console\n`,
            );
            const stop = async () => {
              await h.close();
              await shutdown();
              process.exit(0);
            };
            process.once("SIGINT", stop);
            process.once("SIGTERM", stop);
            return;
          }
          await serveStdio(app);
          await shutdown();
        },
      );
  },
};
