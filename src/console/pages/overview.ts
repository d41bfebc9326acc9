import type { App } from "../../app.js";
import { getControl } from "../../store/control.js";
import { currentPortfolioLimits } from "../../store/portfolioLimits.js";
import { recentEvents } from "../../store/cycles.js";
import { type Html, html, json, num, pct, time } from "../html.js";
import { csrfField } from "../layout.js";
import type { ConsoleContext } from "../session.js";
import { accountOf, lastReconcileOf, pendingIntents, shownVenues } from "../reads.js";

/**
 * Overview: control mode and why, equity and drawdown, positions per venue (size, entry, mark, uPnL,
 * leverage), venues and data freshness, the background-lease holder, the last reconcile, open
 * alerts. Sections other areas provide (lease, alerts) appear once those areas are present.
 */

/** Renders any status section as a definition list (values as compact JSON). */
export function kv(obj: unknown): Html {
  if (obj === null || typeof obj !== "object") return html`<p>${json(obj)}</p>`;
  return html`<dl class="kv">${Object.entries(obj as Record<string, unknown>).map(
    ([k, v]) =>
      html`<dt>${k}</dt><dd>${typeof v === "number" && /(_at|since|time|now|as_of|expires)$/.test(k) && v > 1e12 ? time(v) : typeof v === "string" ? v : json(v)}</dd>`,
  )}</dl>`;
}

/**
 * Open alerts (src/alerts), newest first, with an Ack button per unacknowledged one: an `alert_ack`
 * tool call through the gate as the session's caller (readonly sessions are refused there).
 */
function alertsSection(app: App, ctx: ConsoleContext): Html {
  const { alerts } = app.alerts.list({ status: "open", limit: 50 });
  return html`<section aria-labelledby="h-alerts"><h2 id="h-alerts">Open alerts (${alerts.length})</h2>
  ${
    alerts.length === 0
      ? html`<p class="muted">No open alerts.</p>`
      : html`<table><thead><tr><th scope="col">Severity</th><th scope="col">Kind</th><th scope="col">Message</th><th scope="col">Raised</th><th scope="col">Seen</th><th scope="col">Acknowledged</th></tr></thead><tbody>${alerts.map(
          (a) => html`<tr>
  <td class="${a.severity === "critical" ? "neg" : ""}">${a.severity}</td><td>${a.kind}</td><td>${a.message}</td>
  <td>${time(a.raised_at)}</td><td>${a.occurrences}×</td>
  <td>${
    a.acknowledged_at !== null
      ? html`${time(a.acknowledged_at)} by ${a.acknowledged_by ?? ""}`
      : html`<form method="post" action="/console/alerts/${a.alert_id}/ack">${csrfField(ctx)}<button type="submit">Ack</button></form>`
  }</td></tr>`,
        )}</tbody></table>`
  }</section>`;
}

/** The overview page body. */
export async function overviewPage(app: App, ctx: ConsoleContext): Promise<Html> {
  const control = getControl(app.db);
  const limits = currentPortfolioLimits(app.db, app.config);
  const status = await app.engine.status().catch(() => null);
  const venues = shownVenues(app);
  const accounts = await Promise.all(venues.map(async (v) => ({ venue: v, acc: await accountOf(app, v) })));
  const market = app.statusProviders.get("market_data")?.() as
    | { source: string; now: number; as_of: number | null; stale: boolean | null }
    | undefined;
  const lease = app.statusProviders.get("lease");
  const pending = pendingIntents(app, 5);
  const reconcile = status?.last_reconcile as Record<string, unknown> | null | undefined;
  const events = [
    ...recentEvents(app.db, 5, "reconcile_failure"),
    ...recentEvents(app.db, 5, "reconcile_diff"),
  ].sort((a, b) => b.ts - a.ts);

  return html`
<div class="grid">
<section aria-labelledby="h-control" class="card">
  <h2 id="h-control">Control</h2>
  <p><span class="mode mode-${control.mode}">${control.mode}</span> since ${time(control.since)}</p>
  <p>${control.reason} — <span class="muted">${control.actor}</span></p>
  <p><a href="/console/control">Change…</a></p>
</section>
<section aria-labelledby="h-equity" class="card">
  <h2 id="h-equity">Equity (${status?.venue ?? app.config.cycle.venue})</h2>
  ${
    status
      ? html`<p class="big">${num(status.equity as number)}</p>
  <p>Peak ${num(status.peak_equity as number)} · drawdown <strong>${pct(status.drawdown as number)}</strong>
   (reduce-only at ${pct(limits.drawdownReduceOnly, 1)}, halt at ${pct(limits.drawdownHalt, 1)})</p>`
      : html`<p class="muted">Unavailable.</p>`
  }
</section>
<section aria-labelledby="h-pending" class="card">
  <h2 id="h-pending">Pending approvals</h2>
  ${
    pending.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<ul>${pending.map((i) => html`<li><a href="/console/intents/${i.id}">${i.side.toUpperCase()} ${i.size} ${i.symbol} on ${i.venue}</a> <span class="muted">by ${i.caller}</span></li>`)}</ul>`
  }
</section>
</div>

<section aria-labelledby="h-positions">
  <h2 id="h-positions">Positions</h2>
  ${accounts.map(({ venue, acc }) =>
    acc.ok
      ? html`<h3>${venue} <span class="muted">equity ${num(acc.state.equity)} · cash ${num(acc.state.cash)} · gross ${num(acc.state.gross_notional)}</span></h3>
  ${
    acc.state.positions.length === 0
      ? html`<p class="muted">Flat.</p>`
      : html`<table><thead><tr><th scope="col">Symbol</th><th scope="col" class="n">Size (coins)</th><th scope="col" class="n">Entry</th><th scope="col" class="n">Mark</th><th scope="col" class="n">uPnL</th><th scope="col" class="n">Leverage</th><th scope="col" class="n">Funding</th></tr></thead>
  <tbody>${acc.state.positions.map(
    (p) =>
      html`<tr><th scope="row">${p.symbol}</th><td class="n">${p.size}</td><td class="n">${num(p.entry_px)}</td><td class="n">${num(p.mark_px)}</td><td class="n ${Number(p.unrealized_pnl) < 0 ? "neg" : "pos"}">${num(p.unrealized_pnl)}</td><td class="n">${num(p.leverage, 2)}×</td><td class="n">${num(p.funding)}</td></tr>`,
  )}</tbody></table>`
  }`
      : html`<h3>${venue}</h3><p class="flash-error">Account unavailable: ${acc.error}</p>`,
  )}
</section>

<div class="grid">
<section aria-labelledby="h-venues" class="card">
  <h2 id="h-venues">Venues and data</h2>
  <table><thead><tr><th scope="col">Venue</th><th scope="col">Last reconcile</th></tr></thead>
  <tbody>${venues.map((v) => html`<tr><th scope="row">${v}</th><td>${time(lastReconcileOf(app, v))}</td></tr>`)}</tbody></table>
  ${
    market
      ? html`<p>Market data <strong>${market.source}</strong>: newest ${time(market.as_of)}, ${
          market.stale === null
            ? "no data read yet"
            : market.stale
              ? html`<span class="neg">STALE</span> (older than ${app.config.staleAfterMs / 1000} s)`
              : "fresh"
        } (clock ${time(market.now)})</p>`
      : ""
  }
</section>
<section aria-labelledby="h-reconcile" class="card">
  <h2 id="h-reconcile">Last reconcile</h2>
  ${reconcile ? kv(reconcile) : html`<p class="muted">Not reconciled by this process (the lease holder reconciles; times per venue at left).</p>`}
  ${
    events.length === 0
      ? ""
      : html`<h3>Recent reconcile events</h3><ul class="compact">${events.map((e) => html`<li>${time(e.ts)} ${e.kind}: <code>${json(e.detail, 140)}</code></li>`)}</ul>`
  }
</section>
${lease ? html`<section aria-labelledby="h-lease" class="card"><h2 id="h-lease">Background lease</h2>${kv(lease())}</section>` : ""}
</div>
${alertsSection(app, ctx)}
`;
}
