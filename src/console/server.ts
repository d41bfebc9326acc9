import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { App } from "../app.js";
import { consoleRouter } from "./router.js";

/**
 * `tradewarden console`: the console on its own listener, against the same home as any `serve`
 * process (stdio users get it too). Serves only `/console` (plus a redirect from `/`); no MCP.
 */

/** A running console listener. */
export interface ConsoleHandle {
  server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the console on `host:port` (port 0 picks a free port).
 * @throws Error when the port cannot be bound or the assets were not built.
 */
export async function startConsole(app: App, opts: { host: string; port: number }): Promise<ConsoleHandle> {
  const web = express();
  web.disable("x-powered-by");
  web.use("/console", consoleRouter(app, { boundHost: opts.host }));
  web.get("/", (_req, res) => res.redirect(302, "/console"));
  const server = await new Promise<Server>((resolve, reject) => {
    const s = web.listen(opts.port, opts.host, () => resolve(s));
    s.once("error", reject);
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  app.log.info({ url: `${url}/console` }, "serving the operator console");
  return {
    server,
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
