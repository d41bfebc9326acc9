import type { App } from "../../app.js";
import { describeIntent } from "../../policy/approval.js";
import { approvalsOf, recentDecisions } from "../../store/approvals.js";
import { getIntent, type IntentRow } from "../../store/intents.js";
import { ordersOfIntent } from "../../store/orders.js";
import { type Html, html, json, num, time } from "../html.js";
import { csrfField } from "../layout.js";
import { intentStatus, pendingIntents } from "../reads.js";
import type { ConsoleContext } from "../session.js";

/**
 * Approvals: intents waiting for a human decision with every risk check, the preview and who asked;
 * approve (`POST /console/intents/:id/approve`) or reject with a reason. One intent's page lives at
 * `GET /console/intents/:id` — the URL given to agents' humans by URL-mode elicitation.
 */

function checksTable(i: IntentRow): Html {
  return html`<table class="checks"><caption>Risk checks at proposal</caption>
<thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">Value</th><th scope="col">Limit</th><th scope="col">Detail</th></tr></thead>
<tbody>${i.checks.map(
    (c) =>
      html`<tr><th scope="row">${c.check}</th><td class="${c.passed ? "pos" : "neg"}">${c.passed ? "pass" : "FAIL"}</td><td>${json(c.value, 60)}</td><td>${json(c.limit, 60)}</td><td>${c.message}</td></tr>`,
  )}</tbody></table>`;
}

function decisionForms(ctx: ConsoleContext, i: IntentRow): Html {
  if (ctx.session.profile !== "operator") {
    return html`<p class="muted">Read-only session: approving needs an operator token.</p>`;
  }
  return html`<div class="decide">
<form method="post" action="/console/intents/${i.id}/approve" class="inline">
  ${csrfField(ctx)}
  <label for="ar-${i.id}">Reason (optional)</label>
  <input id="ar-${i.id}" name="reason" maxlength="500">
  <button type="submit" class="approve" data-testid="approve-${i.id}">Approve</button>
</form>
<form method="post" action="/console/intents/${i.id}/reject" class="inline">
  ${csrfField(ctx)}
  <label for="rr-${i.id}">Reason (required)</label>
  <input id="rr-${i.id}" name="reason" required minlength="3" maxlength="500">
  <button type="submit" class="reject" data-testid="reject-${i.id}">Reject</button>
</form>
</div>`;
}

/** One intent as a card: preview, who asked, state, checks, and the decision forms when open. */
export function intentCard(app: App, ctx: ConsoleContext, i: IntentRow, level: 2 | 3 = 2): Html {
  const status = intentStatus(app, i);
  const open = status === "pending" || status === "expired";
  const heading = html`<a href="/console/intents/${i.id}">${i.side.toUpperCase()} ${i.size} ${i.symbol}</a> on ${i.venue}`;
  return html`<article class="card intent" id="intent-${i.id}" aria-label="Intent ${i.id}">
${level === 2 ? html`<h2>${heading}</h2>` : html`<h3>${heading}</h3>`}
<p class="preview">${describeIntent(i)}</p>
<dl class="kv">
  <dt>Intent</dt><dd><code>${i.id}</code></dd>
  <dt>Asked by</dt><dd>${i.caller}</dd>
  <dt>Proposed</dt><dd>${time(i.created_at)}</dd>
  <dt>Notional</dt><dd>${num(i.notional)} (ref ${num(i.ref_price)}, est. fee ${num(i.est_fee, 4)})</dd>
  <dt>Client order id</dt><dd><code>${i.client_order_id}</code></dd>
  <dt>Status</dt><dd><span class="status status-${status}" data-testid="status-${i.id}">${status}</span></dd>
</dl>
${checksTable(i)}
${open ? decisionForms(ctx, i) : ""}
</article>`;
}

/** The approvals page body. */
export function approvalsPage(app: App, ctx: ConsoleContext): Html {
  const pending = pendingIntents(app, 100);
  const recent = recentDecisions(app.db, 20);
  return html`
<p>Intents that need a human decision. An approval binds to the intent's exact payload and expires after
${Math.round(app.config.approval.ttlMs / 60_000)} min; a rejection is final.</p>
<section aria-labelledby="h-pend"><h2 id="h-pend" class="sr-only">Pending</h2>
${pending.length === 0 ? html`<p class="muted" data-testid="no-pending">Nothing waits for approval.</p>` : pending.map((i) => intentCard(app, ctx, i, 3))}
</section>
<section aria-labelledby="h-recent"><h2 id="h-recent">Recent decisions</h2>
${
  recent.length === 0
    ? html`<p class="muted">None yet.</p>`
    : html`<table><thead><tr><th scope="col">Time</th><th scope="col">Intent</th><th scope="col">Decision</th><th scope="col">By</th><th scope="col">Via</th><th scope="col">Reason</th><th scope="col">Expires</th></tr></thead>
<tbody>${recent.map((a) => html`<tr><td>${time(a.ts)}</td><td><a href="/console/intents/${a.intent_id}"><code>${a.intent_id}</code></a></td><td class="${a.decision === "approved" ? "pos" : "neg"}">${a.decision}</td><td>${a.actor}</td><td>${a.via}</td><td>${a.reason ?? ""}</td><td>${time(a.expires_at)}</td></tr>`)}</tbody></table>`
}
</section>`;
}

/** One intent's approval page, or null when the intent does not exist. */
export function intentPage(app: App, ctx: ConsoleContext, id: string): Html | null {
  const i = getIntent(app.db, id);
  if (!i) return null;
  const orders = ordersOfIntent(app.db, id);
  const answers = approvalsOf(app.db, id);
  return html`${intentCard(app, ctx, i)}
<section aria-labelledby="h-hist"><h2 id="h-hist">Decisions</h2>
${
  answers.length === 0
    ? html`<p class="muted">No decision recorded.</p>`
    : html`<ol>${answers.map((a) => html`<li>${time(a.ts)} <strong>${a.decision}</strong> by ${a.actor} via ${a.via}${a.reason ? html` — ${a.reason}` : ""}${a.expires_at ? html` (valid until ${time(a.expires_at)})` : ""}</li>`)}</ol>`
}
</section>
<section aria-labelledby="h-ord"><h2 id="h-ord">Orders</h2>
${
  orders.length === 0
    ? html`<p class="muted">Not submitted.</p>`
    : html`<table><thead><tr><th scope="col">Order</th><th scope="col">Status</th><th scope="col" class="n">Filled</th><th scope="col" class="n">Avg px</th><th scope="col">Reason</th><th scope="col">Updated</th></tr></thead>
<tbody>${orders.map((o) => html`<tr><td><code>${o.id}</code>${o.tpsl ? html` (${o.tpsl})` : ""}</td><td>${o.status}</td><td class="n">${o.filled_size}</td><td class="n">${num(o.avg_px)}</td><td>${o.reason ?? ""}</td><td>${time(o.updated_at)}</td></tr>`)}</tbody></table>`
}
</section>`;
}
