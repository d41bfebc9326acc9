import Decimal from "decimal.js";
import { beforeEach, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { PaperVenue } from "../../src/exchange/paper/venue.js";
import { createLogger } from "../../src/log.js";
import { type Db, openDb } from "../../src/store/db.js";
import { CandleMarket, placeRequest, realCandles, realFunding } from "./paperMarket.js";

/** Independent exact arithmetic for expected values (not the venue's Dec). */
const D = Decimal.clone({ precision: 60 });
const T0 = Date.UTC(2025, 4, 25, 15, 0, 0); // 2025-05-25 15:00 UTC, inside the 30-day replay set
const MIN = 60_000;

let db: Db;
let clock: SimClock;
let venue: PaperVenue;

function bar(symbol: string, time: number) {
  const c = realCandles(symbol).find((x) => x.time === time);
  if (!c) throw new Error(`no bar at ${time}`);
  return c;
}

beforeEach(() => {
  db = openDb(":memory:");
  clock = new SimClock(T0);
  venue = new PaperVenue({
    db,
    clock,
    log: createLogger("silent"),
    market: () => new CandleMarket(clock),
    startingEquity: 100_000,
    slippageBps: 1,
    takerFeeBps: 4.5,
    makerFeeBps: 1.5,
  });
});

const req = placeRequest;

describe("paper venue", () => {
  it("fills, fees, funding and equity reconcile exactly on a scripted sequence over real BTC candles", async () => {
    // 1) market buy 0.5 at T0: reference = close of the 14:59 bar, +1 bp slippage, taker 4.5 bp.
    const [buy] = await venue.place([req({ client_order_id: "c1" })]);
    const ref1 = new D(bar("BTC", T0 - MIN).close);
    const px1 = ref1.times("1.0001");
    expect(buy.status).toBe("filled");
    expect(buy.avg_px).toBe(px1.toString());
    const fee1 = new D("0.5").times(px1).times("0.00045");

    // 2) resting sell limit 0.2 @ 107370.0 (GTC): fills as maker in the first bar opened at/after T0 whose high ≥ limit.
    const [lim] = await venue.place([
      req({ client_order_id: "c2", side: "sell", type: "limit", size: "0.2", price: "107370", tif: "GTC" }),
    ]);
    expect(lim.status).toBe("open");
    const crossing = realCandles("BTC").find((c) => c.time >= T0 && c.high >= 107370)!;
    expect(crossing.time).toBeLessThan(T0 + 30 * MIN); // the script relies on it filling before the funding time
    const realised2 = new D("0.2").times(new D("107370").minus(px1));
    const fee2 = new D("0.2").times("107370").times("0.00015");

    // 3) move past the 16:00 funding event; the position is 0.3 long then.
    clock.set(T0 + 90 * MIN);
    const fundingEvent = realFunding("BTC").find((f) => f.time > T0 && f.time <= T0 + 90 * MIN)!;
    expect(fundingEvent).toBeDefined();
    const fundPx = realCandles("BTC")
      .filter((c) => c.time + MIN <= fundingEvent.time)
      .at(-1)!.close;
    const funding = new D("0.3").negated().times(fundPx).times(fundingEvent.rate);

    const open = await venue.openOrders();
    expect(open).toEqual([]);

    // 4) reduce-only market sell of more than the position closes exactly 0.3.
    const [close] = await venue.place([
      req({ client_order_id: "c3", side: "sell", size: "1", reduce_only: true }),
    ]);
    const ref3 = new D(bar("BTC", T0 + 89 * MIN).close);
    const px3 = ref3.times("0.9999");
    expect(close.status).toBe("filled");
    expect(close.filled_size).toBe("0.3");
    expect(close.avg_px).toBe(px3.toString());
    const realised3 = new D("0.3").times(px3.minus(px1));
    const fee3 = new D("0.3").times(px3).times("0.00045");

    const page = await venue.fills({ limit: 10 });
    expect(page.fills.map((f) => [f.client_order_id, f.side, f.size, f.liquidity])).toEqual([
      ["c1", "buy", "0.5", "taker"],
      ["c2", "sell", "0.2", "maker"],
      ["c3", "sell", "0.3", "taker"],
    ]);
    expect(page.fills[1].time).toBe(crossing.time + MIN - 1);
    expect(page.fills.map((f) => f.fee)).toEqual([fee1, fee2, fee3].map((x) => x.toString()));
    expect(page.fills.map((f) => f.realized_pnl)).toEqual(["0", realised2.toString(), realised3.toString()]);

    const st = await venue.accountState();
    const expected = new D(100_000)
      .plus(realised2)
      .plus(realised3)
      .minus(fee1)
      .minus(fee2)
      .minus(fee3)
      .plus(funding);
    expect(st.positions).toEqual([]);
    expect(st.cash).toBe(expected.toString());
    expect(st.equity).toBe(expected.toString());
  });

  it("marks an open position to the ticker: equity = cash + (mark − entry) × size", async () => {
    await venue.place([req({ client_order_id: "m1", symbol: "ETH", size: "2" })]);
    clock.set(T0 + 10 * MIN);
    const st = await venue.accountState();
    const entry = new D(bar("ETH", T0 - MIN).close).times("1.0001");
    const mark = new D(bar("ETH", T0 + 9 * MIN).close);
    const cash = new D(100_000).minus(new D(2).times(entry).times("0.00045"));
    expect(st.positions[0]).toMatchObject({
      symbol: "ETH",
      size: "2",
      entry_px: entry.toString(),
      mark_px: mark.toString(),
    });
    expect(st.cash).toBe(cash.toString());
    expect(st.equity).toBe(cash.plus(mark.minus(entry).times(2)).toString());
  });

  it("rejects an ALO limit that would cross, cancels a non-crossing IOC, rests a GTC", async () => {
    const mid = bar("BTC", T0 - MIN).close;
    const [alo, ioc, gtc] = await venue.place([
      req({ client_order_id: "a", type: "limit", price: String(mid + 100), tif: "ALO" }),
      req({ client_order_id: "b", type: "limit", price: String(mid - 1000), tif: "IOC" }),
      req({ client_order_id: "c", type: "limit", price: String(mid - 1000), tif: "GTC" }),
    ]);
    expect(alo.status).toBe("rejected");
    expect(alo.error).toMatch(/post-only/);
    expect(ioc.status).toBe("canceled");
    expect(gtc.status).toBe("open");
    expect((await venue.openOrders()).map((o) => o.client_order_id)).toEqual(["c"]);
  });

  it("rejects a reduce-only order with no position and an order above max leverage", async () => {
    const [ro] = await venue.place([req({ client_order_id: "r", side: "sell", reduce_only: true })]);
    expect(ro.status).toBe("rejected");
    // 20 BTC ≈ 2.1M quote > 100k equity × 20 max leverage.
    const [big] = await venue.place([req({ client_order_id: "big", size: "20" })]);
    expect(big.status).toBe("rejected");
    expect(big.error).toMatch(/insufficient margin/);
    expect((await venue.accountState()).cash).toBe("100000");
  });

  it("a filled parent arms its TP/SL children; the stop fills reduce-only and cancels the take-profit", async () => {
    const entryRef = bar("BTC", T0 - MIN).close;
    const tp = "110000";
    const slPx = 107000; // crossed below within the next hour per the data
    const res = await venue.place([
      req({ client_order_id: "p", size: "0.1" }),
      req({
        client_order_id: "p:tp",
        side: "sell",
        size: "0.1",
        reduce_only: true,
        trigger: { trigger_px: tp, tpsl: "tp" },
        parent_client_order_id: "p",
      }),
      req({
        client_order_id: "p:sl",
        side: "sell",
        size: "0.1",
        reduce_only: true,
        trigger: { trigger_px: String(slPx), tpsl: "sl" },
        parent_client_order_id: "p",
      }),
    ]);
    expect(res.map((r) => r.status)).toEqual(["filled", "waiting_trigger", "waiting_trigger"]);
    const hit = realCandles("BTC").find((c) => c.time >= T0 && c.low <= slPx)!;
    clock.set(hit.time + 2 * MIN);
    expect(await venue.openOrders()).toEqual([]);
    const sl = await venue.orderStatus({ symbol: "BTC", client_order_id: "p:sl", venue_order_id: null });
    const tpo = await venue.orderStatus({ symbol: "BTC", client_order_id: "p:tp", venue_order_id: null });
    expect(sl?.status).toBe("filled");
    expect(tpo?.status).toBe("canceled");
    const fills = (await venue.fills({ limit: 10 })).fills;
    expect(fills[1].price).toBe(new D(slPx).times("0.9999").toString());
    expect(fills[1].time).toBe(hit.time + MIN - 1);
    expect(entryRef).toBeGreaterThan(slPx);
    expect((await venue.accountState()).positions).toEqual([]);
  });
});

describe("paper venue reads at one instant", () => {
  it("a second read at an instant already synced writes nothing, and the next minute still fills a resting order", async () => {
    const total = () => (db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
    await venue.place([req({ client_order_id: "b1" })]);
    const crossing = realCandles("BTC").find((c) => c.time >= T0 && c.high >= 107370)!;
    const [lim] = await venue.place([
      req({ client_order_id: "r1", side: "sell", type: "limit", size: "0.2", price: "107370", tif: "GTC" }),
    ]);
    expect(lim.status).toBe("open");
    clock.set(crossing.time); // the crossing bar is open, not closed: nothing can fill yet
    const first = await venue.accountState();
    const after = total();
    const again = await venue.accountState();
    await venue.openOrders();
    await venue.fills({ limit: 10 });
    expect(total()).toBe(after);
    expect(again).toEqual(first);
    expect((await venue.openOrders()).map((o) => o.client_order_id)).toEqual(["r1"]);
    clock.set(crossing.time + MIN); // the crossing bar has closed
    expect(await venue.openOrders()).toEqual([]);
    const { fills } = await venue.fills({ limit: 10 });
    expect(fills.map((f) => [f.client_order_id, f.size, f.price, f.liquidity])).toEqual([
      ["b1", "0.5", expect.any(String), "taker"],
      ["r1", "0.2", "107370", "maker"],
    ]);
  });
});
