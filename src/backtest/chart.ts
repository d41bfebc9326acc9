import type { Trade } from "./types.js";

/**
 * Backtest chart: three stacked panels — price of the first symbol with entry (▲ long / ▼ short) and
 * exit (●) markers, equity, and drawdown — as a PNG. Declared as a Vega-Lite spec, rendered to SVG by
 * Vega (headless, no canvas) and rasterised by resvg; all three are maintained libraries that work
 * offline. They are imported lazily so the server does not pay their load time until a chart is asked for.
 */

/** Inputs of a chart: the stored downsampled curves and the trades. */
export interface ChartInput {
  title: string;
  symbol: string;
  samples: { time: number[]; equity: number[]; drawdown: number[]; close: number[][] };
  trades: Trade[];
  /** Output width in px (default 1000). */
  width?: number;
}

/** Most trade markers drawn (the latest ones); more would hide the price line. */
export const MAX_MARKERS = 400;

/** The Vega-Lite spec of a chart (exported for tests and debugging). */
export function chartSpec(c: ChartInput): Record<string, unknown> {
  const width = c.width ?? 1000;
  const series = c.samples.time.map((t, i) => ({
    t,
    close: c.samples.close[0]?.[i] ?? null,
    equity: c.samples.equity[i],
    drawdown: -c.samples.drawdown[i],
  }));
  const marks: Array<{ t: number; px: number; kind: string }> = [];
  for (const tr of c.trades.filter((x) => x.symbol === c.symbol).slice(-MAX_MARKERS)) {
    marks.push({
      t: tr.entry_time,
      px: tr.entry_price,
      kind: tr.side === "long" ? "long entry" : "short entry",
    });
    if (tr.exit_time !== null && tr.exit_price !== null)
      marks.push({ t: tr.exit_time, px: tr.exit_price, kind: "exit" });
  }
  const x = { field: "t", type: "temporal", title: null, axis: { format: "%m-%d %H:%M" } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: c.title,
    background: "white",
    config: { font: "sans-serif", view: { stroke: "#ddd" } },
    vconcat: [
      {
        width,
        height: 260,
        layer: [
          {
            data: { values: series },
            mark: { type: "line", strokeWidth: 1, color: "#555" },
            encoding: {
              x,
              y: { field: "close", type: "quantitative", title: `${c.symbol} close`, scale: { zero: false } },
            },
          },
          {
            data: { values: marks },
            mark: { type: "point", filled: true, size: 40 },
            encoding: {
              x: { field: "t", type: "temporal" },
              y: { field: "px", type: "quantitative" },
              shape: {
                field: "kind",
                scale: {
                  domain: ["long entry", "short entry", "exit"],
                  range: ["triangle-up", "triangle-down", "circle"],
                },
                legend: { orient: "top", title: null },
              },
              color: {
                field: "kind",
                scale: {
                  domain: ["long entry", "short entry", "exit"],
                  range: ["#1a9850", "#d73027", "#4575b4"],
                },
                legend: null,
              },
            },
          },
        ],
      },
      {
        width,
        height: 160,
        data: { values: series },
        mark: { type: "line", color: "#2c7fb8" },
        encoding: {
          x,
          y: { field: "equity", type: "quantitative", title: "equity", scale: { zero: false } },
        },
      },
      {
        width,
        height: 110,
        data: { values: series },
        mark: { type: "area", color: "#e34a33", opacity: 0.6, line: { color: "#b30000" } },
        encoding: {
          x,
          y: { field: "drawdown", type: "quantitative", title: "drawdown", axis: { format: ".1%" } },
        },
      },
    ],
  };
}

/**
 * Renders the chart to PNG bytes.
 * @throws Error when rendering fails (the tool turns it into INTERNAL).
 */
export async function renderChartPng(c: ChartInput): Promise<{ png: Buffer; width: number; height: number }> {
  const [vega, vl, { Resvg }] = await Promise.all([
    import("vega"),
    import("vega-lite"),
    import("@resvg/resvg-js"),
  ]);
  const compiled = vl.compile(chartSpec(c) as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const img = new Resvg(svg, { font: { loadSystemFonts: true }, background: "white" }).render();
  return { png: img.asPng(), width: img.width, height: img.height };
}
