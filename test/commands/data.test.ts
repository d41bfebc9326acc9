import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { loadCandleFile, loadFundingFile, openReplayDir } from "../../src/exchange/replay/index.js";
import { startHlFixtureServer, type HlFixtureServer } from "../exchange/hlFixtureServer.js";
import { DATA, FUNDING, perTest, REPLAY_30D } from "../helpers/app.js";
import { type RunResult, runAsync } from "../helpers/spawn.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const CASSETTES = join(DATA, "fixtures", "hyperliquid", "python_sdk_cassettes_json");

const { home, defer } = perTest();
// These tests start real processes (CLI, serve): minutes on a loaded machine, not seconds.
vi.setConfig({ testTimeout: 240_000 });

async function fixture(): Promise<HlFixtureServer> {
  const s = await startHlFixtureServer();
  defer(() => s.close());
  return s;
}

/** Runs the built CLI without blocking this process (the fixture server answers from here). */
function cli(args: string[], env: Record<string, string>): Promise<RunResult> {
  return runAsync("node", [CLI, ...args], { env: { ...process.env, TW_LOG_LEVEL: "silent", ...env } });
}

/** The recorded answer of a cassette interaction whose request has `type`. */
function recorded(file: string, type: string): Array<Record<string, string | number>> {
  const c = JSON.parse(readFileSync(join(CASSETTES, file), "utf8")) as {
    interactions: Array<{ request: { body: { type: string } }; response: { body: unknown } }>;
  };
  return c.interactions.find((i) => i.request.body.type === type)?.response.body as Array<
    Record<string, string | number>
  >;
}

describe("data fetch --out writes a replay folder", () => {
  it("the recorded Hyperliquid candles and funding land in <COIN><QUOTE>_<interval>.csv.gz and _funding_*.csv.gz, value for value", async () => {
    const hl = await fixture();
    const h = home();
    const out = join(h, "fetched");
    const r = await cli(
      [
        "data",
        "fetch",
        "--source",
        "hyperliquid",
        "--symbols",
        "kPEPE,BTC",
        "--interval",
        "1h",
        "--from",
        "2023-05-21T20:00:00Z",
        "--to",
        "2023-05-22T19:00:00Z",
        "--out",
        out,
        "--json",
      ],
      { TW_HOME: h, TW_HL_API_URL: hl.url },
    );
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    expect(readdirSync(out).sort()).toEqual([
      "BTCUSDC_funding_2023-05-21_2023-05-22.csv.gz",
      "kPEPEUSDC_1h.csv.gz",
    ]);
    // Candles: the cassette's kPEPE hours inside the window, strings parsed to numbers.
    const from = Date.parse("2023-05-21T20:00:00Z");
    const to = Date.parse("2023-05-22T19:00:00Z");
    const wantCandles = recorded("test_get_candles_snapshot.json", "candleSnapshot")
      .filter((c) => Number(c.t) >= from && Number(c.t) <= to)
      .map((c) => ({
        time: Number(c.t),
        open: Number(c.o),
        high: Number(c.h),
        low: Number(c.l),
        close: Number(c.c),
        volume: Number(c.v),
      }));
    expect(wantCandles.length).toBeGreaterThan(20);
    expect(loadCandleFile(join(out, "kPEPEUSDC_1h.csv.gz"))).toEqual(wantCandles);
    const wantFunding = recorded("test_get_funding_history_None.json", "fundingHistory")
      .filter((p) => Number(p.time) >= from && Number(p.time) <= to)
      .map((p) => ({ time: Number(p.time), rate: Number(p.fundingRate) }));
    expect(wantFunding.length).toBeGreaterThan(0);
    expect(loadFundingFile(join(out, "BTCUSDC_funding_2023-05-21_2023-05-22.csv.gz"))).toEqual(wantFunding);
    // The folder reads back in the replay layout, under the venue's own symbol names.
    const d = openReplayDir(out);
    expect([...d.candles.keys()]).toEqual(["kPEPE"]);
    expect(d.quotes.get("kPEPE")).toBe("USDC");
    expect([...d.funding.keys()]).toEqual(["BTC"]);
    const btcRow = doc.series.find(
      (s: { symbol: string; interval: string }) => s.symbol === "BTC" && s.interval === "1h",
    );
    expect(btcRow).toMatchObject({ rows: 0, file: null });
  });

  it("a folder fetched from the local Hyperliquid server runs in replay --data (funding covered, no warnings) and backtest --data", async () => {
    // The cassettes hold no long 1m series, so this server answers candleSnapshot and fundingHistory
    // with the shipped real rows (data/), in Hyperliquid's wire format: fetch → files → replay is
    // what is under test, and the files must come back value for value.
    const hl = await fixture();
    const csv = openReplayDir([REPLAY_30D, FUNDING]);
    hl.info("candleSnapshot", (body) => {
      const req = body.req as { coin: string; interval: string; startTime: number; endTime: number };
      return loadCandleFile(csv.candles.get(req.coin)?.get("1m") as string)
        .filter((c) => c.time >= req.startTime && c.time <= req.endTime)
        .slice(0, 5000)
        .map((c) => ({
          t: c.time,
          T: c.time + 59_999,
          s: req.coin,
          i: req.interval,
          o: String(c.open),
          h: String(c.high),
          l: String(c.low),
          c: String(c.close),
          v: String(c.volume),
          n: 1,
        }));
    });
    hl.info("fundingHistory", (body) =>
      loadFundingFile((csv.funding.get(String(body.coin)) as string[])[0])
        .filter((p) => p.time >= Number(body.startTime) && p.time <= Number(body.endTime ?? Infinity))
        .slice(0, 500)
        .map((p) => ({ coin: body.coin, fundingRate: String(p.rate), premium: "0", time: p.time })),
    );
    const h = home();
    const out = join(h, "fetched");
    const env = { TW_HOME: h, TW_HL_API_URL: hl.url, TW_UNIVERSE: "BTC,ETH" };
    const window = ["--from", "2025-06-01T14:00:00Z", "--to", "2025-06-01T17:30:00Z"];
    const f = await cli(
      ["data", "fetch", "--symbols", "BTC,ETH", "--interval", "1m", ...window, "--out", out],
      env,
    );
    expect(f.status, f.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      "BTCUSDC_1m.csv.gz",
      "BTCUSDC_funding_2025-06-01_2025-06-01.csv.gz",
      "ETHUSDC_1m.csv.gz",
      "ETHUSDC_funding_2025-06-01_2025-06-01.csv.gz",
    ]);
    const source = loadCandleFile(csv.candles.get("BTC")?.get("1m") as string);
    const lo = Date.parse("2025-06-01T14:00:00Z");
    const hi = Date.parse("2025-06-01T17:30:00Z");
    expect(loadCandleFile(join(out, "BTCUSDC_1m.csv.gz"))).toEqual(
      source.filter((c) => c.time >= lo && c.time <= hi),
    );

    const rp = await cli(["replay", "--data", out, "--json"], env);
    expect(rp.status, rp.stderr).toBe(0);
    const s = JSON.parse(rp.stdout);
    expect(s.cycles).toBeGreaterThan(100);
    expect(s.orders).toBeGreaterThan(0);
    expect(s.funding_coverage).toEqual({ BTC: 1, ETH: 1 });
    expect(s.warnings).toEqual([]);
    expect(s.funding).not.toBe(0);

    const bt = await cli(
      ["backtest", "--data", out, "--strategy", "buy_and_hold", "--symbols", "BTC,ETH", "--json"],
      env,
    );
    expect(bt.status, bt.stderr).toBe(0);
    expect(JSON.parse(bt.stdout).bars).toBe(211);
  });
});
