import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { TwError } from "../../src/errors.js";
import {
  fundingCoverage,
  loadCandleColumns,
  loadCandleFile,
  loadFundingFile,
  openReplayDir,
  ReplaySource,
} from "../../src/exchange/replay/index.js";
import { REPLAY_30D, DATA } from "../helpers/app.js";

const dir = mkdtempSync(join(tmpdir(), "tw-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, name.endsWith(".gz") ? gzipSync(text) : text);
  return p;
}

function errorOf(fn: () => unknown): TwError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TwError) return e;
    throw e;
  }
  throw new Error("expected a TwError");
}

describe("replay CSV loader", () => {
  it("reads the shipped 1m file exactly (first row and row count from the README)", () => {
    const c = loadCandleColumns(join(REPLAY_30D, "BTCUSDT_1m.csv.gz"));
    expect(c.length).toBe(43199);
    expect([c.time[0], c.open[0], c.high[0], c.low[0], c.close[0], c.volume[0]]).toEqual([
      1748169180000, 107187.4, 107194.2, 107165, 107194.2, 22.67,
    ]);
  });

  it("a bad header names the file and line 1", () => {
    const p = file("BAD1_1m.csv", "when,open,high,low,close,volume\n1748169180000,1,1,1,1,1\n");
    const e = errorOf(() => loadCandleFile(p));
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toMatch(/^BAD1_1m\.csv:1: bad header/);
    expect(e.details).toEqual({ file: p, line: 1 });
  });

  it("a non-numeric value names the file, line and column", () => {
    const p = file(
      "BAD2_1m.csv.gz",
      "open_time_ms,open,high,low,close,volume\n1748169180000,1,2,1,1,5\n1748169240000,1,2,abc,1,5\n",
    );
    const e = errorOf(() => loadCandleFile(p));
    expect(e.message).toBe('BAD2_1m.csv.gz:3: low "abc" is not a number');
    expect(e.details?.line).toBe(3);
  });

  it("decreasing timestamps name the file and line", () => {
    const p = file(
      "BAD3_1m.csv",
      "open_time_ms,open,high,low,close,volume\n1748169240000,1,2,1,1,5\n1748169180000,1,2,1,1,5\n",
    );
    const e = errorOf(() => loadCandleFile(p));
    expect(e.message).toMatch(/^BAD3_1m\.csv:3: time 1748169180000 is not after/);
  });

  it("a decreasing funding timestamp names the file and line", () => {
    const p = file(
      "BAD4_funding.csv",
      "funding_time_ms,funding_rate\n1568131200000,0.0001\n1568102400000,0.0001\n",
    );
    expect(errorOf(() => loadFundingFile(p)).message).toMatch(/^BAD4_funding\.csv:3:/);
  });

  it("accepts the freqtrade `date` (ISO) and ccxt `timestamp` (seconds) header variants", () => {
    const a = file("FT_1m.csv", "date,open,high,low,close,volume\n2025-05-25 10:33:00+00:00,1,2,0.5,1.5,3\n");
    const b = file("CC_1m.csv", "timestamp,o,h,l,c,v\n1748169180,1,2,0.5,1.5,3\n");
    const want = [{ time: 1748169180000, open: 1, high: 2, low: 0.5, close: 1.5, volume: 3 }];
    expect(loadCandleFile(a)).toEqual(want);
    expect(loadCandleFile(b)).toEqual(want);
  });

  it("reads the Hyperliquid funding export (extra coin/premium columns)", () => {
    const pts = loadFundingFile(
      join(DATA, "funding", "hyperliquid", "BTC_funding_2023-05-12_2023-07-17.csv"),
    );
    expect(pts).toHaveLength(1038);
    expect(pts[0]).toEqual({ time: 1683849600048, rate: -0.00061334 });
  });
});

describe("replay folders", () => {
  it("accepts <COIN><QUOTE>_funding*.csv[.gz] funding names and ignores look-alikes", () => {
    const d = mkdtempSync(join(tmpdir(), "tw-fundnames-"));
    try {
      writeFileSync(join(d, "BTCUSDT_1m.csv"), "open_time_ms,open,high,low,close,volume\n0,1,1,1,1,1\n");
      for (const n of [
        "SOLUSDT_funding_2023-07_2023-08.csv.gz",
        "ETHUSDC_funding.csv",
        "ADA_funding-2025.csv",
        "DOGEUSDT_fundingrate.csv",
        "XRPUSDT_funding.json",
      ])
        writeFileSync(join(d, n), "");
      const r = openReplayDir(d);
      expect([...r.funding.keys()].sort()).toEqual(["ADA", "ETH", "SOL"]);
      expect(r.funding.get("SOL")).toEqual([join(d, "SOLUSDT_funding_2023-07_2023-08.csv.gz")]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("discovers COINUSDT_<interval> files and funding from several folders; canonical symbol is the coin", async () => {
    const d = openReplayDir([REPLAY_30D, join(DATA, "funding", "binance_usdm")]);
    expect([...d.candles.keys()].sort()).toEqual(["ADA", "BTC", "DOGE", "ETH", "SOL"]);
    expect([...(d.candles.get("BTC")?.keys() ?? [])].sort()).toEqual(["1m"]);
    expect(d.funding.get("SOL")).toEqual([
      join(DATA, "funding", "binance_usdm", "SOLUSDT_funding_2025-05_2025-06.csv.gz"),
    ]);
    const clock = new SimClock(Date.UTC(2025, 5, 1, 9));
    const src = new ReplaySource(d, clock);
    const f = await src.funding("BTC", { limit: 2 });
    // Binance settles at 00:00/08:00/16:00 UTC with a few ms of jitter; 08:00 on 2025-06-01 is the last before 09:00.
    expect(f).toHaveLength(2);
    expect(f[1].time).toBeGreaterThanOrEqual(Date.UTC(2025, 5, 1, 8));
    expect(f[1].time).toBeLessThan(Date.UTC(2025, 5, 1, 8, 1));
    expect(f[1].time - f[0].time).toBeGreaterThan(8 * 3_600_000 - 60_000);
  });

  it("aggregated 1h candles equal the OHLCV of their sixty 1m rows", async () => {
    const clock = new SimClock(Date.UTC(2025, 5, 2));
    const src = new ReplaySource(openReplayDir(REPLAY_30D), clock);
    const [h] = await src.candles("ETH", "1h", { start: Date.UTC(2025, 5, 1, 10), limit: 1 });
    const m = (await src.candles("ETH", "1m", { start: Date.UTC(2025, 5, 1, 10), limit: 60 })).slice(0, 60);
    expect(h.time).toBe(Date.UTC(2025, 5, 1, 10));
    expect(h.open).toBe(m[0].open);
    expect(h.close).toBe(m[59].close);
    expect(h.high).toBe(Math.max(...m.map((x) => x.high)));
    expect(h.low).toBe(Math.min(...m.map((x) => x.low)));
    expect(h.volume).toBeCloseTo(
      m.reduce((a, x) => a + x.volume, 0),
      9,
    );
  });

  it("a missing folder is a CONFIG_INVALID error naming it", () => {
    const e = errorOf(() => openReplayDir(join(dir, "nope")));
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.message).toContain("nope");
  });
});

describe("replay funding from several files", () => {
  const real = loadFundingFile(
    join(DATA, "funding", "binance_usdm", "BTCUSDT_funding_2025-05_2025-06.csv.gz"),
  );
  const csv = (pts: Array<{ time: number; rate: number }>) =>
    `funding_time_ms,funding_rate\n${pts.map((p) => `${p.time},${p.rate}`).join("\n")}\n`;
  const candles = "open_time_ms,open,high,low,close,volume\n0,1,1,1,1,1\n";

  it("two periods of one symbol in one folder are both served, not only the first file", async () => {
    const d = mkdtempSync(join(tmpdir(), "tw-fundsplit-"));
    try {
      const half = Math.floor(real.length / 2);
      writeFileSync(join(d, "BTCUSDT_1m.csv"), candles);
      writeFileSync(join(d, "BTCUSDT_funding_2025-05.csv.gz"), gzipSync(csv(real.slice(0, half))));
      writeFileSync(join(d, "BTCUSDT_funding_2025-06.csv"), csv(real.slice(half)));
      const src = new ReplaySource(openReplayDir(d), new SimClock(Date.UTC(2025, 6, 1)));
      expect(await src.funding("BTC", { start: 0 })).toEqual(real);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("overlapping files in two folders merge by funding minute: ms jitter is one event, and the coverage counts each 8-hour time once", async () => {
    const a = mkdtempSync(join(tmpdir(), "tw-funda-"));
    const b = mkdtempSync(join(tmpdir(), "tw-fundb-"));
    try {
      writeFileSync(join(a, "BTCUSDT_1m.csv"), candles);
      writeFileSync(join(a, "BTCUSDT_funding.csv"), csv(real.slice(0, 100)));
      // The same events 3 ms later (another download of the same settlements), plus the rest.
      writeFileSync(join(b, "BTCUSDT_funding_all.csv"), csv(real.map((p) => ({ ...p, time: p.time + 3 }))));
      const dirs = openReplayDir([a, b]);
      expect(dirs.funding.get("BTC")).toHaveLength(2);
      const src = new ReplaySource(dirs, new SimClock(Date.UTC(2025, 6, 1)));
      const merged = await src.funding("BTC", { start: 0 });
      expect(merged).toHaveLength(real.length);
      expect(merged.slice(0, 100)).toEqual(real.slice(0, 100));
      expect(merged[100].time).toBe(real[100].time + 3);
      expect(src.allFunding("BTC").conflicts).toEqual([]);
      const june = { from: Date.UTC(2025, 5, 1), to: Date.UTC(2025, 5, 30, 16) };
      expect(src.fundingCoverage(["BTC"], june.from, june.to)).toEqual({ BTC: 1 });
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it("a rate that differs between files for the same minute is a reported conflict; the first folder's rate is kept", () => {
    const a = mkdtempSync(join(tmpdir(), "tw-fundc-"));
    const b = mkdtempSync(join(tmpdir(), "tw-fundd-"));
    try {
      writeFileSync(join(a, "BTCUSDT_1m.csv"), candles);
      writeFileSync(join(a, "BTCUSDT_funding.csv"), csv(real.slice(0, 3)));
      writeFileSync(
        join(b, "BTCUSDT_funding.csv"),
        csv([{ time: real[1].time, rate: real[1].rate + 0.001 }]),
      );
      const src = new ReplaySource(openReplayDir([a, b]), new SimClock(Date.UTC(2025, 6, 1)));
      const m = src.allFunding("BTC");
      expect(m.points.map((p) => p.rate)).toEqual(real.slice(0, 3).map((p) => p.rate));
      expect(m.conflicts).toEqual([Math.floor(real[1].time / 60_000) * 60_000]);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it("coverage is the share of 8-hour funding times with an event: a file missing the second half of June covers half of June", () => {
    const june = real.filter((p) => p.time >= Date.UTC(2025, 5, 1) && p.time < Date.UTC(2025, 5, 16));
    // 2025-06-01 00:00 → 06-30 16:00 holds 90 funding times; the first 15 days hold 45 of them.
    expect(fundingCoverage(june, Date.UTC(2025, 5, 1), Date.UTC(2025, 5, 30, 16))).toBe(45 / 90);
    expect(fundingCoverage([], Date.UTC(2025, 5, 1, 1), Date.UTC(2025, 5, 1, 7))).toBe(1);
    expect(fundingCoverage([], Date.UTC(2025, 5, 1, 1), Date.UTC(2025, 5, 1, 9))).toBe(0);
  });
});
