import type { App } from "../../app.js";
import { ORDER_STATUSES as STATUSES } from "../../exchange/venue.js";
import { queryFills } from "../../store/fills.js";
import { listIntents } from "../../store/intents.js";
import { listOrders, recordedCallers, recordedVenues } from "../../store/orders.js";
import { type Html, html, num, time } from "../html.js";
import { intentStatus } from "../reads.js";

/**
 * Orders, fills and intents with filters (venue, symbol, caller, order status), newest first.
 * Filters are a GET form, so every filtered view has a URL.
 */

/** Query of the orders page (all optional; empty strings count as absent). */
export interface OrdersQuery {
  tab?: string;
  venue?: string;
  symbol?: string;
  caller?: string;
  status?: string;
  limit?: string;
}

const clean = (v: string | undefined) => (v && v.trim() !== "" ? v.trim() : undefined);

function options(values: string[], selected: string | undefined): Html {
  return html`<option value="">any</option>${values.map((v) => html`<option ${v === selected ? html`selected` : ""}>${v}</option>`)}`;
}

/** The orders page body. */
export function ordersPage(app: App, q: OrdersQuery): Html {
  const tab = q.tab === "fills" || q.tab === "intents" ? q.tab : "orders";
  const venue = clean(q.venue);
  const symbol = clean(q.symbol)?.toUpperCase();
  const caller = clean(q.caller);
  const status = STATUSES.find((s) => s === clean(q.status));
  const limit = Math.min(1000, Math.max(1, Number(q.limit) || 100));
  const venues = recordedVenues(app.db);
  const callers = recordedCallers(app.db);
  const tabLink = (t: string, label: string) => {
    const p = new URLSearchParams({
      ...(venue && { venue }),
      ...(symbol && { symbol }),
      ...(caller && { caller }),
      tab: t,
    });
    return html`<a href="/console/orders?${p.toString()}" ${tab === t ? html`aria-current="page"` : ""}>${label}</a>`;
  };

  let table: Html;
  if (tab === "orders") {
    const rows = listOrders(app.db, {
      venue,
      symbol,
      caller,
      statuses: status ? [status] : undefined,
      limit,
    });
    table = html`<table><caption>${rows.length} order(s)</caption><thead><tr><th scope="col">Created</th><th scope="col">Venue</th><th scope="col">Symbol</th><th scope="col">Side</th><th scope="col">Type</th><th scope="col" class="n">Size</th><th scope="col" class="n">Price</th><th scope="col">Status</th><th scope="col" class="n">Filled</th><th scope="col" class="n">Avg px</th><th scope="col">Caller</th><th scope="col">Client id</th><th scope="col">Reason</th></tr></thead>
<tbody>${rows.map((o) => html`<tr><td>${time(o.created_at)}</td><td>${o.venue}</td><td>${o.symbol}</td><td>${o.side}${o.reduce_only ? " (RO)" : ""}</td><td>${o.type}${o.tpsl ? ` ${o.tpsl}` : ""}</td><td class="n">${o.size}</td><td class="n">${num(o.price ?? o.trigger_px)}</td><td>${o.status}</td><td class="n">${o.filled_size}</td><td class="n">${num(o.avg_px)}</td><td>${o.caller}</td><td>${o.intent_id ? html`<a href="/console/intents/${o.intent_id}"><code>${o.client_order_id}</code></a>` : html`<code>${o.client_order_id}</code>`}</td><td>${o.reason ?? ""}</td></tr>`)}</tbody></table>`;
  } else if (tab === "fills") {
    const rows = queryFills(app.db, { venue, symbol, caller, limit });
    table = html`<table><caption>${rows.length} fill(s)</caption><thead><tr><th scope="col">Time</th><th scope="col">Venue</th><th scope="col">Symbol</th><th scope="col">Side</th><th scope="col" class="n">Size</th><th scope="col" class="n">Price</th><th scope="col" class="n">Fee</th><th scope="col">Liquidity</th><th scope="col" class="n">Realised PnL</th><th scope="col">Caller</th><th scope="col">Client id</th></tr></thead>
<tbody>${rows.map((f) => html`<tr><td>${time(f.time)}</td><td>${f.venue}</td><td>${f.symbol}</td><td>${f.side}</td><td class="n">${f.size}</td><td class="n">${num(f.price)}</td><td class="n">${num(f.fee, 4)}</td><td>${f.liquidity}</td><td class="n">${num(f.realized_pnl)}</td><td>${f.caller ?? "—"}</td><td><code>${f.client_order_id ?? ""}</code></td></tr>`)}</tbody></table>`;
  } else {
    const rows = listIntents(app.db, { venue, symbol, caller, limit });
    table = html`<table><caption>${rows.length} intent(s)</caption><thead><tr><th scope="col">Created</th><th scope="col">Intent</th><th scope="col">Venue</th><th scope="col">Symbol</th><th scope="col">Side</th><th scope="col" class="n">Size</th><th scope="col" class="n">Notional</th><th scope="col">Approval needed</th><th scope="col">Status</th><th scope="col">Caller</th></tr></thead>
<tbody>${rows.map((i) => html`<tr><td>${time(i.created_at)}</td><td><a href="/console/intents/${i.id}"><code>${i.id}</code></a></td><td>${i.venue}</td><td>${i.symbol}</td><td>${i.side}</td><td class="n">${i.size}</td><td class="n">${num(i.notional)}</td><td>${i.approval_needed ? "yes" : "no"}</td><td>${intentStatus(app, i)}</td><td>${i.caller}</td></tr>`)}</tbody></table>`;
  }

  return html`
<nav class="tabs" aria-label="Record type">${tabLink("orders", "Orders")} ${tabLink("fills", "Fills")} ${tabLink("intents", "Intents")}</nav>
<form method="get" action="/console/orders" class="filters">
  <input type="hidden" name="tab" value="${tab}">
  <label>Venue <select name="venue">${options(venues, venue)}</select></label>
  <label>Symbol <input name="symbol" value="${symbol ?? ""}" size="6" pattern="[A-Za-z0-9]{1,20}"></label>
  <label>Caller <select name="caller">${options(callers, caller)}</select></label>
  ${tab === "orders" ? html`<label>Status <select name="status">${options([...STATUSES], status)}</select></label>` : ""}
  <label>Limit <input name="limit" type="number" min="1" max="1000" value="${limit}"></label>
  <button type="submit">Filter</button>
</form>
${table}`;
}
