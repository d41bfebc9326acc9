import { randomBytes } from "node:crypto";
import type { App } from "../../app.js";
import { controlHistory, getControl } from "../../store/control.js";
import { type Html, html, time } from "../html.js";
import { csrfField } from "../layout.js";
import type { ConsoleContext } from "../session.js";

/**
 * Control: halt, reduce-only, resume and flatten (when a `control_flatten` tool is registered), each
 * with a reason; resume and flatten also need the action's name typed as confirmation. Each form
 * carries a one-time nonce used as the tool's idempotency key, so a double-submitted form acts once.
 */

/** A console control action: the tool it calls and the word to type, when confirmation is needed. */
export interface ControlAction {
  tool: string;
  label: string;
  confirm: string | null;
  help: string;
}

/** Actions by URL segment (`POST /console/control/:action`). */
export const CONTROL_ACTIONS: Readonly<Record<string, ControlAction>> = {
  halt: {
    tool: "control_halt",
    label: "Halt",
    confirm: null,
    help: "Refuse every order that opens or increases exposure. Cancels and reduce-only closes still work.",
  },
  "reduce-only": {
    tool: "control_reduce_only",
    label: "Reduce-only",
    confirm: null,
    help: "Accept only reduce-only orders. From HALT this loosens control.",
  },
  resume: {
    tool: "control_resume",
    label: "Resume",
    confirm: "RESUME",
    help: "Back to NORMAL: orders that increase exposure are accepted again.",
  },
  flatten: {
    tool: "control_flatten",
    label: "Flatten",
    confirm: "FLATTEN",
    help: "Close every position with reduce-only orders.",
  },
};

/** Whether an action's tool exists in this build (flatten lands separately). */
export function actionAvailable(app: App, a: ControlAction): boolean {
  return app.tools.some((t) => t.name === a.tool);
}

function actionForm(ctx: ConsoleContext, key: string, a: ControlAction): Html {
  return html`<form method="post" action="/console/control/${key}" class="card control-form" aria-labelledby="h-${key}">
<h2 id="h-${key}">${a.label}</h2>
<p>${a.help}</p>
${csrfField(ctx)}
<input type="hidden" name="nonce" value="${randomBytes(12).toString("base64url")}">
<label for="reason-${key}">Reason (recorded)</label>
<input id="reason-${key}" name="reason" required minlength="3" maxlength="500">
${a.confirm ? html`<label for="confirm-${key}">Type <strong>${a.confirm}</strong> to confirm</label><input id="confirm-${key}" name="confirm" required autocomplete="off" pattern="${a.confirm}">` : ""}
<button type="submit" class="${key === "halt" || key === "flatten" ? "danger" : ""}" data-testid="control-${key}">${a.label}</button>
</form>`;
}

/** The control page body. */
export function controlPage(app: App, ctx: ConsoleContext): Html {
  const c = getControl(app.db);
  const history = controlHistory(app.db, 50);
  const forms = Object.entries(CONTROL_ACTIONS).filter(([, a]) => actionAvailable(app, a));
  return html`
<p>Current mode <span class="mode mode-${c.mode}" data-testid="control-mode">${c.mode}</span> since ${time(c.since)} by ${c.actor}: ${c.reason}</p>
${
  ctx.session.profile === "operator"
    ? html`<div class="grid">${forms.map(([k, a]) => actionForm(ctx, k, a))}</div>`
    : html`<p class="muted">Read-only session: changing the mode needs an operator token.</p>`
}
<section aria-labelledby="h-hist"><h2 id="h-hist">History</h2>
${
  history.length === 0
    ? html`<p class="muted">Never changed (NORMAL).</p>`
    : html`<table><thead><tr><th scope="col">Time</th><th scope="col">Mode</th><th scope="col">By</th><th scope="col">Reason</th></tr></thead>
<tbody>${history.map((h) => html`<tr><td>${time(h.since)}</td><td><span class="mode mode-${h.mode}">${h.mode}</span></td><td>${h.actor}</td><td>${h.reason}</td></tr>`)}</tbody></table>`
}
</section>`;
}
