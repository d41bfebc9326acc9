import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { alertVisibleTo } from "../alerts/visibility.js";
import type { App } from "../app.js";
import { seesAll } from "../policy/ownership.js";
import type { Caller } from "../policy/scopes.js";
import type { SamplingAnswer, SamplingRequest } from "../engine/decision/sampling.js";
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
 * server joins the app's client sessions:
 * - alerts: once its client has initialized, warning/critical alerts reach it as
 *   `notifications/message`, filtered by the level the client set with `logging/setLevel` (the SDK
 *   keeps that level per transport session);
 * - sampling: when the client declared the `sampling` capability and the caller holds
 *   `portfolio:target`, it becomes the session the minute cycle asks when `cycle.decision` is
 *   `sampling` (src/engine/decision/sampling.ts; only in the process running the cycle).
 * Closing the server leaves both.
 */
export function createMcpServer(app: App, caller: Caller, opts: { alerts?: boolean } = {}): McpServer {
  const mcp = new McpServer(
    { name: "tradewarden", version: app.version },
    { instructions: INSTRUCTIONS, capabilities: { tools: { listChanged: false }, logging: {} } },
  );
  attachTools(mcp, app, caller);
  if (opts.alerts !== false) {
    const viewer = { id: caller.id, seesAll: seesAll(caller) };
    const leaveSampling = joinSampling(app, mcp, caller);
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
      leaveSampling();
      prev?.();
    };
  }
  return mcp;
}

/**
 * Registers the session as a sampling client once its client has initialized with the `sampling`
 * capability (and the caller may set targets). @returns the function that unregisters it.
 */
function joinSampling(app: App, mcp: McpServer, caller: Caller): () => void {
  let leave = () => {};
  if (!caller.scopes.has("portfolio:target")) return () => leave();
  const prev = mcp.server.oninitialized;
  mcp.server.oninitialized = () => {
    prev?.();
    if (!mcp.server.getClientCapabilities()?.sampling) return;
    leave = app.decisions.sampling.register({
      caller: caller.id,
      createMessage: async (req: SamplingRequest): Promise<SamplingAnswer> => {
        const r = await mcp.server.createMessage(
          {
            systemPrompt: req.systemPrompt,
            messages: [{ role: "user", content: { type: "text", text: req.text } }],
            maxTokens: req.maxTokens,
            ...(req.modelPreferences ? { modelPreferences: req.modelPreferences } : {}),
            includeContext: "none",
            temperature: 0,
          },
          { timeout: req.timeoutMs },
        );
        const content = Array.isArray(r.content) ? r.content : [r.content];
        const text = content.find((c) => c.type === "text");
        if (text?.type !== "text")
          throw new Error(
            `the client answered ${content.map((c) => c.type).join(", ") || "nothing"}, not text`,
          );
        return { model: r.model, text: text.text, stopReason: r.stopReason };
      },
    });
  };
  return () => leave();
}
