import { join } from "node:path";
import Decimal from "decimal.js";
import { afterEach, describe, expect, it } from "vitest";
import { SimClock } from "../../src/clock.js";
import { type PaperEvent, PaperVenue } from "../../src/exchange/paper/venue.js";
import type { Candle } from "../../src/exchange/types.js";
import { createLogger } from "../../src/log.js";
import { type Db, openDb } from "../../src/store/db.js";
import { tempHome } from "../helpers/app.js";
import { CandleMarket, placeRequest, realCandles, realFunding } from "./paperMarket.js";

/**
 * The paper venue's book (issue 13): funding booked once under concurrent reads, the participation
 * cap with partial fills, gap stops, liquidation, trailing and time exits — every expected value
 * recomputed here from the real candles in data/ with an independent decimal library instance.
 */

const D = Decimal.clone({ precision: 60 });
const MIN = 60_000;
const T0 = Date.UTC(2025, 4, 25, 15, 0, 0);
const LOT: Record<string, number> = { BTC: 0.001, ETH: 0.001, SOL: 0.01, ADA: 1, DOGE: 1 };

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

function venueOn(
  db: Db,
  clock: SimClock,
  over: Partial<ConstructorParameters<typeof PaperVenue>[0]> = {},
): { venue: PaperVenue; events: PaperEvent[] } {
  const events: PaperEvent[] = [];
  const venue = new PaperVenue({
    db,
    clock,
    log: createLogger("silent"),
    market: () => new CandleMarket(clock),
    startingEquity: 100_000,
    slippageBps: 1,
    takerFeeBps: 4.5,
    makerFeeBps: 1.5,
    onEvent: (e) => events.push(e),
    ...over,
  });
  return { venue, events };
}

function memVenue(clock: SimClock, over: Partial<ConstructorParameters<typeof PaperVenue>[0]> = {}) {
  const db = openDb(":memory:");
  cleanups.push(() => db.close());
  return { db, ...venueOn(db, clock, over) };
}

const req = placeRequest;

const bars = (symbol: string, from: number, to: number): Candle[] =>
  realCandles(symbol).filter((c) => c.time >= from && c.time < to);
const lastClosed = (symbol: string, t: number): Candle =>
  realCandles(symbol)
    .filter((c) => c.time + MIN <= t)
    .at(-1)!;
const floorLot = (x: Decimal, lot: number) => x.dividedBy(lot).floor().times(lot);

describe("paper funding", () => {
  it("concurrent accountState() + openOrders() — in one process and from a second connection — book one funding row per (symbol, funding time)", async () => {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const file = join(home, "paper.db");
    const dbA = openDb(file);
    const dbB = openDb(file);
    cleanups.push(
      () => dbA.close(),
      () => dbB.close(),
    );
    const clock = new SimClock(T0);
    const a = venueOn(dbA, clock).venue;
    const b = venueOn(dbB, clock).venue;
    const [buy] = await a.place([req({ client_order_id: "f1" })]);
    expect(buy.status).toBe("filled");
    const event = realFunding("BTC").find((f) => f.time > T0)!;
    clock.set(event.time + 30 * MIN);
    await Promise.all([
      a.accountState(),
      a.openOrders(),
      b.accountState(),
      b.openOrders(),
      a.fills({ limit: 5 }),
    ]);
    await Promise.all([a.accountState(), b.openOrders()]);
    const rows = dbA
      .prepare("SELECT ts, amount FROM paper_ledger WHERE kind = 'funding' AND symbol = 'BTC'")
      .all() as Array<{ ts: number; amount: string }>;
    expect(rows.length).toBe(1);
    expect(rows[0].ts).toBe(event.time);
    const px = lastClosed("BTC", event.time).close;
    expect(rows[0].amount).toBe(new D("0.5").negated().times(px).times(event.rate).toString());
  });
});

describe("paper participation cap", () => {
  it("a limit order larger than the bars' volume fills partially across bars, each fill ≤ 10 % of its bar's volume, and keeps resting", async () => {
    const clock = new SimClock(T0);
    const { venue } = memVenue(clock);
    const mid = lastClosed("ADA", T0).close;
    const limit = new D(mid).minus("0.0001").toNumber(); // one tick under mid: not marketable, rests
    const size = "400000"; // ≈ 300k quote, many times 10 % of an ADA minute's volume
    const [o] = await venue.place([
      req({ client_order_id: "big", symbol: "ADA", type: "limit", price: String(limit), size, tif: "GTC" }),
    ]);
    expect(o.status).toBe("open");
    const until = T0 + 120 * MIN;
    clock.set(until);
    const fills = (await venue.fills({ limit: 500 })).fills;
    // Independent expectation: every bar reaching the limit fills min(left, ⌊0.1 × volume⌋ lots).
    let left = new D(size);
    const want: Array<{ time: number; size: string }> = [];
    for (const c of bars("ADA", T0, until)) {
      if (c.time + MIN > until || c.low > limit || left.isZero()) continue;
      const q = Decimal.min(left, floorLot(new D(c.volume).times("0.1"), LOT.ADA));
      if (q.isZero()) continue;
      want.push({ time: c.time + MIN - 1, size: q.toString() });
      left = left.minus(q);
    }
    expect(want.length).toBeGreaterThanOrEqual(2);
    expect(fills.map((f) => ({ time: f.time, size: f.size }))).toEqual(want);
    for (const f of fills) {
      const bar = realCandles("ADA").find((c) => c.time + MIN - 1 === f.time)!;
      expect(new D(f.size).lte(new D(bar.volume).times("0.1"))).toBe(true);
      expect(f.price).toBe(String(limit));
      expect(f.liquidity).toBe("maker");
    }
    const st = await venue.orderStatus({ symbol: "ADA", client_order_id: "big", venue_order_id: null });
    expect(st?.filled_size).toBe(new D(size).minus(left).toString());
    expect(st?.status).toBe(left.isZero() ? "filled" : "open");
    if (!left.isZero()) {
      // Canceling the rest ends the order partially_filled.
      await venue.cancel([{ symbol: "ADA", client_order_id: "big", venue_order_id: null }]);
      const after = await venue.orderStatus({ symbol: "ADA", client_order_id: "big", venue_order_id: null });
      expect(after?.status).toBe("partially_filled");
    }
  });

  it("a limit that only touches its price fills at most the participation share of that bar", async () => {
    // A bar whose low is above the limit for every earlier bar after placement and equals it there.
    const all = realCandles("ADA");
    const i = all.findIndex((c, k) => k > 0 && c.time >= T0 && c.low < all[k - 1].close && c.low < c.open);
    const touch = all[i];
    const clock = new SimClock(touch.time);
    const { venue } = memVenue(clock);
    const [o] = await venue.place([
      req({
        client_order_id: "t",
        symbol: "ADA",
        type: "limit",
        price: String(touch.low),
        size: "1000000",
        tif: "GTC",
      }),
    ]);
    expect(o.status).toBe("open");
    clock.set(touch.time + MIN);
    const fills = (await venue.fills({ limit: 10 })).fills;
    expect(fills.length).toBe(1);
    expect(fills[0].size).toBe(floorLot(new D(touch.volume).times("0.1"), LOT.ADA).toString());
    expect(fills[0].price).toBe(String(touch.low));
  });

  it("an IOC (market) order above the share of the last bar's volume fills that share; the rest is canceled and the order is partially_filled", async () => {
    const clock = new SimClock(T0);
    const { venue } = memVenue(clock);
    const last = lastClosed("ADA", T0);
    const share = floorLot(new D(last.volume).times("0.1"), LOT.ADA);
    const size = share.times(3).toString();
    const [o] = await venue.place([req({ client_order_id: "ioc", symbol: "ADA", size })]);
    expect(o.status).toBe("partially_filled");
    expect(o.filled_size).toBe(share.toString());
    expect(await venue.openOrders()).toEqual([]);
    // The share of this minute is used up: a second IOC in the same minute fills nothing.
    const [o2] = await venue.place([req({ client_order_id: "ioc2", symbol: "ADA", size: "1000" })]);
    expect(o2.status).toBe("canceled");
    expect(o2.filled_size).toBe("0");
  });
});

describe("paper stops, guards and liquidation", () => {
  it("a stop triggered in a gap fills at the bar's open (the worse of trigger and open), with slippage", async () => {
    const all = realCandles("BTC");
    const k = all.findIndex((c, j) => j > 2 && c.time > T0 && c.open < all[j - 1].low - 0.25);
    const gap = all[k];
    const prev = all[k - 1];
    const t1 = prev.time; // parent fills at the open of the bar before the gap
    const trigger = new D(prev.low).plus(gap.open).dividedBy(2).toDecimalPlaces(1).toNumber();
    expect(trigger).toBeLessThan(prev.low);
    expect(trigger).toBeGreaterThan(gap.open);
    const clock = new SimClock(t1);
    const { venue } = memVenue(clock);
    await venue.place([
      req({ client_order_id: "g", size: "0.1" }),
      req({
        client_order_id: "g:sl",
        side: "sell",
        size: "0.1",
        reduce_only: true,
        trigger: { trigger_px: String(trigger), tpsl: "sl" },
        parent_client_order_id: "g",
      }),
    ]);
    clock.set(gap.time + 2 * MIN);
    const sl = (await venue.fills({ limit: 10 })).fills.find((f) => f.client_order_id === "g:sl")!;
    expect(sl.time).toBe(gap.time + MIN - 1);
    expect(sl.price).toBe(new D(gap.open).times("0.9999").toString());
    expect(new D(sl.price).lt(trigger)).toBe(true);
  });

  it("a leveraged position through a large move is liquidated at the first bar whose adverse price breaks maintenance, as a liquidation fill", async () => {
    // 2025-06-05 13:00 UTC: BTC fell from ≈105.6k to ≈100.3k that day. 19× long, maintenance 0.5 %.
    const T0 = Date.UTC(2025, 5, 5, 13, 0, 0);
    const clock = new SimClock(T0);
    const mm = 0.005;
    const { venue, db, events } = memVenue(clock, { maintenanceMargin: mm });
    const entryMid = lastClosed("BTC", T0).close;
    const size = floorLot(new D(100_000).times(19).dividedBy(entryMid), LOT.BTC); // ≈ 19× leverage
    const [o] = await venue.place([req({ client_order_id: "lev", size: size.toString() })]);
    expect(o.status).toBe("filled");
    const entry = new D(entryMid).times("1.0001");
    let cash = new D(100_000).minus(size.times(entry).times("0.00045"));
    const funding = realFunding("BTC").filter((f) => f.time > T0);
    // Independent scan, in time order: funding (−size × close before × rate), then each bar's check
    // cash + size × (low − entry) < mm × size × low.
    let liq: Candle | undefined;
    for (const c of bars("BTC", T0, T0 + 86_400_000)) {
      while (funding.length > 0 && funding[0].time <= c.time + MIN - 1) {
        const f = funding.shift()!;
        cash = cash.plus(size.negated().times(lastClosed("BTC", f.time).close).times(f.rate));
      }
      const eq = cash.plus(size.times(new D(c.low).minus(entry)));
      if (eq.lt(size.times(c.low).times(mm))) {
        liq = c;
        break;
      }
    }
    expect(liq).toBeDefined();
    clock.set(liq!.time + 2 * MIN);
    const st = await venue.accountState();
    expect(st.positions).toEqual([]);
    const f = (await venue.fills({ limit: 10 })).fills.find((x) => x.kind === "liquidation")!;
    expect(f.time).toBe(liq!.time + MIN - 1);
    expect(f.price).toBe(String(liq!.low));
    expect(f.size).toBe(size.toString());
    expect(f.fee).toBe(size.times(liq!.low).times("0.00045").toString());
    const row = db.prepare("SELECT amount FROM paper_ledger WHERE kind = 'liquidation'").get() as {
      amount: string;
    };
    expect(row.amount).toBe(size.times(new D(liq!.low).minus(entry)).toString());
    // Cash after = cash before + liquidation PnL − fee, exactly.
    expect(st.cash).toBe(
      cash
        .plus(size.times(new D(liq!.low).minus(entry)))
        .minus(size.times(liq!.low).times("0.00045"))
        .toString(),
    );
    expect(events.map((e) => e.kind)).toEqual(["liquidation"]);
  });

  it("a trailing stop and a time exit close the guarded position bar by bar at the prices recomputed from the candles", async () => {
    const clock = new SimClock(T0);
    const { venue, events } = memVenue(clock);
    const bps = 25;
    await venue.place([
      req({ client_order_id: "tr", size: "0.2", guard: { trailing_stop_bps: bps, max_hold_ms: null } }),
      req({
        client_order_id: "tm",
        symbol: "ETH",
        size: "2",
        guard: { trailing_stop_bps: null, max_hold_ms: 7 * MIN },
      }),
    ]);
    const fill = new D(lastClosed("BTC", T0).close).times("1.0001");
    // Independent trailing-stop walk: favourable extreme first, then the adverse one; gaps at the open.
    let peak = fill;
    let exit: { time: number; px: Decimal } | undefined;
    for (const c of bars("BTC", T0, T0 + 86_400_000)) {
      const before = peak.times(1 - bps / 10_000);
      peak = Decimal.max(peak, c.high);
      const stop = peak.times(1 - bps / 10_000);
      if (new D(c.open).lte(before)) exit = { time: c.time, px: Decimal.min(before, c.open) };
      else if (new D(c.low).lte(stop)) exit = { time: c.time, px: Decimal.min(stop, c.open) };
      if (exit) break;
    }
    expect(exit).toBeDefined();
    clock.set(Math.max(exit!.time, T0 + 7 * MIN) + 2 * MIN);
    const fills = (await venue.fills({ limit: 20 })).fills;
    const tr = fills.find((f) => f.client_order_id === "tr:trail")!;
    expect(tr.time).toBe(exit!.time + MIN - 1);
    expect(new D(tr.price).minus(exit!.px.times("0.9999")).abs().lt("1e-20")).toBe(true);
    expect(tr.size).toBe("0.2");
    const tm = fills.find((f) => f.client_order_id === "tm:time")!;
    const expiry = realCandles("ETH").find((c) => c.time + MIN >= T0 + 7 * MIN)!;
    expect(tm.time).toBe(expiry.time + MIN - 1);
    expect(tm.price).toBe(new D(expiry.close).times("0.9999").toString());
    expect((await venue.accountState()).positions).toEqual([]);
    expect(events.map((e) => [e.kind, e.client_order_id]).sort()).toEqual([
      ["guard_exit", "tm:time"],
      ["guard_exit", "tr:trail"],
    ]);
    for (const e of events) expect(e.reason.length).toBeGreaterThan(10);
  });
});
