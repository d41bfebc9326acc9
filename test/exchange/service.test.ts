import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { openReplayDir } from "../../src/exchange/replay/dir.js";
import { ReplaySource } from "../../src/exchange/replay/source.js";
import { MarketService } from "../../src/exchange/service.js";
import type { MarketData } from "../../src/exchange/types.js";
import { createLogger } from "../../src/log.js";
import { REPLAY_30D } from "../helpers/app.js";

const MIN = 60_000;
const log = createLogger("silent");
const tmp = mkdtempSync(join(tmpdir(), "tw-features-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The same replay data behind a plain MarketData: MarketService reads it through candle objects. */
function plain(src: ReplaySource): MarketData {
  return {
    id: src.id,
    instruments: () => src.instruments(),
    ticker: (s) => src.ticker(s),
    candles: (s, iv, q) => src.candles(s, iv, q),
    orderbook: (s, d) => src.orderbook(s, d),
    funding: (s, q) => src.funding(s, q),
  };
}

/**
 * features() of a symbol, or the error's code, message and details without the replay advice
 * (`now`, `data_start`, `data_end`: added only when the service sees a ReplaySource, which the
 * plain reference hides).
 */
async function featuresOrError(m: MarketService, symbol: string): Promise<unknown> {
  try {
    return await m.features(symbol);
  } catch (e) {
    const err = e as { code?: string; message: string; details?: Record<string, unknown> };
    const { data_start: _s, data_end: _e, now: _n, ...details } = err.details ?? {};
    return { code: err.code, message: err.message, details };
  }
}

/** Features on replay data through the columns and through candle objects, at one clock time. */
async function both(dir: string, now: number, symbol: string, staleAfterMs: number) {
  const opened = openReplayDir(dir);
  const clock = new SimClock(now);
  const opts = { clock, staleAfterMs, universe: [symbol], log };
  const columnar = new MarketService(new ReplaySource(opened, clock), opts);
  const objects = new MarketService(plain(new ReplaySource(opened, clock)), opts);
  return {
    columnar: await featuresOrError(columnar, symbol),
    objects: await featuresOrError(objects, symbol),
  };
}

describe("MarketService.features on replay data (read from the columns)", () => {
  it("is bit-identical to features computed from candle objects at random times on the shipped data", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: Date.UTC(2025, 4, 25) / MIN, max: Date.UTC(2025, 5, 25) / MIN }),
        fc.constantFrom("ADA", "BTC", "DOGE", "ETH", "SOL", "btc"),
        async (minute, symbol) => {
          const r = await both(REPLAY_30D, minute * MIN, symbol, 120_000);
          expect(r.columnar).toEqual(r.objects);
        },
      ),
      { numRuns: 80 },
    );
    const ok = await both(REPLAY_30D, Date.UTC(2025, 5, 3, 12), "ETH", 120_000);
    expect((ok.columnar as { vol_1h: number }).vol_1h).toBeGreaterThan(0);
  });

  it("gives the same STALE_DATA errors and the same values around gaps in the data", async () => {
    const d = join(tmp, "gaps");
    mkdirSync(d);
    const t0 = Date.UTC(2025, 0, 1);
    const lines = ["open_time_ms,open,high,low,close,volume"];
    for (let i = 0; i < 400; i++) {
      if (i >= 150 && i < 170) continue; // a 20-minute gap
      const p = 100 + Math.sin(i) * 3;
      lines.push(`${t0 + i * MIN},${p},${p + 1},${p - 1},${p + 0.5},${i}`);
    }
    writeFileSync(join(d, "BTCUSDT_1m.csv"), `${lines.join("\n")}\n`);
    const seen = new Set<unknown>();
    for (let i = 0; i <= 420; i += 3) {
      for (const stale of [60_000, 600_000]) {
        const r = await both(d, t0 + i * MIN, "BTC", stale);
        expect(r.columnar, `minute ${i}`).toEqual(r.objects);
        seen.add(
          typeof r.columnar === "object" && r.columnar && "code" in r.columnar ? r.columnar.message : "ok",
        );
      }
    }
    // Each branch was taken: values, too little history, stale after the gap / the end.
    expect([...seen].sort()).toEqual([
      "No fresh 1m data for BTC on " + `replay:${d}.`,
      "Not enough 1m history for BTC to compute 1h features.",
      "ok",
    ]);
  });
});
