import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fundingCoverage } from "../../src/backtest/coverage.js";
import { loadFrameFromDirs } from "../../src/backtest/data.js";
import { DATA, FUNDING, REPLAY_30D } from "../helpers/app.js";
import { readFunding } from "./helpers.js";

const H8 = 8 * 3_600_000;
const btc = readFunding(join(FUNDING, "BTCUSDT_funding_2025-05_2025-06.csv.gz")).map((e) => e.time);
// The 30-day window, bar opens 2025-05-25 10:35 → 2025-06-24 10:31 (1m bars; end exclusive).
const start = Date.UTC(2025, 4, 25, 10, 35);
const end = Date.UTC(2025, 5, 24, 10, 32);
// Funding times inside it, counted by hand: 2025-05-25 16:00 … 2025-06-24 08:00 = 90.
const TIMES = 90;

describe("funding coverage", () => {
  it("is 1 for Binance's 8-hourly file over the 30 days, and drops by 1/90 per missing event", () => {
    expect(fundingCoverage(btc, start, end)).toBe(1);
    const gap = btc.filter((t) => Math.round(t / 60_000) * 60_000 !== Date.UTC(2025, 5, 1, 8));
    expect(gap.length).toBe(btc.length - 1);
    expect(fundingCoverage(gap, start, end)).toBeCloseTo((TIMES - 1) / TIMES, 12);
    expect(fundingCoverage([], start, end)).toBe(0);
    // Data that stops halfway covers the funding times up to its last event only.
    const half = btc.filter((t) => t < Date.UTC(2025, 5, 9, 12));
    // 2025-05-25 16:00 (1) + 26 May … 8 June (14 × 3) + 9 June 00:00 and 08:00 (2) = 45 funding times.
    expect(fundingCoverage(half, start, end)).toBeCloseTo(45 / TIMES, 12);
  });

  it("counts venues that settle hourly or at offset hours (04/12/20 UTC) as covered", () => {
    // Hyperliquid BTC: 8-hourly until 2023-06-08, hourly after (one hourly event absent upstream).
    const hl = readFileSync(join(DATA, "funding/hyperliquid/BTC_funding_2023-05-12_2023-07-17.csv"), "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => Number(l.split(",")[0]));
    expect(fundingCoverage(hl, Date.UTC(2023, 5, 10), Date.UTC(2023, 6, 10))).toBe(1);
    const offset = btc.map((t) => t + 4 * 3_600_000);
    expect(fundingCoverage(offset, start, end)).toBe(1);
  });

  it("is 1 for a window holding no funding time, and counts a funding time at the first bar's open", () => {
    expect(fundingCoverage([], Date.UTC(2025, 5, 1, 1), Date.UTC(2025, 5, 1, 7))).toBe(1);
    const t = Date.UTC(2025, 5, 1, 8);
    expect(fundingCoverage([], t, t + 12 * 60_000)).toBe(0);
    expect(fundingCoverage([t + 2], t, t + 12 * 60_000)).toBe(1);
    expect(fundingCoverage([t - H8], t, t + 12 * 60_000)).toBe(0);
  });

  it("frames record it per symbol: 0 without funding files or with funding off, 1 with the embedded funding", () => {
    const q = { symbols: ["BTC", "DOGE"], interval: "1h" as const };
    expect(loadFrameFromDirs(REPLAY_30D, q).fundingCoverage).toEqual([0, 0]);
    expect(loadFrameFromDirs([REPLAY_30D, FUNDING], q).fundingCoverage).toEqual([1, 1]);
    expect(loadFrameFromDirs([REPLAY_30D, FUNDING], { ...q, funding: false }).fundingCoverage).toEqual([
      0, 0,
    ]);
  });
});
