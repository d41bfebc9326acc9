import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { App } from "../app.js";
import { TwError } from "../errors.js";
import { ackAlert, controlAction, decideIntent } from "./actions.js";
import { assetsDir } from "./assets.js";
import { eventStream } from "./events.js";
import { consoleGuard } from "./guard.js";
import { type Html, html } from "./html.js";
import { layout, loginPage, type NavKey } from "./layout.js";
import { approvalsPage, intentPage } from "./pages/approvals.js";
import { auditFilter, auditPage, exportAudit } from "./pages/audit.js";
import { controlPage } from "./pages/control.js";
import { ordersPage } from "./pages/orders.js";
import { overviewPage } from "./pages/overview.js";
import { chartData, portfolioPage } from "./pages/portfolio.js";
import { backtestCurve, backtestPage, experimentPage, researchPage } from "./pages/research.js";
import {
  type ConsoleContext,
  login,
  logout,
  refusalText,
  requireCsrf,
  requireSession,
  setSessionCookie,
} from "./session.js";
import type { ChangeKind } from "../store/changes.js";

/**
 * The operator console as one express Router, mounted at `/console` by `serve --http`
 * (src/server/http.ts) and by `tradewarden console` (src/console/server.ts). Routes (docs/console.md):
 * login/logout, the pages, `POST /intents/:id/approve|reject`, `POST /control/:action`, the audit
 * export, JSON for charts, and the event stream. Every response carries a strict CSP; HTML is
 * never cached.
 */

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // lightweight-charts sets element styles from script; no inline <style> or style attributes are served.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("Content-Security-Policy", CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  // not no-referrer: with it browsers send `Origin: null` on form posts, which the Origin rules refuse.
  res.setHeader("Referrer-Policy", "same-origin");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  next();
}

/** A `next` target after login: only paths inside the console (never another host). */
function safeNext(v: unknown): string {
  return typeof v === "string" && /^\/console(\/[^\\]*)?$/.test(v) && !v.startsWith("//") ? v : "/console";
}

type Body = (req: Request, res: Response, ctx: ConsoleContext) => Html | null | Promise<Html | null>;

/** Options of {@link consoleRouter}. */
export interface ConsoleRouterOptions {
  /** Address the listener is bound to (for the Host allow-list). */
  boundHost: string;
}

/**
 * Builds the console router for an app. Registers an `onClose` hook that ends open event streams.
 */
export function consoleRouter(app: App, opts: ConsoleRouterOptions): Router {
  const r = express.Router();
  const assets = assetsDir();
  const events = eventStream(app);
  app.onClose(events.stopAll);

  r.use(consoleGuard(app.config, opts.boundHost));
  r.use(securityHeaders);
  if (assets) r.use("/assets", express.static(assets, { index: false, fallthrough: false, maxAge: 0 }));
  else
    app.log.warn("console assets are not built (npm run build): pages work without charts and live updates");
  r.use(express.urlencoded({ extended: false, limit: "32kb", parameterLimit: 50 }));

  const page =
    (
      title: string | ((req: Request) => string),
      active: NavKey | null,
      live: readonly ChangeKind[],
      body: Body,
    ) =>
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const ctx = res.locals.console as ConsoleContext;
        const b = await body(req, res, ctx);
        res.setHeader("Cache-Control", "no-store");
        if (b === null) {
          res
            .status(404)
            .type("html")
            .send(
              layout(app, ctx, {
                title: "Not found",
                active,
                live: [],
                body: html`<p>Nothing here. <a href="/console">Overview</a></p>`,
              }),
            );
          return;
        }
        const t = typeof title === "string" ? title : title(req);
        res.type("html").send(layout(app, ctx, { title: t, active, live, body: b }));
      } catch (e) {
        next(e);
      }
    };

  r.get("/login", (req, res) => {
    res.setHeader("Cache-Control", "no-store");
    res.type("html").send(
      loginPage({
        notice: refusalText(req.query.why as string | undefined),
        next: safeNext(req.query.next),
      }),
    );
  });
  r.post("/login", (req, res) => {
    const body = req.body as Record<string, unknown>;
    const out = login(app, typeof body.token === "string" ? body.token : "");
    if (!out.ok) {
      res
        .status(out.status)
        .type("html")
        .send(loginPage({ error: out.message, next: safeNext(body.next) }));
      return;
    }
    setSessionCookie(app, req, res, out.sessionId, out.session);
    res.redirect(303, safeNext(body.next));
  });

  r.use(requireSession(app));

  r.post("/logout", requireCsrf(app), (req, res) => {
    logout(app, req, res);
    res.redirect(303, "/console/login");
  });
  r.get("/events", events.handler);

  r.get(
    "/",
    page("Overview", "", ["control", "orders", "fills", "intents", "approvals", "cycles"], (_q, _s, ctx) =>
      overviewPage(app, ctx),
    ),
  );
  r.post("/alerts/:id/ack", requireCsrf(app), (req, res, next) => ackAlert(app, req, res).catch(next));
  r.get(
    "/approvals",
    page("Approvals", "approvals", ["intents", "approvals", "orders", "control"], (_q, _s, ctx) =>
      approvalsPage(app, ctx),
    ),
  );
  r.get(
    "/intents/:id",
    page(
      (req) => `Intent ${req.params.id}`,
      "approvals",
      ["approvals", "orders", "control"],
      (req, _s, ctx) => intentPage(app, ctx, String(req.params.id)),
    ),
  );
  r.post("/intents/:id/approve", requireCsrf(app), (req, res, next) =>
    decideIntent(app, req, res, "approve").catch(next),
  );
  r.post("/intents/:id/reject", requireCsrf(app), (req, res, next) =>
    decideIntent(app, req, res, "reject").catch(next),
  );
  r.get(
    "/orders",
    page("Orders, fills and intents", "orders", ["orders", "fills", "intents", "approvals"], (req) =>
      ordersPage(app, req.query as Record<string, string>),
    ),
  );
  const hoursOf = (req: Request) => Math.min(168, Math.max(1, Number(req.query.hours) || 6));
  r.get(
    "/portfolio",
    page("Portfolio cycle", "portfolio", ["cycles", "fills", "control"], (req) =>
      portfolioPage(app, hoursOf(req)),
    ),
  );
  r.get(
    "/audit",
    page("Audit", "audit", ["audit"], (req) => auditPage(app, req.query as Record<string, string>)),
  );
  r.get("/audit/export", async (req, res, next) => {
    let filter: ReturnType<typeof auditFilter>;
    try {
      filter = auditFilter(req.query as Record<string, string>);
    } catch (e) {
      res
        .status(400)
        .type("text/plain")
        .send(`${(e as Error).message}\n`);
      return;
    }
    await exportAudit(app, res, String(req.query.format ?? "csv"), filter).catch(next);
  });
  r.get(
    "/research",
    page("Research", "research", [], () => researchPage(app)),
  );
  r.get(
    "/research/backtests/:id",
    page("Backtest", "research", [], (req) => backtestPage(app, String(req.params.id))),
  );
  r.get(
    "/research/experiments/:id",
    page("Experiment", "research", [], (req) => experimentPage(app, String(req.params.id))),
  );
  r.get(
    "/control",
    page("Control", "control", ["control"], (_q, _s, ctx) => controlPage(app, ctx)),
  );
  r.post("/control/:action", requireCsrf(app), (req, res, next) => controlAction(app, req, res).catch(next));

  r.get("/api/chart/:symbol", async (req, res, next) => {
    const symbol = String(req.params.symbol).toUpperCase();
    if (!/^[A-Z0-9]{1,20}$/.test(symbol)) {
      res.status(400).json({ error: "INVALID_INPUT", message: "symbol must be a base coin such as BTC" });
      return;
    }
    try {
      res.setHeader("Cache-Control", "no-store");
      res.json(await chartData(app, symbol, hoursOf(req)));
    } catch (e) {
      if (e instanceof TwError) res.status(e.code === "NOT_FOUND" ? 404 : 502).json(e.toJSON());
      else next(e);
    }
  });
  r.get("/api/backtests/:id/curve", (req, res) => {
    const c = backtestCurve(app, String(req.params.id));
    if (!c) res.status(404).json({ error: "NOT_FOUND", message: "no such backtest" });
    else res.json(c);
  });

  r.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      if (!res.headersSent) res.status(status).type("text/plain").send("Not found\n");
      return;
    }
    app.log.error({ err }, "console request failed");
    if (!res.headersSent)
      res.status(500).type("text/plain").send("Internal error; the incident was logged.\n");
  });
  return r;
}
