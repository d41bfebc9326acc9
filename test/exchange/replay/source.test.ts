import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { SimClock } from "../../../src/clock.js";
import { openReplayDir } from "../../../src/exchange/replay/dir.js";
import { ReplaySource } from "../../../src/exchange/replay/source.js";
import type { RangeQuery } from "../../../src/exchange/types.js";
import { REPLAY_30D } from "../../helpers/app.js";

const MIN = 60_000;
const HOUR = 3_600_000;

const tmp = mkdtempSync(join(tmpdir(), "tw-readat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Everything a replay reads of a symbol at the clock's time, or the error message. */
async function reads(src: ReplaySource, symbol: string, q: RangeQuery): Promise<unknown> {
  try {
    return {
      features: await src.candles(symbol, "1m", q),
      ticker: await src.ticker(symbol),
      latest: await src.candles(symbol, "1m", { limit: 1 }),
      hour: await src.candles(symbol, "1h", { limit: 3 }),
    };
  } catch (e) {
    return (e as Error).message;
  }
}

describe("ReplaySource.readAt (parse around the replay's window; answers unchanged)", () => {
  it("answers every read at random clock times, inside and outside the declared window, as a source without one", async () => {
    const dir = openReplayDir(REPLAY_30D);
    const from = Date.UTC(2025, 5, 3, 11, 37);
    const to = from + 24 * HOUR;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: from / MIN - 1, max: to / MIN }),
          fc.integer({ min: Date.UTC(2025, 4, 25) / MIN, max: Date.UTC(2025, 5, 25) / MIN }),
        ),
        fc.constantFrom("ADA", "BTC", "DOGE", "ETH", "SOL"),
        fc.constantFrom<(now: number) => RangeQuery>(
          (now) => ({ start: now - 70 * MIN, end: now }),
          (now) => ({ start: now - 5 * MIN, end: now }),
          (now) => ({ start: now - 30 * HOUR, end: now - 29 * HOUR }),
          (now) => ({ limit: 3, end: now - 2 * HOUR }),
          (now) => ({ start: now + MIN }),
          () => ({ limit: 100_000 }),
        ),
        async (minute, symbol, query) => {
          const now = minute * MIN;
          const windowed = new ReplaySource(dir, new SimClock(now));
          windowed.readAt(from, to);
          const whole = new ReplaySource(dir, new SimClock(now));
          expect(await windowed.instruments()).toEqual(await whole.instruments());
          expect(await reads(windowed, symbol, query(now))).toEqual(await reads(whole, symbol, query(now)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("reads inside the window without the rest of the file; a read before it loads the whole file and fails loudly on its malformed row", async () => {
    const d = join(tmp, "bad");
    const t0 = Date.UTC(2025, 0, 1);
    const lines = ["open_time_ms,open,high,low,close,volume"];
    for (let i = 0; i < 5000; i++) lines.push(`${t0 + i * MIN},${i === 2200 ? "x" : 100 + i},200000,1,100,1`);
    mkdirSync(d);
    writeFileSync(join(d, "BTCUSDT_1m.csv"), `${lines.join("\n")}\n`);
    const clock = new SimClock(t0 + 4050 * MIN);
    const src = new ReplaySource(openReplayDir(d), clock);
    src.readAt(t0 + 4000 * MIN, t0 + 4100 * MIN);
    // Features and the 24 h ticker at the window's clock times: rows 2440.. only (26 h before 4000).
    const bars = await src.candles("BTC", "1m", { start: clock.now() - 70 * MIN, end: clock.now() });
    expect(bars.map((b) => b.open)).toEqual(Array.from({ length: 70 }, (_, k) => 100 + 3980 + k));
    expect((await src.ticker("BTC")).change_24h).not.toBeNull();
    expect((await src.instruments())[0].symbol).toBe("BTC");
    await expect(src.candles("BTC", "1m", { start: t0 + 2300 * MIN, limit: 5 })).rejects.toThrow(
      'BTCUSDT_1m.csv:2202: open "x" is not a number',
    );
  });
});
