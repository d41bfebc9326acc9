import { createHmac, timingSafeEqual } from "node:crypto";
import { parseCookie } from "cookie";
import type { NextFunction, Request, Response } from "express";
import type { App } from "../app.js";
import { callerFor, type Caller } from "../policy/scopes.js";
import { appendAudit } from "../store/audit.js";
import {
  type ConsoleSession,
  createConsoleSession,
  endConsoleSession,
  resolveConsoleSession,
  type SessionRefusal,
  sessionHash,
} from "../store/consoleSessions.js";
import { authenticateToken } from "../store/tokens.js";

/**
 * Console login sessions (docs/console.md). `POST /console/login` with an operator or readonly API
 * token opens a session: an HttpOnly, SameSite=Strict cookie holding a random session id that
 * expires after `console.sessionTtlMs`. Each request re-checks the session and its token, so a
 * revoked token's session ends at its next request. The CSRF token of a session is
 * HMAC-SHA256(session id, "csrf"): the server recomputes it, and a page of another origin can
 * neither read the cookie nor the token. Logins (also refused ones) and logouts are audited.
 */

/** Name of the session cookie. */
export const COOKIE = "tw_console";

/** What a request of a logged-in operator carries (res.locals.console). */
export interface ConsoleContext {
  session: ConsoleSession;
  /** The CSRF token every mutating request must echo in the form field `csrf`. */
  csrf: string;
  /** The policy-gate caller of this session: `console:<token name>` with the token's profile. */
  caller: Caller;
}

/** CSRF token of a session id. */
export function csrfToken(sessionId: string): string {
  return createHmac("sha256", sessionId).update("csrf").digest("base64url");
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(sessionId: string, presented: unknown): boolean {
  if (typeof presented !== "string") return false;
  const a = Buffer.from(csrfToken(sessionId));
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The caller a console session acts as in the policy gate. */
export function consoleCaller(s: Pick<ConsoleSession, "token_name" | "profile">): Caller {
  return callerFor(`console:${s.token_name}`, s.profile, "console");
}

function sessionIdOf(req: Request): string | undefined {
  const raw = req.headers.cookie;
  if (!raw) return undefined;
  const v = parseCookie(raw)[COOKIE];
  return v && /^[A-Za-z0-9_-]{43}$/.test(v) ? v : undefined;
}

function secure(app: App, req: Request): boolean {
  return req.secure || app.config.console.publicUrl?.startsWith("https:") === true;
}

function clearCookie(app: App, req: Request, res: Response): void {
  res.clearCookie(COOKIE, { path: "/console", httpOnly: true, sameSite: "strict", secure: secure(app, req) });
}

function audit(app: App, caller: string, tool: string, ok: boolean, code: string | null, result: unknown) {
  appendAudit(app.db, {
    ts: app.clock.now(),
    caller,
    tool,
    args: {},
    decision: ok ? "allowed" : "refused",
    code,
    result,
    durationMs: 0,
  });
}

/** Outcome of a login attempt. */
export type LoginResult =
  | { ok: true; sessionId: string; session: ConsoleSession }
  | { ok: false; status: 401 | 403; message: string };

/**
 * Checks a presented API token and opens a session. Agent tokens are refused: the console can
 * approve, and an agent must never approve its own orders. The token itself is never logged.
 */
export function login(app: App, token: string): LoginResult {
  const now = app.clock.now();
  const who = token ? authenticateToken(app.db, token.trim(), now) : undefined;
  if (!who) {
    audit(app, "console:anonymous", "console.login", false, "FORBIDDEN_SCOPE", { reason: "invalid_token" });
    return { ok: false, status: 401, message: "Unknown or revoked token." };
  }
  if (who.profile !== "operator" && who.profile !== "readonly") {
    audit(app, `console:${who.name}`, "console.login", false, "FORBIDDEN_SCOPE", {
      reason: "profile_not_allowed",
      profile: who.profile,
    });
    return {
      ok: false,
      status: 403,
      message: `Token "${who.name}" has the ${who.profile} profile; the console accepts operator and readonly tokens only.`,
    };
  }
  const { id, session } = createConsoleSession(app.db, {
    tokenId: who.id,
    tokenName: who.name,
    profile: who.profile,
    now,
    ttlMs: app.config.console.sessionTtlMs,
  });
  audit(app, `console:${who.name}`, "console.login", true, null, {
    profile: who.profile,
    expires_at: session.expires_at,
  });
  return { ok: true, sessionId: id, session };
}

/** Sets the session cookie (expires with the session). */
export function setSessionCookie(app: App, req: Request, res: Response, id: string, s: ConsoleSession) {
  res.cookie(COOKIE, id, {
    path: "/console",
    httpOnly: true,
    sameSite: "strict",
    secure: secure(app, req),
    maxAge: Math.max(0, s.expires_at - app.clock.now()),
  });
}

/** Ends the request's session (logout) and clears the cookie; audited. */
export function logout(app: App, req: Request, res: Response): void {
  const id = sessionIdOf(req);
  if (id) {
    const r = resolveConsoleSession(app.db, id, app.clock.now());
    if (r.ok && endConsoleSession(app.db, sessionHash(id), app.clock.now(), "logout")) {
      audit(app, `console:${r.session.token_name}`, "console.logout", true, null, null);
    }
  }
  clearCookie(app, req, res);
}

const REFUSAL_TEXT: Record<string, string> = {
  unknown: "Please log in.",
  ended: "Your session has ended; log in again.",
  expired: "Your session expired; log in again.",
  token_revoked: "The token of your session was revoked; log in with an active token.",
};

/**
 * Middleware: a valid session or nothing. Pages redirect to the login page (saying why); the event
 * stream, JSON endpoints and POSTs get 401. Sets `res.locals.console` ({@link ConsoleContext}).
 */
export function requireSession(app: App) {
  return (req: Request, res: Response, next: NextFunction) => {
    const refuse = (reason: SessionRefusal, session?: ConsoleSession) => {
      if (reason === "token_revoked" && session) {
        audit(app, `console:${session.token_name}`, "console.session_end", false, "FORBIDDEN_SCOPE", {
          reason,
        });
      }
      if (reason !== "unknown") clearCookie(app, req, res);
      const page = req.method === "GET" && req.path !== "/events" && req.accepts(["html", "json"]) === "html";
      if (page) {
        const next = encodeURIComponent(req.originalUrl);
        res.redirect(303, `/console/login?why=${encodeURIComponent(reason)}&next=${next}`);
      } else res.status(401).json({ error: "UNAUTHENTICATED", message: REFUSAL_TEXT[reason] });
    };
    const id = sessionIdOf(req);
    if (!id) return refuse("unknown");
    const r = resolveConsoleSession(app.db, id, app.clock.now());
    if (!r.ok) return refuse(r.reason, r.session);
    const ctx: ConsoleContext = { session: r.session, csrf: csrfToken(id), caller: consoleCaller(r.session) };
    res.locals.console = ctx;
    res.locals.sessionId = id;
    next();
  };
}

/** Human text for a `why` code of the login page. */
export function refusalText(code: string | undefined): string | undefined {
  return code ? REFUSAL_TEXT[code] : undefined;
}

/**
 * Middleware for mutating requests: the form field `csrf` must match the session's token. A miss is
 * refused with 403 and audited (it is either a bug or an attack), and nothing runs.
 */
export function requireCsrf(app: App) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = res.locals.sessionId as string;
    const presented = (req.body as Record<string, unknown> | undefined)?.csrf;
    if (csrfMatches(id, presented)) return next();
    const ctx = res.locals.console as ConsoleContext;
    audit(app, ctx.caller.id, "console.csrf", false, "FORBIDDEN_SCOPE", {
      path: req.path,
      reason: presented === undefined ? "missing" : "mismatch",
    });
    res.status(403).json({
      error: "CSRF",
      message: "Missing or wrong CSRF token: reload the page and try again.",
    });
  };
}
