import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { alertVisibleTo } from "../alerts/visibility.js";
import type { App } from "../app.js";
import { seesAll } from "../policy/ownership.js";
import type { Caller } from "../policy/scopes.js";
import { attachTools } from "../tools/registry.js";

/** Workflow guidance sent to clients at initialize (server `instructions`). */
export const INSTRUCTIONS = `tradewarden gives you governed access to crypto perpetuals. Symbols are base coins (BTC, ETH);
times are ms UTC; prices in quote currency; sizes in coins; weights and rates are fractions.
Workflow: 1) system_get_status (your scopes, venues, control mode) → 2) read the market (market_*) →
3) research (rag_search, memory_search, backtest_run, experiment_run) → 4) order_propose (validates,
rounds to tick/lot, risk-checks, says whether approval is needed) → 5) approval by a human operator
(order_approve / tradewarden approve ID, or an elicitation prompt) → 6) order_submit with the intent_id
and a client_order_id (idempotent: retrying with the same key never sends a second order).
Portfolio mode: portfolio_set_target with weights; the minute cycle clips them to risk limits and
trades them by TWAP. Every refusal has a stable code and says what to do next; retry only when
retryable is true. You can halt trading (control_halt) but never resume it.`;

/**
 * Creates one McpServer bound to one caller (a stdio process or an HTTP session), with the tools that
 * caller may see. Unless `alerts: false` (stateless HTTP, whose servers live for one request), the
 * server joins the app's alert sessions: once its client has initialized, warning/critical alerts
 * reach it as `notifications/message`, filtered by the level the client set with
 * `logging/setLevel` (the SDK keeps that level per transport session). Closing the server leaves.
 */
export function createMcpServer(app: App, caller: Caller, opts: { alerts?: boolean } = {}): McpServer {
  const mcp = new McpServer(
    { name: "tradewarden", version: app.version },
    { instructions: INSTRUCTIONS, capabilities: { tools: { listChanged: false }, logging: {} } },
  );
  attachTools(mcp, app, caller);
  if (opts.alerts !== false) {
    const viewer = { id: caller.id, seesAll: seesAll(caller) };
    const leave = app.alertSessions.register({
      sees: (m) => alertVisibleTo(m.data, viewer),
      notify: async (m) => {
        // Before initialization the client cannot take notifications; after close there is no one.
        if (!mcp.isConnected() || mcp.server.getClientCapabilities() === undefined) return;
        await mcp.sendLoggingMessage(m, mcp.server.transport?.sessionId);
      },
    });
    const prev = mcp.server.onclose;
    mcp.server.onclose = () => {
      leave();
      prev?.();
    };
  }
  return mcp;
}
