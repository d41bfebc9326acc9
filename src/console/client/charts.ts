import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  type IChartApi,
  LineSeries,
  type SeriesMarker,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";

/**
 * Charts of the console, drawn with TradingView lightweight-charts v5 from the JSON the server
 * serves (src/console/pages/portfolio.ts chartData, research.ts backtestCurve). A candlestick chart
 * per coin carries fills (arrows) and cycle decisions (circles) as series markers and non-NORMAL
 * control modes as full-height translucent bands (a histogram series on its own hidden scale).
 */

interface CandleData {
  symbol: string;
  candles: Array<{ time: number; open: number; high: number; low: number; close: number }>;
  markers: Array<{ time: number; kind: "fill" | "cycle"; side: "buy" | "sell" | null; text: string }>;
  bands: Array<{ from: number; to: number; mode: string; reason: string }>;
}

interface CurveData {
  equity: Array<{ time: number; value: number }>;
  drawdown: Array<{ time: number; value: number }>;
}

const live = new Map<Element, IChartApi>();

const BASE = {
  autoSize: true,
  layout: { background: { type: ColorType.Solid, color: "#ffffff" }, textColor: "#1f2937" },
  grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
  timeScale: { timeVisible: true, secondsVisible: false },
} as const;

const ts = (s: number) => s as UTCTimestamp;

function candles(el: HTMLElement, d: CandleData): IChartApi {
  const chart = createChart(el, BASE);
  const bands = chart.addSeries(HistogramSeries, {
    priceScaleId: "bands",
    priceLineVisible: false,
    lastValueVisible: false,
    base: 0,
  });
  chart.priceScale("bands").applyOptions({ scaleMargins: { top: 0, bottom: 0 }, visible: false });
  const bandAt = (t: number) => d.bands.find((b) => t >= b.from && t < b.to);
  bands.setData(
    d.candles.map((c) => {
      const b = bandAt(c.time);
      return b
        ? {
            time: ts(c.time),
            value: 1,
            color: b.mode === "HALT" ? "rgba(220,38,38,0.16)" : "rgba(245,158,11,0.18)",
          }
        : { time: ts(c.time) };
    }),
  );
  const series = chart.addSeries(CandlestickSeries, {
    upColor: "#16a34a",
    downColor: "#dc2626",
    borderVisible: false,
    wickUpColor: "#16a34a",
    wickDownColor: "#dc2626",
  });
  series.setData(d.candles.map((c) => ({ ...c, time: ts(c.time) })));
  const markers: SeriesMarker<Time>[] = d.markers.map((m) =>
    m.kind === "fill"
      ? {
          time: ts(m.time),
          position: m.side === "buy" ? "belowBar" : "aboveBar",
          shape: m.side === "buy" ? "arrowUp" : "arrowDown",
          color: m.side === "buy" ? "#15803d" : "#b91c1c",
          text: m.text,
        }
      : { time: ts(m.time), position: "inBar", shape: "circle", color: "#2563eb", text: m.text, size: 0.6 },
  );
  createSeriesMarkers(series, markers);
  chart.timeScale().fitContent();
  return chart;
}

function curve(el: HTMLElement, d: CurveData): IChartApi {
  const chart = createChart(el, BASE);
  const eq = chart.addSeries(LineSeries, { color: "#2563eb", lineWidth: 2, priceLineVisible: false });
  eq.setData(d.equity.map((p) => ({ time: ts(p.time), value: p.value })));
  const dd = chart.addSeries(
    AreaSeries,
    {
      lineColor: "#dc2626",
      topColor: "rgba(220,38,38,0.05)",
      bottomColor: "rgba(220,38,38,0.35)",
      priceFormat: { type: "percent" },
      priceLineVisible: false,
    },
    1,
  );
  dd.setData(d.drawdown.map((p) => ({ time: ts(p.time), value: p.value * 100 })));
  chart.timeScale().fitContent();
  return chart;
}

/** Draws every `[data-chart]` element under `root` (replacing charts drawn there before). */
export async function mountCharts(root: ParentNode): Promise<void> {
  for (const [el, chart] of live) {
    if (!el.isConnected) {
      chart.remove();
      live.delete(el);
    }
  }
  const els = [...root.querySelectorAll<HTMLElement>("[data-chart]")];
  await Promise.all(
    els.map(async (el) => {
      const src = el.dataset.src;
      if (!src) return;
      try {
        const res = await fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!res.ok) throw new Error(`${res.status}`);
        const data = await res.json();
        live.get(el)?.remove();
        el.replaceChildren();
        if (el.dataset.chart === "candles" && (data as CandleData).candles.length === 0) {
          el.textContent = "No candles in this window.";
          el.dataset.drawn = "empty";
          return;
        }
        live.set(
          el,
          el.dataset.chart === "candles" ? candles(el, data as CandleData) : curve(el, data as CurveData),
        );
        el.dataset.drawn = "yes";
      } catch (e) {
        el.textContent = `Chart unavailable (${(e as Error).message}).`;
        el.dataset.drawn = "error";
      }
    }),
  );
}
