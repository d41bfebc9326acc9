import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { Protocol } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolResult,
  type ElicitRequestFormParams,
  type ElicitRequestURLParams,
  ListToolsRequestSchema,
  type Tool,
  type ToolAnnotations,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { App } from "../app.js";
import { TOOLSETS } from "../config.js";
import { TwError } from "../errors.js";
import type { ApprovalChannels } from "../policy/approval.js";
import type { GateCall, GatedOperation, PolicyFacts } from "../policy/gate.js";
import type { Caller, Scope } from "../policy/scopes.js";
import { errorFieldClash, toolJsonSchema } from "./jsonSchema.js";

/**
 * Tool definitions and the one registry that decides what a caller sees (DESIGN.md §2). A tool is
 * data: schemas, description, scope, annotations and a handler. The registry lists only tools the
 * caller's scopes (and `TW_TOOLSETS`) allow, runs every call through the policy gate, and returns
 * `structuredContent` plus the same JSON as text. Refusals and failures become tool errors whose
 * structured content is `{ code, message, retryable, hint?, details? }`.
 */

/** What a handler gets besides its validated arguments. */
export interface ToolContext {
  app: App;
  caller: Caller;
  /** The gate call (facts and step state, e.g. the idempotency reservation). */
  call: GateCall;
  /** Aborted when the client cancels the request. */
  signal: AbortSignal;
  /** Reports MCP progress when the client asked for it (no-op otherwise). */
  progress: (progress: number, total?: number, message?: string) => Promise<void>;
  /**
   * Adds a content block (e.g. an image) sent before the result's text and kept out of
   * structuredContent, so binary data travels once.
   */
  attach: (block: CallToolResult["content"][number]) => void;
}

/** What a tool's {@link ToolDef.onRefused} hook gets. */
export interface RefusalContext {
  app: App;
  caller: Caller;
  /** The raw arguments of the refused call. */
  rawArgs: unknown;
  /** Ways to reach the human behind the calling client (only those it declared). */
  channels: ApprovalChannels;
}

/** An output schema: a zod object, or an intersection of objects (the structuredContent). */
export type OutputSchema = z.ZodType<Record<string, unknown>>;

/** One tool. `input` must be a strict zod object; `output` an object schema (the structuredContent). */
export interface ToolDef<I extends z.ZodObject = z.ZodObject, O extends OutputSchema = OutputSchema>
  extends GatedOperation<z.infer<I>, z.infer<O>> {
  /** snake_case `<toolset>_<verb>[_<noun>]`, ≤ 64 chars. */
  name: string;
  /** Toolset name for TW_TOOLSETS (system, market, knowledge, memory, research, account, orders, ...). */
  toolset: string;
  title: string;
  /** States units, symbol format, preconditions and idempotency. */
  description: string;
  scope: Scope | null;
  annotations: ToolAnnotations;
  input: I;
  output: O;
  facts?: (
    args: z.infer<I>,
    env: Parameters<NonNullable<GatedOperation["facts"]>>[1],
    caller: Caller,
  ) => PolicyFacts | Promise<PolicyFacts>;
  handler: (args: z.infer<I>, ctx: ToolContext) => Promise<z.infer<O>>;
  /**
   * Content blocks to return instead of the default (the structured result as JSON text), e.g. an
   * image plus a text summary. structuredContent is the result either way.
   */
  content?: (result: z.infer<O>) => CallToolResult["content"];
  /**
   * Called when the gate refuses the call; returning true runs the gate once more. Used by
   * order_submit to ask a human for approval through a channel that counts, then retry.
   */
  onRefused?: (error: TwError, ctx: RefusalContext) => Promise<boolean>;
}

/**
 * Identity helper that keeps a tool's input/output types linked to its handler.
 * Usage: `export const tools = [defineTool({...}), ...]`.
 */
export function defineTool<I extends z.ZodObject, O extends OutputSchema>(def: ToolDef<I, O>): ToolDef<I, O> {
  return def;
}

/** A tool erased to its common shape (for lists). */
// biome-ignore lint/suspicious/noExplicitAny: heterogeneous tool lists need an erased type
export type AnyToolDef = ToolDef<any, any>;

const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Validates a catalog: names, toolsets, strict inputs, and (`outputSchemas`, default on) that no
 * result declares an error field with another type. @throws Error naming the bad tool.
 */
export function checkCatalog(tools: readonly AnyToolDef[], opts: { outputSchemas?: boolean } = {}): void {
  const seen = new Set<string>();
  for (const t of tools) {
    if (!NAME_RE.test(t.name)) throw new Error(`tool name ${t.name} is not snake_case ≤ 64 chars`);
    if (seen.has(t.name)) throw new Error(`tool ${t.name} is defined twice`);
    if (!(TOOLSETS as readonly string[]).includes(t.toolset)) {
      throw new Error(`tool ${t.name}: toolset ${t.toolset} is not listed in TOOLSETS (src/config.ts)`);
    }
    seen.add(t.name);
    if (t.input.def.catchall === undefined || t.input.def.catchall._zod.def.type !== "never") {
      throw new Error(`tool ${t.name}: input schema must be z.object({...}).strict()`);
    }
    if (opts.outputSchemas === false) continue;
    const clash = errorFieldClash(toolJsonSchema(t.output, "output"));
    if (clash) throw new Error(`tool ${t.name}: result field ${clash} would reject error payloads`);
  }
}

/** Tools visible to a caller: within TW_TOOLSETS (when set) and the caller's scopes. */
export function visibleTools(
  tools: readonly AnyToolDef[],
  caller: Caller,
  toolsets: readonly string[],
): AnyToolDef[] {
  return tools.filter(
    (t) =>
      (toolsets.length === 0 || toolsets.includes(t.toolset)) &&
      (t.scope === null || caller.scopes.has(t.scope)),
  );
}

/**
 * The MCP `Tool` descriptor of a ToolDef: portable schemas (no `type` arrays), outputs as open
 * typed objects (src/tools/jsonSchema.ts). The output schema describes the result only: clients
 * validate structuredContent on `isError` results too, and the error payload (`{ code, message,
 * retryable, hint?, details? }`, documented once in docs/knowledge) validates against every open
 * result schema because no result declares those fields with other types ({@link checkCatalog}).
 */
export function describeTool(t: AnyToolDef): Tool {
  return {
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: toolJsonSchema(t.input, "input"),
    // An intersection (allOf) has no `type` of its own; MCP wants "object" at the root.
    outputSchema: Object.assign(
      { type: "object" },
      toolJsonSchema(t.output, "output"),
    ) as Tool["outputSchema"],
    annotations: t.annotations,
  };
}

function errorResult(e: TwError): CallToolResult {
  const payload = e.toJSON();
  return {
    isError: true,
    structuredContent: payload as unknown as Record<string, unknown>,
    content: [{ type: "text", text: JSON.stringify(payload) }],
  };
}

/**
 * Runs one tool call for a caller through the gate. Used by the MCP handler below, the eval harness
 * and tests. Unknown tools and tools outside the caller's view are NOT_FOUND / FORBIDDEN_SCOPE.
 */
export async function callTool(
  app: App,
  caller: Caller,
  name: string,
  rawArgs: unknown,
  opts: {
    signal?: AbortSignal;
    progress?: ToolContext["progress"];
    channels?: ApprovalChannels;
  } = {},
): Promise<CallToolResult> {
  const tool = app.tools.find((t) => t.name === name);
  if (
    !tool ||
    (app.config.toolsets.length > 0 && !(app.config.toolsets as readonly string[]).includes(tool.toolset))
  ) {
    return errorResult(
      new TwError("NOT_FOUND", `No tool named ${name}.`, {
        hint: "Call tools/list to see the tools you can use.",
      }),
    );
  }
  const signal = opts.signal ?? new AbortController().signal;
  let attached: CallToolResult["content"] = [];
  const run = () => {
    attached = [];
    return app.gate.run(tool, caller, rawArgs, async (args, call) => {
      const ctx: ToolContext = {
        app,
        caller,
        call,
        signal,
        progress: opts.progress ?? (async () => {}),
        attach: (block) => attached.push(block),
      };
      const result = await tool.handler(args, ctx);
      const checked = tool.output.safeParse(result);
      if (!checked.success) {
        app.log.error(
          { tool: name, issues: checked.error.issues },
          "tool result does not match its output schema",
        );
        throw new TwError("INTERNAL", `${name} produced a malformed result; the incident was logged.`);
      }
      return checked.data;
    });
  };
  let outcome = await run();
  if (!outcome.ok && tool.onRefused) {
    const again = await tool
      .onRefused(outcome.error, { app, caller, rawArgs, channels: opts.channels ?? {} })
      .catch((err) => {
        app.log.error({ err, tool: name }, "refusal hook failed");
        return false;
      });
    if (again) outcome = await run();
  }
  if (!outcome.ok) return errorResult(outcome.error);
  const structured = outcome.result as Record<string, unknown>;
  const content = tool.content
    ? tool.content(structured)
    : [{ type: "text" as const, text: JSON.stringify(structured) }];
  return { structuredContent: structured, content: [...attached, ...content] };
}

/**
 * tools/call as sent: `arguments` unchecked (the gate checks it and audits a refusal) and every
 * other param passed through.
 */
const LooseCallToolRequestSchema = z.object({
  method: z.literal("tools/call"),
  params: z
    .object({
      name: z.unknown(),
      arguments: z.unknown().optional(),
      _meta: z
        .object({ progressToken: z.union([z.string(), z.number()]).optional() })
        .passthrough()
        .optional(),
    })
    .passthrough(),
});

/**
 * Installs tools/list and tools/call on an McpServer for one caller (one McpServer per stdio process
 * or HTTP session, so the caller is fixed for its lifetime).
 */
export function attachTools(mcp: McpServer, app: App, caller: Caller): void {
  const server = mcp.server;
  server.registerCapabilities({ tools: { listChanged: false } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: visibleTools(app.tools, caller, app.config.toolsets).map(describeTool),
  }));
  // Registered below the Server's own tools/call wrapper, whose schema would answer non-object
  // arguments with a raw zod dump before any audit, and whose record parsing silently drops a
  // `__proto__` key: the gate must see the arguments exactly as sent (src/policy/gate.ts).
  Protocol.prototype.setRequestHandler.call(server, LooseCallToolRequestSchema, async (req, extra) => {
    const token = req.params._meta?.progressToken;
    const progress: ToolContext["progress"] = async (p, total, message) => {
      if (token === undefined) return;
      await extra.sendNotification({
        method: "notifications/progress",
        params: { progressToken: token, progress: p, total, message },
      });
    };
    const el = server.getClientCapabilities()?.elicitation as { form?: object; url?: object } | undefined;
    // An empty elicitation capability is form-only (MCP 2025-06-18 clients).
    const form = el !== undefined && (el.form !== undefined || el.url === undefined);
    const channels: ApprovalChannels = {
      form: form
        ? (params) => server.elicitInput({ mode: "form", ...params } as ElicitRequestFormParams)
        : undefined,
      url: el?.url
        ? (params) => server.elicitInput({ mode: "url", ...params } as ElicitRequestURLParams)
        : undefined,
      complete: el?.url ? (id) => server.createElicitationCompletionNotifier(id)() : undefined,
    };
    if (typeof req.params.name !== "string") {
      return errorResult(
        new TwError("INVALID_INPUT", "tools/call needs a tool name (a string).", {
          hint: "Call tools/list for the names.",
        }),
      );
    }
    return callTool(app, caller, req.params.name, req.params.arguments, {
      signal: extra.signal,
      progress,
      channels,
    });
  });
}
