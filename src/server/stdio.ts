import type { App } from "../app.js";
import { callerFor } from "../policy/scopes.js";
import { createMcpServer } from "./mcp.js";
import { SafeStdioTransport } from "./stdioTransport.js";

/**
 * Serves MCP over stdio for the configured profile (`TW_PROFILE`). stdout carries protocol messages
 * only (logs are on stderr). Resolves when stdin closes.
 */
export async function serveStdio(app: App): Promise<void> {
  const profile = app.config.profile;
  const name = app.config.callerName ?? profile;
  const server = createMcpServer(app, callerFor(`stdio:${name}`, profile, "stdio"));
  const transport = new SafeStdioTransport({ log: app.log });
  const closed = new Promise<void>((resolve) => {
    process.stdin.once("end", () => resolve());
    process.stdin.once("close", () => resolve());
  });
  await server.connect(transport);
  app.log.info({ profile }, "serving MCP over stdio");
  await closed;
  await server.close();
}
