import type { Decimal } from "decimal.js";
import type { Clock } from "../../clock.js";
import { TwError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { Db } from "../../store/db.js";
import { insertFill, listFills } from "../../store/fills.js";
import { getPosition, listPositions, upsertPosition } from "../../store/positions.js";
import { bps, Dec, exact, limitCrossed, limitMarketable } from "../fillModel.js";
import type { Candle, Instrument, MarketData } from "../types.js";
import type {
  AccountState,
  CancelRequest,
  CancelResult,
  FillPage,
  FillQuery,
  OrderRef,
  PlaceRequest,
  PlaceResult,
  Venue,
  VenueOrder,
} from "../venue.js";
import { applyFill, type Pos, reduces } from "./book.js";
import {
  addLedger,
  getMeta,
  insertPaperOrder,
  cashBalance,
  livePaperOrders,
  nextSeq,
  type PaperOrder,
  paperChildren,
  paperOrderByClientId,
  setMeta,
  updatePaperOrder,
} from "./store.js";

/** Settings of the paper venue (from `config.paper`). Fees and slippage in basis points. */
export interface PaperOptions {
  db: Db;
  clock: Clock;
  log: Logger;
  /** The active market-data source, read lazily (it may be swapped in replay and tests). */
  market: () => MarketData;
  startingEquity: number;
  slippageBps: number;
  takerFeeBps: number;
  makerFeeBps: number;
  /** Leverage cap when the instrument states none. Default 20. */
  defaultMaxLeverage?: number;
}

const VENUE = "paper";
const MINUTE = 60_000;

/**
 * The `paper` venue: in-process matching on the active market-data source (DESIGN.md §4), with the
 * shared fill model (src/exchange/fillModel.ts):
 * - market orders fill at once at the current mid (the ticker) moved by the slippage, as taker;
 * - limit orders marketable on arrival fill like market orders but never worse than their limit;
 *   ALO orders that would cross are rejected; IOC orders that do not cross are canceled; the rest
 *   rest and fill at their limit, as maker, in the first closed 1m bar opened at or after placement
 *   whose range crosses the limit;
 * - TP/SL children wait for their parent's fill, then trigger on a bar crossing the trigger price and
 *   fill as reduce-only market orders at the trigger price moved by the slippage; a fill cancels the
 *   sibling (one-cancels-other);
 * - reduce-only orders are capped at the position and canceled when there is nothing to reduce;
 * - funding at each funding time t: `−size × px × rate`, px = close of the last 1m bar closed at or
 *   before t;
 * - cross margin: an order that increases exposure is rejected when gross notional after the fill
 *   exceeds equity × max leverage.
 * State (orders, fills, positions, cash ledger) is in SQLite; amounts are exact decimals.
 */
export class PaperVenue implements Venue {
  readonly id = VENUE;
  readonly network = "paper" as const;
  private readonly db: Db;

  constructor(private readonly o: PaperOptions) {
    this.db = o.db;
  }

  private get market(): MarketData {
    return this.o.market();
  }

  /** Instruments of the market-data source. */
  async instruments(): Promise<Instrument[]> {
    return this.market.instruments();
  }

  private async instrument(symbol: string): Promise<Instrument> {
    const ins = (await this.instruments()).find((i) => i.symbol === symbol);
    if (!ins) {
      throw new TwError("NOT_FOUND", `Unknown symbol ${symbol} on paper.`, {
        hint: "Call market_list_instruments for the symbols you can trade.",
      });
    }
    return ins;
  }

  /** Size down to the lot; price to the nearest tick (unchanged when the source states no tick). */
  async round(
    symbol: string,
    size: string,
    price: string | null,
  ): Promise<{ size: string; price: string | null }> {
    const ins = await this.instrument(symbol);
    const lot = new Dec(ins.lot_size);
    const sz = new Dec(size).dividedBy(lot).floor().times(lot);
    let px: string | null = null;
    if (price !== null) {
      px = ins.tick_size
        ? new Dec(price).dividedBy(ins.tick_size).round().times(ins.tick_size).toString()
        : price;
    }
    return { size: sz.toString(), price: px };
  }

  /** Opens the account on first use: starting cash and sync cursors at the current time. */
  private ensureStarted(): void {
    if (getMeta(this.db, "paper.started_at") !== undefined) return;
    const now = this.o.clock.now();
    this.db.transaction(() => {
      setMeta(this.db, "paper.started_at", String(now));
      setMeta(this.db, "paper.synced_at", String(Math.floor(now / MINUTE) * MINUTE));
      setMeta(this.db, "paper.funding_at", String(now));
      addLedger(this.db, {
        ts: now,
        kind: "deposit",
        symbol: null,
        amount: new Dec(this.o.startingEquity).toString(),
        ref: null,
      });
    })();
  }

  /** Cash = Σ ledger (deposit + realised PnL − fees + funding), quote currency. */
  private cash(): Decimal {
    return new Dec(cashBalance(this.db));
  }

  private pos(symbol: string): Pos {
    const p = getPosition(this.db, VENUE, symbol);
    return p
      ? { size: new Dec(p.size), entry: new Dec(p.entry_px) }
      : { size: new Dec(0), entry: new Dec(0) };
  }

  /**
   * Brings the book up to the clock: fills resting limits and triggers on closed 1m bars and books
   * funding events, in time order, since the last sync. Called before every read and placement.
   */
  async sync(): Promise<void> {
    this.ensureStarted();
    const now = this.o.clock.now();
    const barCursor = Number(getMeta(this.db, "paper.synced_at"));
    const fundCursor = Number(getMeta(this.db, "paper.funding_at"));
    const live = livePaperOrders(this.db);
    const liveSyms = new Set(live.map((x) => x.symbol));
    const symbols = new Set([
      ...liveSyms,
      ...listPositions(this.db, VENUE)
        .filter((p) => !new Dec(p.size).isZero())
        .map((p) => p.symbol),
    ]);
    type Ev = { t: number; sym: string } & ({ bar: Candle } | { rate: number; px: number });
    const events: Ev[] = [];
    for (const sym of symbols) {
      if (liveSyms.has(sym) && barCursor < now) {
        const bars = await this.market.candles(sym, "1m", { start: barCursor, end: now });
        for (const c of bars)
          if (c.time >= barCursor && c.time + MINUTE <= now)
            events.push({ t: c.time + MINUTE - 1, sym, bar: c });
      }
      if (fundCursor < now) {
        const pts = await this.market.funding(sym, { start: fundCursor, end: now });
        for (const f of pts) {
          if (f.time <= fundCursor || f.time > now) continue;
          const px = await this.closeAtOrBefore(sym, f.time);
          if (px === undefined) {
            this.o.log.warn({ symbol: sym, time: f.time }, "paper: no price for a funding event; skipped");
            continue;
          }
          events.push({ t: f.time, sym, rate: f.rate, px });
        }
      }
    }
    events.sort((a, b) => a.t - b.t);
    this.db.transaction(() => {
      for (const e of events) {
        if ("bar" in e) this.onBar(e.sym, e.bar);
        else this.onFunding(e.sym, e.t, e.rate, e.px);
      }
      setMeta(this.db, "paper.synced_at", String(Math.max(barCursor, Math.floor(now / MINUTE) * MINUTE)));
      setMeta(this.db, "paper.funding_at", String(Math.max(fundCursor, now)));
    })();
  }

  private async closeAtOrBefore(symbol: string, t: number): Promise<number | undefined> {
    const bars = await this.market.candles(symbol, "1m", { start: t - 5 * MINUTE, end: t });
    const closed = bars.filter((c) => c.time + MINUTE <= t);
    return closed.length > 0 ? closed[closed.length - 1].close : undefined;
  }

  private onFunding(symbol: string, t: number, rate: number, px: number): void {
    const p = getPosition(this.db, VENUE, symbol);
    if (!p || new Dec(p.size).isZero()) return;
    const pay = exact.fundingPayment(p.size, px, rate);
    addLedger(this.db, {
      ts: t,
      kind: "funding",
      symbol,
      amount: pay.toString(),
      ref: `rate=${rate};px=${px}`,
    });
    upsertPosition(this.db, { ...p, funding: new Dec(p.funding).plus(pay).toString(), updated_at: t });
  }

  private onBar(symbol: string, c: Candle): void {
    const t = c.time + MINUTE - 1;
    for (const o of livePaperOrders(this.db)) {
      if (o.symbol !== symbol || o.created_at > c.time) continue;
      const cur = paperOrderByClientId(this.db, o.client_order_id);
      if (!cur || (cur.status !== "open" && cur.status !== "waiting_trigger")) continue; // OCO sibling filled
      if (cur.status === "open" && cur.price !== null) {
        if (limitCrossed(cur.side, Number(cur.price), c.low, c.high)) this.fill(cur, cur.price, "maker", t);
        continue;
      }
      if (cur.trigger_px === null || cur.parent_id === null) continue;
      const parent = this.db
        .prepare("SELECT status, updated_at FROM paper_orders WHERE id = ?")
        .get(cur.parent_id) as { status: string; updated_at: number } | undefined;
      if (parent?.status !== "filled" || parent.updated_at > c.time) continue;
      if (triggered(cur, c)) {
        const px = exact.marketFillPrice(cur.side, cur.trigger_px, bps(this.o.slippageBps));
        this.fill(cur, px.toString(), "taker", t);
      }
    }
  }

  /** Executes a fill of a paper order in the current transaction (reduce-only capped). */
  private fill(o: PaperOrder, px: Decimal.Value, liquidity: "maker" | "taker", t: number): void {
    const pos = this.pos(o.symbol);
    let qty = new Dec(o.size).minus(o.filled_size);
    if (o.reduce_only) {
      if (!reduces(pos, o.side)) {
        updatePaperOrder(
          this.db,
          o.id,
          { status: "canceled", reason: "reduce-only: no position to reduce" },
          t,
        );
        return;
      }
      qty = Dec.min(qty, pos.size.abs());
    }
    const eff = applyFill(pos, o.side, qty, px);
    const rate = bps(liquidity === "maker" ? this.o.makerFeeBps : this.o.takerFeeBps);
    const fee = exact.fee(qty, px, rate);
    if (!eff.realized.isZero()) {
      addLedger(this.db, {
        ts: t,
        kind: "realized_pnl",
        symbol: o.symbol,
        amount: eff.realized.toString(),
        ref: o.id,
      });
    }
    addLedger(this.db, { ts: t, kind: "fee", symbol: o.symbol, amount: fee.negated().toString(), ref: o.id });
    const prev = getPosition(this.db, VENUE, o.symbol);
    upsertPosition(this.db, {
      venue: VENUE,
      symbol: o.symbol,
      size: eff.pos.size.toString(),
      entry_px: eff.pos.entry.toString(),
      realized_pnl: new Dec(prev?.realized_pnl ?? 0).plus(eff.realized).toString(),
      funding: prev?.funding ?? "0",
      updated_at: t,
    });
    insertFill(this.db, VENUE, {
      venue_order_id: o.id,
      client_order_id: o.client_order_id,
      symbol: o.symbol,
      side: o.side,
      size: qty.toString(),
      price: new Dec(px).toString(),
      fee: fee.toString(),
      liquidity,
      realized_pnl: eff.realized.toString(),
      time: t,
    });
    updatePaperOrder(
      this.db,
      o.id,
      { status: "filled", filled_size: qty.toString(), avg_px: new Dec(px).toString() },
      t,
    );
    if (o.parent_id !== null) {
      for (const s of paperChildren(this.db, o.parent_id)) {
        if (s.id !== o.id && s.status === "waiting_trigger") {
          updatePaperOrder(this.db, s.id, { status: "canceled", reason: "sibling TP/SL filled" }, t);
        }
      }
    }
  }

  /** Marks (ticker mids) of the given symbols. */
  private async marks(symbols: Iterable<string>): Promise<Map<string, Decimal>> {
    const out = new Map<string, Decimal>();
    for (const s of new Set(symbols)) out.set(s, new Dec((await this.market.ticker(s)).mid));
    return out;
  }

  /** Account snapshot after a sync; marks are ticker mids. */
  async accountState(): Promise<AccountState> {
    await this.sync();
    const rows = listPositions(this.db, VENUE).filter((p) => !new Dec(p.size).isZero());
    const marks = await this.marks(rows.map((r) => r.symbol));
    const cash = this.cash();
    let upnl = new Dec(0);
    let gross = new Dec(0);
    for (const r of rows) {
      const m = marks.get(r.symbol)!;
      upnl = upnl.plus(m.minus(r.entry_px).times(r.size));
      gross = gross.plus(m.times(r.size).abs());
    }
    const equity = cash.plus(upnl);
    return {
      venue: VENUE,
      equity: equity.toString(),
      cash: cash.toString(),
      gross_notional: gross.toString(),
      time: this.o.clock.now(),
      positions: rows.map((r) => {
        const m = marks.get(r.symbol)!;
        const notional = m.times(r.size).abs();
        return {
          symbol: r.symbol,
          size: r.size,
          entry_px: r.entry_px,
          mark_px: m.toString(),
          unrealized_pnl: m.minus(r.entry_px).times(r.size).toString(),
          leverage: equity.gt(0) ? notional.dividedBy(equity).toSignificantDigits(8).toString() : "0",
          funding: r.funding,
        };
      }),
    };
  }

  /** Open and waiting-trigger orders after a sync. */
  async openOrders(): Promise<VenueOrder[]> {
    await this.sync();
    return livePaperOrders(this.db).map(toVenueOrder);
  }

  /** Fills oldest first; cursor = last fill id. */
  async fills(q: FillQuery): Promise<FillPage> {
    await this.sync();
    const after = q.cursor ? Number(q.cursor) : 0;
    const rows = listFills(this.db, VENUE, q.since ?? 0, Number.isFinite(after) ? after : 0, q.limit);
    const truncated = rows.length > q.limit;
    const fills = rows.slice(0, q.limit);
    return { fills, truncated, next_cursor: truncated ? fills[fills.length - 1].id : null };
  }

  /** Places a batch in order (children after their parent). */
  async place(reqs: PlaceRequest[]): Promise<PlaceResult[]> {
    await this.sync();
    const syms = new Set([
      ...reqs.map((r) => r.symbol),
      ...listPositions(this.db, VENUE).map((p) => p.symbol),
    ]);
    for (const s of syms) await this.instrument(s);
    const marks = await this.marks(syms);
    const maxLev = new Map<string, number>();
    for (const i of await this.instruments())
      maxLev.set(i.symbol, i.max_leverage ?? this.o.defaultMaxLeverage ?? 20);
    const now = this.o.clock.now();
    return this.db.transaction(() => reqs.map((r) => this.placeOne(r, marks, maxLev, now)))();
  }

  private placeOne(
    r: PlaceRequest,
    marks: Map<string, Decimal>,
    maxLev: Map<string, number>,
    now: number,
  ): PlaceResult {
    const existing = paperOrderByClientId(this.db, r.client_order_id);
    if (existing) return { ...resultOf(existing), status: "rejected", error: "duplicate client order id" };
    const seq = nextSeq(this.db);
    const o: PaperOrder = {
      id: `P${seq}`,
      seq,
      client_order_id: r.client_order_id,
      parent_id: null,
      symbol: r.symbol,
      side: r.side,
      type: r.type,
      tif: r.tif,
      size: r.size,
      price: r.type === "limit" ? r.price : null,
      trigger_px: r.trigger?.trigger_px ?? null,
      tpsl: r.trigger?.tpsl ?? null,
      reduce_only: r.reduce_only,
      status: "open",
      filled_size: "0",
      avg_px: null,
      reason: null,
      created_at: now,
      updated_at: now,
    };
    const reject = (reason: string): PlaceResult => {
      insertPaperOrder(this.db, { ...o, status: "rejected", reason });
      return { ...resultOf({ ...o, status: "rejected" }), error: reason };
    };
    if (!new Dec(r.size).gt(0)) return reject("size must be positive");
    if (r.trigger) {
      const parent = r.parent_client_order_id
        ? paperOrderByClientId(this.db, r.parent_client_order_id)
        : undefined;
      if (!parent) return reject("TP/SL child without a parent order");
      if (!r.reduce_only) return reject("TP/SL children must be reduce-only");
      const dead = parent.status === "rejected" || parent.status === "canceled";
      insertPaperOrder(this.db, {
        ...o,
        parent_id: parent.id,
        status: dead ? "canceled" : "waiting_trigger",
        reason: dead ? "parent not placed" : null,
      });
      return resultOf(paperOrderByClientId(this.db, r.client_order_id)!);
    }
    const mid = marks.get(r.symbol)!;
    const slip = bps(this.o.slippageBps);
    let takerPx: Decimal | null = null;
    if (r.type === "market") takerPx = exact.marketFillPrice(r.side, mid, slip);
    else {
      const limit = new Dec(r.price!);
      if (limitMarketable(r.side, limit.toNumber(), mid.toNumber())) {
        if (r.tif === "ALO") return reject("post-only (ALO) order would cross the book");
        const p = exact.marketFillPrice(r.side, mid, slip);
        takerPx = r.side === "buy" ? Dec.min(p, limit) : Dec.max(p, limit);
      } else if (r.tif === "IOC") {
        insertPaperOrder(this.db, { ...o, status: "canceled", reason: "IOC limit did not cross" });
        return resultOf(paperOrderByClientId(this.db, r.client_order_id)!);
      }
    }
    const pos = this.pos(r.symbol);
    if (r.reduce_only && !reduces(pos, r.side))
      return reject("reduce-only order would not reduce a position");
    const margin = this.marginProblem(r, takerPx ?? new Dec(r.price!), pos, marks, maxLev);
    if (margin) return reject(margin);
    insertPaperOrder(this.db, o);
    if (takerPx) this.fill(o, takerPx, "taker", now);
    return resultOf(paperOrderByClientId(this.db, r.client_order_id)!);
  }

  /** Cross-margin check: gross notional after the fill ≤ equity × max leverage (increases only). */
  private marginProblem(
    r: PlaceRequest,
    px: Decimal,
    pos: Pos,
    marks: Map<string, Decimal>,
    maxLev: Map<string, number>,
  ): string | null {
    if (r.reduce_only) return null;
    const after = pos.size.plus(r.side === "buy" ? r.size : new Dec(r.size).negated());
    if (after.abs().lte(pos.size.abs())) return null;
    let upnl = new Dec(0);
    let gross = new Dec(0);
    for (const p of listPositions(this.db, VENUE)) {
      const m = marks.get(p.symbol);
      if (!m || new Dec(p.size).isZero()) continue;
      upnl = upnl.plus(m.minus(p.entry_px).times(p.size));
      if (p.symbol !== r.symbol) gross = gross.plus(m.times(p.size).abs());
    }
    const equity = this.cash().plus(upnl);
    const grossAfter = gross.plus(after.abs().times(px));
    const cap = equity.times(maxLev.get(r.symbol) ?? this.o.defaultMaxLeverage ?? 20);
    if (grossAfter.gt(cap)) {
      return `insufficient margin: gross notional after fill ${grossAfter.toFixed(2)} exceeds equity × max leverage ${cap.toFixed(2)}`;
    }
    return null;
  }

  /** Cancels by client order id; canceling a parent before its fill cancels its TP/SL children. */
  async cancel(reqs: CancelRequest[]): Promise<CancelResult[]> {
    await this.sync();
    const now = this.o.clock.now();
    return this.db.transaction(() =>
      reqs.map((r): CancelResult => {
        const o = paperOrderByClientId(this.db, r.client_order_id);
        if (!o) return { client_order_id: r.client_order_id, ok: false, error: "unknown order" };
        if (o.status !== "open" && o.status !== "waiting_trigger") {
          return { client_order_id: r.client_order_id, ok: false, error: `order is ${o.status}` };
        }
        updatePaperOrder(this.db, o.id, { status: "canceled", reason: "canceled by request" }, now);
        for (const c of paperChildren(this.db, o.id)) {
          if (c.status === "waiting_trigger")
            updatePaperOrder(this.db, c.id, { status: "canceled", reason: "parent canceled" }, now);
        }
        return { client_order_id: r.client_order_id, ok: true };
      }),
    )();
  }

  /** The paper book's view of an order; null when it never arrived. */
  async orderStatus(ref: OrderRef): Promise<VenueOrder | null> {
    await this.sync();
    const o = paperOrderByClientId(this.db, ref.client_order_id);
    return o ? toVenueOrder(o) : null;
  }
}

/** TP/SL trigger test on a bar: a sell child closes a long (TP above, SL below); a buy child the reverse. */
function triggered(o: PaperOrder, c: Candle): boolean {
  const px = Number(o.trigger_px);
  const above = c.high >= px;
  const below = c.low <= px;
  if (o.side === "sell") return o.tpsl === "tp" ? above : below;
  return o.tpsl === "tp" ? below : above;
}

function resultOf(o: PaperOrder): PlaceResult {
  return {
    client_order_id: o.client_order_id,
    status: o.status,
    venue_order_id: o.id,
    filled_size: o.filled_size,
    avg_px: o.avg_px,
    ...(o.reason && o.status === "rejected" ? { error: o.reason } : {}),
  };
}

function toVenueOrder(o: PaperOrder): VenueOrder {
  return {
    client_order_id: o.client_order_id,
    venue_order_id: o.id,
    symbol: o.symbol,
    side: o.side,
    size: o.size,
    filled_size: o.filled_size,
    price: o.price,
    status: o.status,
    reduce_only: o.reduce_only,
    trigger_px: o.trigger_px,
    time: o.created_at,
  };
}
