import { join } from "node:path";
import { EMA } from "technicalindicators";
import { describe, expect, it } from "vitest";
import { loadFrameFromDirs } from "../../src/backtest/data.js";
import { type BacktestSpec, runBacktest } from "../../src/backtest/run.js";
import { REPLAY_30D, DATA } from "../helpers/app.js";
import { readCsv, readFunding, relClose } from "./helpers.js";

const FEE = 4.5e-4;
const SLIP = 1e-4;

function spec(
  strategy: string,
  params: Record<string, unknown>,
  symbols = ["BTC"],
  extra: Partial<BacktestSpec> = {},
): BacktestSpec {
  return {
    strategy,
    params,
    data: { source: `replay:${REPLAY_30D}`, symbols, interval: "1m", from: null, to: null, funding: true },
    fee_bps: 4.5,
    slippage_bps: 1,
    initial_equity: 100_000,
    leverage: 1,
    ...extra,
  };
}

describe("engine on the real 30-day BTC 1m data", () => {
  const btc = readCsv(join(REPLAY_30D, "BTCUSDT_1m.csv.gz"));
  const frame = loadFrameFromDirs(REPLAY_30D, { symbols: ["BTC"], interval: "1m" });

  it("buy_and_hold returns close_last / (open_first × (1 + slippage) × (1 + fee)) − 1", async () => {
    const out = await runBacktest(frame, spec("buy_and_hold", {}));
    const n = btc.close.length;
    const expected = btc.close[n - 1] / (btc.open[0] * (1 + SLIP) * (1 + FEE)) - 1;
    expect(out.metrics.bars).toBe(n);
    expect(Math.abs(out.metrics.total_return - expected)).toBeLessThan(1e-12);
    expect(out.metrics.trades).toBe(0);
    expect(out.trades).toHaveLength(1);
    expect(out.trades[0].open).toBe(true);
    expect(out.metrics.exposure).toBe(1);
  });

  for (const allowShort of [false, true]) {
    it(`ema_cross(50, 200, allow_short=${allowShort}) trades exactly as recomputed from the CSV`, async () => {
      const n = btc.close.length;
      const align = (ref: number[]) => [...new Array(n - ref.length).fill(Number.NaN), ...ref];
      const f = align(EMA.calculate({ period: 50, values: btc.close }));
      const s = align(EMA.calculate({ period: 200, values: btc.close }));
      const sig = f.map((x, i) =>
        Number.isNaN(x) || Number.isNaN(s[i]) ? 0 : x > s[i] ? 1 : allowShort ? -1 : 0,
      );
      // Independent simulation of the documented conventions.
      const expected: Array<{
        side: string;
        entry_time: number;
        entry_price: number;
        exit_time: number;
        exit_price: number;
        fees: number;
      }> = [];
      let cash = 100_000;
      let q = 0;
      let pos = 0;
      let cur = { side: "", entry_time: 0, entry_price: 0, fees: 0 };
      for (let i = 0; i < n; i++) {
        const tgt = i === 0 ? 0 : sig[i - 1];
        if (tgt === pos) continue;
        if (q !== 0) {
          const px = btc.open[i] * (q > 0 ? 1 - SLIP : 1 + SLIP);
          const fee = Math.abs(q) * px * FEE;
          cash += q * px - fee;
          expected.push({ ...cur, exit_time: btc.time[i], exit_price: px, fees: cur.fees + fee });
          q = 0;
        }
        if (tgt !== 0) {
          const px = btc.open[i] * (tgt > 0 ? 1 + SLIP : 1 - SLIP);
          const qty = cash / (px * (1 + FEE));
          const fee = qty * px * FEE;
          q = tgt * qty;
          cash -= q * px + fee;
          cur = { side: tgt > 0 ? "long" : "short", entry_time: btc.time[i], entry_price: px, fees: fee };
        }
        pos = tgt;
      }
      const finalEquity = cash + q * btc.close[n - 1];

      const out = await runBacktest(
        frame,
        spec("ema_cross", { fast: 50, slow: 200, allow_short: allowShort }),
      );
      const closed = out.trades.filter((t) => !t.open);
      expect(expected.length).toBeGreaterThan(50);
      expect(closed).toHaveLength(expected.length);
      expect(out.metrics.trades).toBe(expected.length);
      closed.forEach((t, k) => {
        const e = expected[k];
        expect(t.side).toBe(e.side);
        expect(t.entry_time).toBe(e.entry_time);
        expect(t.exit_time).toBe(e.exit_time);
        expect(relClose(t.entry_price, e.entry_price, 1e-12)).toBe(true);
        expect(relClose(t.exit_price!, e.exit_price, 1e-12)).toBe(true);
        expect(relClose(t.fees, e.fees, 1e-9)).toBe(true);
      });
      expect(out.trades.some((t) => t.open)).toBe(q !== 0);
      expect(relClose(out.metrics.final_equity, finalEquity, 1e-9)).toBe(true);
      const feeSum = expected.reduce((a, t) => a + t.fees, 0);
      expect(out.metrics.fees_paid).toBeGreaterThanOrEqual(feeSum * (1 - 1e-9));
    });
  }
});

describe("funding", () => {
  it("a long pays −qty × close × rate at each funding event, using the close of the bar containing it", async () => {
    // Candles and funding share one folder here (ETHUSDT_funding_2024-01_2024-03.csv.gz).
    const ohlcv = join(DATA, "ohlcv", "binance_usdm_perp_1h_eth_2024q1");
    const fdir = ohlcv;
    const from = Date.UTC(2024, 0, 1);
    const to = Date.UTC(2024, 2, 31, 23);
    const frame = loadFrameFromDirs([ohlcv, fdir], { symbols: ["ETH"], interval: "1h", from, to });
    const out = await runBacktest(frame, {
      ...spec("buy_and_hold", {}, ["ETH"]),
      data: { source: "replay", symbols: ["ETH"], interval: "1h", from, to, funding: true },
    });
    const rows = readCsv(join(ohlcv, "ETHUSDT_1h.csv.gz"));
    const i0 = rows.time.indexOf(from);
    const i1 = rows.time.indexOf(to);
    const px = rows.open[i0] * (1 + SLIP);
    const qty = 100_000 / (px * (1 + FEE));
    let funding = 0;
    let events = 0;
    for (const e of readFunding(join(fdir, "ETHUSDT_funding_2024-01_2024-03.csv.gz"))) {
      const t = Math.round(e.time / 60_000) * 60_000;
      if (t < from || t >= to + 3_600_000) continue;
      const bar = rows.time.indexOf(Math.floor(t / 3_600_000) * 3_600_000);
      funding += -qty * rows.close[bar] * e.rate;
      events++;
    }
    expect(events).toBe(273); // 91 days × 3 events
    const expected = 100_000 - qty * px * FEE - qty * px + qty * rows.close[i1] + funding;
    expect(relClose(out.metrics.final_equity, expected, 1e-9)).toBe(true);
    expect(relClose(out.metrics.funding_paid, -funding, 1e-9)).toBe(true);
    expect(out.metrics.funding_paid).toBeGreaterThan(0);
  });
});

describe("metrics", () => {
  it("max drawdown and daily Sharpe of buy_and_hold match an independent computation from the CSV", async () => {
    const btc = readCsv(join(REPLAY_30D, "BTCUSDT_1m.csv.gz"));
    const frame = loadFrameFromDirs(REPLAY_30D, { symbols: ["BTC"], interval: "1m" });
    const out = await runBacktest(frame, spec("buy_and_hold", {}));
    const px = btc.open[0] * (1 + SLIP);
    const qty = 100_000 / (px * (1 + FEE));
    const cash = 100_000 - qty * px - qty * px * FEE;
    let peak = 100_000;
    let mdd = 0;
    const eod: number[] = [100_000];
    btc.close.forEach((c, i) => {
      const e = cash + qty * c;
      peak = Math.max(peak, e);
      mdd = Math.max(mdd, 1 - e / peak);
      const day = Math.floor(btc.time[i] / 86_400_000);
      if (i === btc.close.length - 1 || Math.floor(btc.time[i + 1] / 86_400_000) !== day) eod.push(e);
    });
    const r = eod.slice(1).map((e, k) => e / eod[k] - 1);
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    expect(r.length).toBe(31);
    expect(relClose(out.metrics.max_drawdown, mdd, 1e-9)).toBe(true);
    expect(relClose(out.metrics.sharpe!, (mean / sd) * Math.sqrt(365), 1e-9)).toBe(true);
  });
});
