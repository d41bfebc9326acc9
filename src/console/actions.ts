import type { Request, Response } from "express";
import type { App } from "../app.js";
import { setFlash } from "../store/consoleSessions.js";
import { callTool } from "../tools/registry.js";
import { fmtTime } from "./html.js";
import { actionAvailable, CONTROL_ACTIONS } from "./pages/control.js";
import type { ConsoleContext } from "./session.js";

/**
 * Console actions. Every change is a tool call through the policy gate with the session's caller
 * (`console:<token name>`, the token's profile, transport "console"), so it is scope-checked,
 * validated and audited like any MCP call — a readonly session's attempt is refused there and
 * recorded. Browsers get a flash message and a 303 back to the page; `Accept: application/json`
 * callers get `{ ok, code?, message, result? }`.
 */

/** HTTP status of a refused tool call. */
function statusOf(code: string): number {
  switch (code) {
    case "FORBIDDEN_SCOPE":
      return 403;
    case "NOT_FOUND":
      return 404;
    case "INVALID_INPUT":
      return 400;
    case "RATE_LIMITED":
      return 429;
    case "INTERNAL":
    case "EXCHANGE_UNAVAILABLE":
      return 502;
    default:
      return 409;
  }
}

/** Keeps only the arguments a tool's strict input schema declares (flatten's may differ). */
function argsFor(app: App, tool: string, args: Record<string, unknown>): Record<string, unknown> {
  const def = app.tools.find((t) => t.name === tool);
  const shape = (def?.input as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
  return Object.fromEntries(Object.entries(args).filter(([k, v]) => k in shape && v !== undefined));
}

function reply(
  req: Request,
  res: Response,
  app: App,
  ctx: ConsoleContext,
  back: string,
  out: { ok: boolean; status: number; message: string; code?: string; result?: unknown },
): void {
  if (req.accepts(["html", "json"]) === "json") {
    res.status(out.status).json({ ok: out.ok, code: out.code, message: out.message, result: out.result });
    return;
  }
  setFlash(app.db, ctx.session.id_hash, { kind: out.ok ? "ok" : "error", text: out.message });
  res.redirect(303, back);
}

async function gated(
  app: App,
  ctx: ConsoleContext,
  tool: string,
  args: Record<string, unknown>,
): Promise<{
  ok: boolean;
  status: number;
  code?: string;
  message: string;
  result?: Record<string, unknown>;
}> {
  const r = await callTool(app, ctx.caller, tool, argsFor(app, tool, args));
  const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
  if (r.isError) {
    const code = String(sc.code);
    return { ok: false, status: statusOf(code), code, message: `${code}: ${String(sc.message)}` };
  }
  return { ok: true, status: 200, message: "", result: sc };
}

const field = (req: Request, k: string): string | undefined => {
  const v = (req.body as Record<string, unknown> | undefined)?.[k];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
};

/** `POST /console/intents/:id/approve|reject` (reject needs a reason). */
export async function decideIntent(
  app: App,
  req: Request,
  res: Response,
  decision: "approve" | "reject",
): Promise<void> {
  const ctx = res.locals.console as ConsoleContext;
  const id = String(req.params.id);
  const back = `/console/intents/${encodeURIComponent(id)}`;
  const reason = field(req, "reason");
  if (decision === "reject" && (!reason || reason.length < 3)) {
    reply(req, res, app, ctx, back, {
      ok: false,
      status: 400,
      code: "INVALID_INPUT",
      message: "A rejection needs a reason (at least 3 characters).",
    });
    return;
  }
  const out = await gated(app, ctx, decision === "approve" ? "order_approve" : "order_reject", {
    intent_id: id,
    reason,
  });
  if (out.ok) {
    const exp = out.result?.expires_at as number | null | undefined;
    out.message =
      decision === "approve"
        ? `Approved intent ${id}${exp ? ` (valid until ${fmtTime(exp)})` : ""}; the agent's order_submit can now send it.`
        : `Rejected intent ${id}; it can never be submitted.`;
  }
  reply(req, res, app, ctx, back, out);
}

/** `POST /console/alerts/:id/ack` (optional `note`): `alert_ack` as the session's caller. */
export async function ackAlert(app: App, req: Request, res: Response): Promise<void> {
  const ctx = res.locals.console as ConsoleContext;
  const id = Number(req.params.id);
  const out = await gated(app, ctx, "alert_ack", { alert_id: id, note: field(req, "note") });
  if (out.ok) out.message = `Acknowledged alert ${id}.`;
  reply(req, res, app, ctx, "/console", out);
}

/** `POST /console/control/:action` (halt, reduce-only, resume, flatten). */
export async function controlAction(app: App, req: Request, res: Response): Promise<void> {
  const ctx = res.locals.console as ConsoleContext;
  const key = String(req.params.action);
  const back = "/console/control";
  const a = CONTROL_ACTIONS[key];
  if (!a || !actionAvailable(app, a)) {
    reply(req, res, app, ctx, back, {
      ok: false,
      status: 404,
      code: "NOT_FOUND",
      message: `No control action ${key}.`,
    });
    return;
  }
  if (a.confirm && field(req, "confirm") !== a.confirm) {
    reply(req, res, app, ctx, back, {
      ok: false,
      status: 400,
      code: "INVALID_INPUT",
      message: `${a.label} needs confirmation: type ${a.confirm} exactly. Nothing was changed.`,
    });
    return;
  }
  const nonce = field(req, "nonce");
  const out = await gated(app, ctx, a.tool, {
    reason: field(req, "reason"),
    idempotency_key: nonce ? `console:${nonce}` : undefined,
  });
  if (out.ok) {
    const r = out.result ?? {};
    out.message =
      typeof r.mode === "string"
        ? `${String(r.previous_mode)} → ${r.mode} (${String(r.reason)})`
        : `${a.label} done.`;
  }
  reply(req, res, app, ctx, back, out);
}
