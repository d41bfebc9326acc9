import type { App } from "../../app.js";
import type { Metrics } from "../../backtest/types.js";
import { type Html, html, num, pct, time } from "../html.js";
import { kv } from "./overview.js";

/**
 * Research: stored backtests and experiments with their metrics; a backtest's page draws its equity
 * and drawdown curves (lightweight-charts, from {@link backtestCurve}) and lists its trades.
 */

function metricsRow(m: Metrics): Html {
  return html`<td class="n">${pct(m.total_return)}</td><td class="n">${pct(m.max_drawdown)}</td><td class="n">${num(m.sharpe)}</td><td class="n">${num(m.sortino)}</td><td class="n">${pct(m.win_rate, 1)}</td><td class="n">${m.trades}</td><td class="n">${num(m.fees_paid)}</td><td class="n">${num(m.funding_paid)}</td>`;
}
const METRIC_HEADS = html`<th scope="col" class="n">Return</th><th scope="col" class="n">Max DD</th><th scope="col" class="n">Sharpe</th><th scope="col" class="n">Sortino</th><th scope="col" class="n">Win rate</th><th scope="col" class="n">Trades</th><th scope="col" class="n">Fees</th><th scope="col" class="n">Funding</th>`;

/** The research page body: backtests and experiments, newest first. */
export function researchPage(app: App): Html {
  const bts = app.research.store.listBacktests({ limit: 50 });
  const exps = app.research.store.listExperiments(50);
  return html`
<section aria-labelledby="h-bt"><h2 id="h-bt">Backtests</h2>
${
  bts.length === 0
    ? html`<p class="muted">No stored backtest (run one with backtest_run or <code>tradewarden backtest</code>).</p>`
    : html`<table><thead><tr><th scope="col">Created</th><th scope="col">Strategy</th><th scope="col">Symbols</th><th scope="col">Interval</th><th scope="col">Caller</th>${METRIC_HEADS}</tr></thead>
<tbody>${bts.map((b) => html`<tr><td><a href="/console/research/backtests/${b.id}">${time(b.created_at)}</a></td><td>${b.strategy}</td><td>${b.symbols.join(", ")}</td><td>${b.interval}</td><td>${b.caller}</td>${metricsRow(b.metrics)}</tr>`)}</tbody></table>`
}
</section>
<section aria-labelledby="h-ex"><h2 id="h-ex">Experiments</h2>
${
  exps.length === 0
    ? html`<p class="muted">No stored experiment (experiment_run).</p>`
    : html`<table><thead><tr><th scope="col">Created</th><th scope="col">Strategy</th><th scope="col">Caller</th><th scope="col">Passed</th><th scope="col">Decision</th></tr></thead>
<tbody>${exps.map((e) => html`<tr><td><a href="/console/research/experiments/${e.id}">${time(e.created_at)}</a></td><td>${e.strategy}</td><td>${e.caller}</td><td class="${e.passed ? "pos" : "neg"}">${e.passed ? "yes" : "no"}</td><td>${e.decision}</td></tr>`)}</tbody></table>`
}
</section>`;
}

/** One backtest's page body, or null when unknown. */
export function backtestPage(app: App, id: string): Html | null {
  const b = app.research.store.getBacktest(id);
  if (!b) return null;
  const trades = app.research.store.trades(id, -1, 200);
  return html`
<p><code>${b.id}</code> · ${b.strategy} on ${b.symbols.join(", ")} (${b.interval}) · ${time(b.first_bar)} → ${time(b.last_bar)} · ${b.bars} bars · by ${b.caller}</p>
<table><thead><tr>${METRIC_HEADS}</tr></thead><tbody><tr>${metricsRow(b.metrics)}</tr></tbody></table>
<figure class="chart-box"><figcaption>Equity (quote) and drawdown</figcaption><div class="chart" role="img" aria-label="Equity and drawdown of backtest ${b.id}" data-chart="equity" data-src="/console/api/backtests/${b.id}/curve"></div></figure>
<details><summary>Spec</summary><pre>${JSON.stringify(b.spec, null, 2)}</pre></details>
<h2>Trades${b.trade_count > trades.length ? ` (first ${trades.length} of ${b.trade_count})` : ""}</h2>
<table><thead><tr><th scope="col">#</th><th scope="col">Symbol</th><th scope="col">Side</th><th scope="col">Entry</th><th scope="col" class="n">Entry px</th><th scope="col">Exit</th><th scope="col" class="n">Exit px</th><th scope="col" class="n">Qty</th><th scope="col" class="n">PnL</th><th scope="col" class="n">Return</th></tr></thead>
<tbody>${trades.map((t) => html`<tr><td>${t.seq}</td><td>${t.symbol}</td><td>${t.side}</td><td>${time(t.entry_time)}</td><td class="n">${num(t.entry_price)}</td><td>${time(t.exit_time)}</td><td class="n">${num(t.exit_price)}</td><td class="n">${num(t.qty, 4)}</td><td class="n ${t.pnl < 0 ? "neg" : "pos"}">${num(t.pnl)}</td><td class="n">${pct(t.return)}</td></tr>`)}</tbody></table>`;
}

/** Equity and drawdown curves of a backtest (time in s, equity quote, drawdown fraction ≤ 0), or null. */
export function backtestCurve(
  app: App,
  id: string,
): {
  equity: Array<{ time: number; value: number }>;
  drawdown: Array<{ time: number; value: number }>;
} | null {
  const b = app.research.store.getBacktest(id);
  if (!b) return null;
  const t = b.samples.time;
  const equity: Array<{ time: number; value: number }> = [];
  const drawdown: Array<{ time: number; value: number }> = [];
  for (let i = 0; i < t.length; i++) {
    // lightweight-charts needs strictly increasing times (s): keep the last sample of each second.
    if (i + 1 < t.length && Math.floor(t[i + 1] / 1000) <= Math.floor(t[i] / 1000)) continue;
    const time = Math.floor(t[i] / 1000);
    equity.push({ time, value: b.samples.equity[i] });
    drawdown.push({ time, value: -Math.abs(b.samples.drawdown[i]) });
  }
  return { equity, drawdown };
}

/** One experiment's page body, or null when unknown. */
export function experimentPage(app: App, id: string): Html | null {
  const e = app.research.store.getExperiment(id);
  if (!e) return null;
  return html`
<p><code>${e.id}</code> · ${e.strategy} · ${time(e.created_at)} · by ${e.caller} · <strong class="${e.passed ? "pos" : "neg"}">${e.passed ? "passed" : "did not pass"}</strong>: ${e.decision}</p>
<h2>Outcome</h2>${kv(e.outcome)}
<details><summary>Spec</summary><pre>${JSON.stringify(e.spec, null, 2)}</pre></details>`;
}
