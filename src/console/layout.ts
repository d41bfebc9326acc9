import type { App } from "../app.js";
import type { ChangeKind } from "../store/changes.js";
import { getControl } from "../store/control.js";
import { type Flash, takeFlash } from "../store/consoleSessions.js";
import { pendingIntents } from "./reads.js";
import { type Html, html, time } from "./html.js";
import type { ConsoleContext } from "./session.js";

/**
 * The page frame every console page shares: navigation, the control-mode banner, the signed-in
 * token with logout, the one-shot flash message, and the live-update wiring (`data-live` lists the
 * kinds of change that refresh the page; see src/console/client/live.ts).
 */

/** Navigation entries (path under /console, label, access key). */
export const NAV = [
  ["", "Overview", "o"],
  ["approvals", "Approvals", "a"],
  ["orders", "Orders", "r"],
  ["portfolio", "Portfolio", "p"],
  ["audit", "Audit", "u"],
  ["research", "Research", "s"],
  ["control", "Control", "c"],
] as const;

/** Key of a navigation entry. */
export type NavKey = (typeof NAV)[number][0];

/** What a page hands to {@link layout}. */
export interface PageSpec {
  title: string;
  active: NavKey | null;
  /** Kinds of change that make the browser refresh this page's live regions. */
  live: readonly ChangeKind[];
  body: Html;
}

/** Hidden CSRF field for a form of this session. */
export function csrfField(ctx: ConsoleContext): Html {
  return html`<input type="hidden" name="csrf" value="${ctx.csrf}">`;
}

function head(title: string): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · tradewarden console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script type="module" src="/console/assets/console.js"></script>
</head>`;
}

function flashBox(f: Flash | null): Html {
  if (!f) return html``;
  return html`<div class="flash flash-${f.kind}" role="${f.kind === "error" ? "alert" : "status"}">${f.text}</div>`;
}

/** Renders a full page for a logged-in session (consumes the session's flash message). */
export function layout(app: App, ctx: ConsoleContext, spec: PageSpec): string {
  const control = getControl(app.db);
  const pending = pendingIntents(app, 200).length;
  const flash = takeFlash(app.db, ctx.session.id_hash);
  const s = ctx.session;
  return html`${head(spec.title)}
<body data-live="${spec.live.join(" ")}">
<a class="skip" href="#main">Skip to content</a>
<header class="top" id="live-header" data-region>
  <div class="brand">tradewarden</div>
  <nav aria-label="Console">
    <ul>${NAV.map(
      ([path, label, key]) =>
        html`<li><a href="/console/${path}" accesskey="${key}" ${spec.active === path ? html`aria-current="page"` : ""}>${label}${path === "approvals" && pending > 0 ? html` <span class="badge" aria-label="${pending} pending">${pending}</span>` : ""}</a></li>`,
    )}</ul>
  </nav>
  <div class="who">
    <span class="mode mode-${control.mode}" title="${control.reason}">${control.mode}</span>
    <span>${s.token_name} · ${s.profile}</span>
    <form method="post" action="/console/logout">${csrfField(ctx)}<button type="submit">Log out</button></form>
  </div>
</header>
${control.mode !== "NORMAL" ? html`<div class="banner banner-${control.mode}" role="status" id="live-banner" data-region>Trading is <strong>${control.mode}</strong> since ${time(control.since)} by ${control.actor}: ${control.reason}</div>` : html`<div id="live-banner" data-region></div>`}
${flashBox(flash)}
<main id="main" tabindex="-1" data-region>
<h1>${spec.title}</h1>
${spec.body}
</main>
<footer><span>Session expires ${time(s.expires_at)}</span> · <span>Charts by <a href="https://www.tradingview.com/" rel="noopener noreferrer">TradingView Lightweight Charts™</a></span></footer>
</body>
</html>`.value;
}

/** The login page (no session). `error` is shown as an alert. */
export function loginPage(opts: { error?: string; notice?: string; next?: string }): string {
  return html`${head("Log in")}
<body class="login">
<main id="main">
<h1>tradewarden console</h1>
${opts.error ? html`<div class="flash flash-error" role="alert">${opts.error}</div>` : ""}
${opts.notice ? html`<div class="flash flash-ok" role="status">${opts.notice}</div>` : ""}
<form method="post" action="/console/login" class="card">
  <label for="token">Operator or readonly API token</label>
  <input id="token" name="token" type="password" autocomplete="off" required autofocus spellcheck="false">
  <input type="hidden" name="next" value="${opts.next ?? ""}">
  <button type="submit">Log in</button>
  <p class="hint">Create one with <code>tradewarden token create --profile operator --name NAME</code>. Agent tokens are refused.</p>
</form>
</main>
</body>
</html>`.value;
}
