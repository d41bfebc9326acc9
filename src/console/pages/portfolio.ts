import type { App } from "../../app.js";
import type { Interval } from "../../exchange/types.js";
import { controlHistory } from "../../store/control.js";
import { type CycleRecord, recentCycles } from "../../store/cycles.js";
import { queryFills } from "../../store/fills.js";
import { type Html, html, pct, time } from "../html.js";

/**
 * Portfolio cycle: target vs approved vs actual weights, the last cycles with their clips and
 * skipped slices, and a candlestick chart per coin (lightweight-charts, drawn in the browser from
 * {@link chartData}) with fills and cycle decisions as markers and control-mode changes as bands.
 */

/** One marker on a coin's chart (time in seconds, as lightweight-charts wants). */
export interface ChartMarker {
  time: number;
  kind: "fill" | "cycle";
  side: "buy" | "sell" | null;
  text: string;
}

/** Chart payload of one coin: candles (s, quote), markers, and non-NORMAL mode bands [from, to) in s. */
export interface ChartData {
  symbol: string;
  interval: Interval;
  candles: Array<{ time: number; open: number; high: number; low: number; close: number }>;
  markers: ChartMarker[];
  bands: Array<{ from: number; to: number; mode: string; reason: string }>;
}

const sec = (ms: number) => Math.floor(ms / 1000);

/** Weight a cycle approved for a symbol (0 when absent). */
const approvedOf = (c: CycleRecord, s: string) => c.approved.weights[s] ?? 0;

/**
 * Builds a coin's chart data over the last `hours` of market time: 1m candles up to 6 h, 5m beyond.
 * Markers are snapped to their candle's open time so they sit on a bar.
 * @throws TwError NOT_FOUND for a symbol the market does not list.
 */
export async function chartData(app: App, symbol: string, hours: number): Promise<ChartData> {
  const interval: Interval = hours <= 6 ? "1m" : "5m";
  const iv = interval === "1m" ? 60_000 : 300_000;
  const end = app.marketClock.now();
  const start = end - hours * 3_600_000;
  const candles = await app.market.candles(symbol, interval, { start, end });
  const snap = (ms: number) => sec(Math.floor(ms / iv) * iv);
  const markers: ChartMarker[] = [];
  for (const f of queryFills(app.db, { symbol, since: start, until: end, limit: 5000 })) {
    markers.push({
      time: snap(f.time),
      kind: "fill",
      side: f.side,
      text: `${f.side === "buy" ? "B" : "S"} ${f.size}`,
    });
  }
  const cycles = recentCycles(app.db, 5000, start - 3_600_000).reverse();
  let prev: number | null = null;
  for (const c of cycles) {
    const w = approvedOf(c, symbol);
    const clips = c.approved.rejections.filter((r) => r.symbol === symbol);
    const changed = prev === null ? w !== 0 : Math.abs(w - prev) > 1e-9;
    if (c.ts >= start && (changed || clips.length > 0)) {
      const delta = prev === null ? w : w - prev;
      markers.push({
        time: snap(c.ts),
        kind: "cycle",
        side: delta > 0 ? "buy" : delta < 0 ? "sell" : null,
        text: `w ${pct(w, 1)}${clips.length > 0 ? ` clip:${clips.map((r) => r.reason).join(",")}` : ""}`,
      });
    }
    prev = w;
  }
  markers.sort((a, b) => a.time - b.time);
  const changes = controlHistory(app.db, 10_000).reverse();
  const bands: ChartData["bands"] = [];
  changes.forEach((m, k) => {
    const to = k + 1 < changes.length ? changes[k + 1].since : end + iv;
    if (m.mode === "NORMAL" || to <= start || m.since > end) return;
    bands.push({ from: snap(Math.max(m.since, start)), to: snap(to), mode: m.mode, reason: m.reason });
  });
  return {
    symbol,
    interval,
    candles: candles.map((k) => ({
      time: sec(k.time),
      open: k.open,
      high: k.high,
      low: k.low,
      close: k.close,
    })),
    markers,
    bands,
  };
}

function weightsTable(app: App, last: CycleRecord | undefined, current: Record<string, number>): Html {
  const requested: Record<string, number> = {};
  for (const t of last?.target.target?.targets ?? []) requested[t.symbol] = t.weight;
  const approved = last?.approved.weights ?? {};
  const symbols = [...new Set([...app.config.universe, ...Object.keys(requested), ...Object.keys(current)])];
  return html`<table><caption>Weights (fraction of equity, long &gt; 0)${last ? html` — cycle <code>${last.id}</code>, target from ${last.target.used}${last.target.reason ? ` (${last.target.reason})` : ""}` : ""}</caption>
<thead><tr><th scope="col">Coin</th><th scope="col" class="n">Target</th><th scope="col" class="n">Approved</th><th scope="col" class="n">Actual</th></tr></thead>
<tbody>${symbols.map((s) => html`<tr><th scope="row">${s}</th><td class="n">${s in requested ? pct(requested[s]) : "—"}</td><td class="n">${pct(approved[s] ?? 0)}</td><td class="n">${pct(current[s] ?? 0)}</td></tr>`)}</tbody></table>`;
}

function cyclesTable(cycles: CycleRecord[]): Html {
  if (cycles.length === 0)
    return html`<p class="muted">No cycle has run yet (cycle.enabled is needed in serve).</p>`;
  return html`<table><caption>Last ${cycles.length} cycles</caption>
<thead><tr><th scope="col">Cycle</th><th scope="col">Status</th><th scope="col">Mode</th><th scope="col">Target</th><th scope="col" class="n">Gross</th><th scope="col" class="n">Net</th><th scope="col" class="n">Turnover</th><th scope="col">Clips</th><th scope="col">Skipped</th><th scope="col">Report</th></tr></thead>
<tbody>${cycles.map(
    (c) =>
      html`<tr><td>${time(c.ts)}<br><code>${c.id}</code></td><td>${c.status}</td><td>${c.mode}</td><td>${c.target.used}${c.target.reason ? html` <span class="muted">(${c.target.reason})</span>` : ""}</td><td class="n">${pct(c.approved.gross)}</td><td class="n">${pct(c.approved.net)}</td><td class="n">${pct(c.approved.turnover)}</td>
<td>${c.approved.rejections.length === 0 ? "—" : html`<ul class="compact">${c.approved.rejections.map((r) => html`<li>${r.symbol} ${r.reason}: ${pct(r.original_weight)} → ${pct(r.approved_weight)}</li>`)}</ul>`}</td>
<td>${c.plan.skipped.length === 0 && !c.report?.skipped_budget ? "—" : html`<ul class="compact">${c.plan.skipped.map((s) => html`<li>${s.symbol} ${s.reason} (Δw ${pct(s.delta_weight)})</li>`)}${c.report?.skipped_budget ? html`<li>${c.report.skipped_budget} slice(s) over the 24 h notional budget</li>` : ""}</ul>`}</td>
<td>${c.report ? html`${c.plan.slices.length} planned, ${c.report.sent} sent, ${c.report.filled} filled, ${c.report.rejected} rejected${c.report.refused.length > 0 ? html`, refused: ${c.report.refused.map((r) => r.code).join(", ")}` : ""}` : html`${c.plan.slices.length} planned`}</td></tr>`,
  )}</tbody></table>`;
}

/** The portfolio page body. */
export async function portfolioPage(app: App, hours: number): Promise<Html> {
  const status = await app.engine.status().catch(() => null);
  const cycles = recentCycles(app.db, 15);
  const current = (status?.current_weights as Record<string, number> | undefined) ?? {};
  return html`
<p>Cycle ${app.config.cycle.enabled ? "enabled" : "disabled"} on <strong>${app.config.cycle.venue}</strong>, every ${app.config.cycle.seconds} s${status ? html`; next tick ${time(status.next_tick as number)}; gross ${pct(status.current_gross as number)}, net ${pct(status.current_net as number)}` : ""}.</p>
${weightsTable(app, cycles[0], current)}
${cyclesTable(cycles)}
<section aria-labelledby="h-charts"><h2 id="h-charts">Charts</h2>
<form method="get" action="/console/portfolio" class="filters"><label>Window (hours) <input name="hours" type="number" min="1" max="168" value="${hours}"></label><button type="submit">Show</button></form>
<p class="legend"><span class="lg lg-buy">▲ buy fill</span> <span class="lg lg-sell">▼ sell fill</span> <span class="lg lg-cycle">● cycle decision (approved weight, clips)</span> <span class="lg lg-ro">reduce-only</span> <span class="lg lg-halt">halt</span></p>
${app.config.universe.map(
  (s) =>
    html`<figure class="chart-box"><figcaption>${s}</figcaption><div class="chart" role="img" aria-label="${s} candlestick chart with fills, cycle decisions and control-mode bands" data-chart="candles" data-src="/console/api/chart/${s}?hours=${hours}"></div></figure>`,
)}
</section>`;
}
