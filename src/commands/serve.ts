import type { Command } from "commander";
import { configFrom, EXIT } from "./context.js";
import type { CliModule } from "./types.js";

/** Why a port could not be bound, in words an operator can act on; null for other errors. */
function bindProblem(err: unknown, host: string, port: number): string | null {
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE")
    return `port ${port} is in use on ${host}; stop the other server or pick another with --port N (TW_HTTP_PORT)`;
  if (code === "EACCES") return `no permission to bind port ${port} on ${host}; use a port above 1023`;
  if (code === "EADDRNOTAVAIL") return `${host} is not an address of this machine (--host / TW_HTTP_HOST)`;
  return null;
}

/**
 * `tradewarden serve [--http] [--host H] [--port N] [--stateless]`. The HTTP port is bound before
 * any background job starts, so a port in use stops start-up (exit 2, "port N is in use") with
 * nothing running. Server modules are imported when the command runs, not for `--help`.
 */
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
          const { createApp } = await import("../app.js");
          const { BackgroundRunner } = await import("../background.js");
          const app = await createApp(cfg);
          // Read-only calls' audit rows are committed in groups within 10 ms (docs/engineering.md).
          app.gate.groupReadOnlyAudit(10);
          // Background jobs run only in the process holding the home's lease (DESIGN.md §10).
          const runner = new BackgroundRunner({
            db: app.db,
            log: app.log,
            jobs: app.background,
            exclusive: app.exclusive,
          });
          app.statusProviders.set("lease", () => runner.status());
          const shutdown = async () => {
            await runner.stop();
            await app.close();
          };
          if (o.http) {
            const { startHttp } = await import("../server/http.js");
            let h: Awaited<ReturnType<typeof startHttp>>;
            try {
              h = await startHttp(app, cfg.http);
            } catch (err) {
              const why = bindProblem(err, cfg.http.host, cfg.http.port);
              if (!why) throw err;
              await app.close();
              process.stderr.write(`tradewarden: ${why}\n`);
              process.exit(EXIT.CONFIG);
            }
            runner.start();
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
          const { serveStdio } = await import("../server/stdio.js");
          runner.start();
          await serveStdio(app);
          await shutdown();
        },
      );
  },
};
