import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

/**
 * The baseline of the serve benchmark (issue 15): a bare SDK `McpServer` with one cheap tool over
 * stdio, nothing else — no config, database, gate or audit. `npm run bench -- serve` spawns it next
 * to `tradewarden serve` and compares start-up and per-call cost. Run as `node dist/bench/bareServer.js`.
 */
const server = new McpServer({ name: "bare", version: "0.0.0" });
server.registerTool(
  "ping",
  { description: "Echoes a number.", inputSchema: { n: z.number().optional() } },
  async ({ n }) => ({ content: [{ type: "text", text: JSON.stringify({ pong: n ?? 0 }) }] }),
);
await server.connect(new StdioServerTransport());
