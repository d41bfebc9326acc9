import type { Decimal } from "decimal.js";
import type { Clock } from "../../clock.js";
import { TwError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { cacheEpoch, type Db, dataVersion } from "../../store/db.js";
import { insertFill, listFills } from "../../store/fills.js";
import { listPositions, type PositionRow, upsertPosition } from "../../store/positions.js";
import {
  belowMaintenance,
  bps,
  Dec,
  exact,
  limitCrossed,
  limitMarketable,
  stopFillReference,
} from "../fillModel.js";
import type { Candle, Instrument, MarketData } from "../types.js";
import type {
  AccountState,
  CancelRequest,
  CancelResult,
  FillPage,
  FillQuery,
  OrderRef,
  OrderStatus,
  PlaceRequest,
  PlaceResult,
  Venue,
  VenueOrder,
} from "../venue.js";
import { applyFill, type Pos, reduces } from "./book.js";
import {
  addLedger,
  addParticipation,
  armedGuardSymbols,
  armedGuards,
  cashBalance,
  claimFunding,
  getMeta,
  insertPaperOrder,
  livePaperOrders,
  nextSeq,
  type PaperOrder,
  paperChildren,
  paperOrderByClientId,
  paperOrderById,
  participationUsed,
  setMeta,
  updatePaperGuard,
  updatePaperOrder,
} from "./store.js";

/** What the paper venue did on its own (guard exits, liquidations), for the audit log. */
export interface PaperEvent {
  kind: "guard_exit" | "liquidation";
  /** ms UTC of the fill. */
  time: number;
  symbol: string;
  client_order_id: string;
  side: "buy" | "sell";
  size: string;
  price: string;
  reason: string;
}

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
  /** Largest share of a 1m bar's volume the account fills per symbol (fraction). Default 0.10. */
  maxParticipation?: number;
  /** Maintenance margin as a fraction of gross notional (cross margin). Default 0.005. */
  maintenanceMargin?: number;
  /** Called inside the booking transaction for every guard exit and liquidation. */
  onEvent?: (e: PaperEvent) => void;
}

const VENUE = "paper";
/** What the venue's memo is read from: its own tables and meta keys, and the position rows. */
const MEMO_TABLES = ["paper", "positions"] as const;
const MINUTE = 60_000;

/**
 * What the venue re-reads several times at one instant (the cycle, the reconciler and the risk check
 * each read the account), valid for one cache epoch and data version (src/store/db.ts): any write to
 * the paper tables or position rows in this process, any rollback, or a commit by another connection
 * (a second process on the same home) starts a new memo. Fields are filled on first read.
 */
interface Memo {
  epoch: number;
  dv: number;
  positions?: PositionRow[];
  /** `positions` without the flat rows. */
  open?: PositionRow[];
  live?: PaperOrder[];
  guarded?: string[];
  /** accountState at (now, marks). */
  account?: { now: number; marks: string; state: AccountState };
}

/** One minute of closed bars, keyed by symbol. */
type Minute = { time: number; bars: Map<string, Candle> };
type SyncEvent = { t: number } & ({ minute: Minute } | { sym: string; rate: number; px: number });

/**
 * The `paper` venue: in-process matching on the active market-data source (DESIGN.md §4), with the
 * shared fill model (src/exchange/fillModel.ts):
 * - market orders fill at once at the current mid (the ticker) moved by the slippage, as taker;
 * - limit orders marketable on arrival fill like market orders but never worse than their limit;
 *   ALO orders that would cross are rejected; IOC orders that do not cross are canceled; the rest
 *   rest and fill at their limit, as maker, in the closed 1m bars opened at or after placement whose
 *   range reaches the limit;
 * - participation cap: per symbol and 1m bar the account fills at most `maxParticipation` of the
 *   bar's volume. A fill on arrival counts against the bar being formed and is sized on the volume
 *   of the last closed bar (the forming bar's volume is not known yet); a resting order fills at most
 *   the room left in each bar it rests through, a touch included. What cannot fill rests (GTC) or is
 *   canceled (IOC, market): the order ends `partially_filled` (or `canceled` when nothing filled);
 * - TP/SL children wait for their parent's fill, then trigger on a bar reaching the trigger price; a
 *   TP fills at its trigger, an SL at the worse of its trigger and the bar's open (gaps), both as
 *   reduce-only taker orders with slippage; a fill cancels the sibling (one-cancels-other);
 * - position guards (`guard` on a parent): after the parent's first fill, a trailing stop follows the
 *   best price (bar high for a long, low for a short; the high is assumed to come first, which is the
 *   pessimistic order) and fires like an SL; a time exit closes at the close of the bar in which
 *   `max_hold_ms` has elapsed. Exits close at most what the parent filled, cancel the parent's
 *   remainder and its TP/SL, and are reported through `onEvent`;
 * - reduce-only orders are capped at the position and canceled when there is nothing to reduce;
 * - funding at each funding time t: `−size × px × rate`, px = close of the last 1m bar closed at or
 *   before t; booked exactly once per (symbol, funding time) (`paper_funding_booked`);
 * - cross margin: an order that increases exposure is rejected when gross notional after the fill
 *   exceeds equity × max leverage; after every minute, when equity with each position marked at its
 *   bar's adverse extreme (low for a long, high for a short) is below `maintenanceMargin × gross
 *   notional`, every position is liquidated at those prices with the taker fee (fills of kind
 *   `liquidation`, their PnL booked as ledger kind `liquidation`) and every live order is canceled.
 * State (orders, fills, positions, cash ledger) is in SQLite; amounts are exact decimals. Every read
 * and placement first brings the book up to the clock ({@link PaperVenue.sync}); syncs run one at a
 * time, and each re-reads its cursors inside its transaction, so concurrent reads book nothing twice.
 */
export class PaperVenue implements Venue {
  readonly id = VENUE;
  readonly network = "paper" as const;
  readonly nativeGuards = true;
  private readonly db: Db;
  private syncChain: Promise<void> = Promise.resolve();
  private lots = new Map<string, Decimal>();
  private memoState: Memo = { epoch: -1, dv: -1 };
  private dv = -1;
  private dvChecked = false;

  constructor(private readonly o: PaperOptions) {
    this.db = o.db;
  }

  /** The memo of the current cache epoch and data version (see {@link Memo}). */
  private memo(): Memo {
    const epoch = cacheEpoch(this.db, MEMO_TABLES);
    // Another connection's commit is looked for once per synchronous stretch of this process (one
    // PRAGMA instead of one per read); within it no other commit is observed in between anyway.
    if (!this.dvChecked) {
      this.dvChecked = true;
      queueMicrotask(() => {
        this.dvChecked = false;
      });
      this.dv = dataVersion(this.db);
    }
    if (this.memoState.epoch !== epoch || this.memoState.dv !== this.dv)
      this.memoState = { epoch, dv: this.dv };
    return this.memoState;
  }

  /** Symbols with an armed position guard (cached per memo). */
  private guardedSymbols(): string[] {
    const m = this.memo();
    if (m.guarded === undefined) m.guarded = armedGuardSymbols(this.db);
    return m.guarded;
  }

  /** Every position row of the venue, flat ones included (cached per memo; do not mutate). */
  private positionRows(): PositionRow[] {
    const m = this.memo();
    if (m.positions === undefined) m.positions = listPositions(this.db, VENUE);
    return m.positions;
  }

  /** Position rows with a non-zero size (cached per memo; do not mutate). */
  private openPositionRows(): PositionRow[] {
    const m = this.memo();
    if (m.open === undefined) m.open = this.positionRows().filter((p) => !new Dec(p.size).isZero());
    return m.open;
  }

  private positionRow(symbol: string): PositionRow | undefined {
    return this.positionRows().find((p) => p.symbol === symbol);
  }

  /** Live paper orders, oldest first (cached per memo; do not mutate). */
  private liveOrders(): PaperOrder[] {
    const m = this.memo();
    if (m.live === undefined) m.live = livePaperOrders(this.db);
    return m.live;
  }

  private get market(): MarketData {
    return this.o.market();
  }

  private get maxParticipation(): number {
    return this.o.maxParticipation ?? 0.1;
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
    this.lots.set(symbol, new Dec(ins.lot_size));
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

  /** Rounds coins down to the symbol's lot (lots are loaded before any booking transaction). */
  private floorLot(symbol: string, qty: Decimal): Decimal {
    const lot = this.lots.get(symbol);
    if (!lot || lot.isZero()) return qty;
    return qty.dividedBy(lot).floor().times(lot);
  }

  /** Opens the account on first use: starting cash and sync cursors at the current time. */
  private ensureStarted(): void {
    // The cursors and cash are `paper.*` meta keys, read through the meta cache (src/store/meta.ts),
    // which their writes keep current: they are not part of the memo, so a cursor write leaves the
    // memo's positions and live orders standing (issue 15, round 4).
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
    return new Dec(this.cashText());
  }

  /** Cash as its decimal string (through the meta cache). */
  private cashText(): string {
    return cashBalance(this.db);
  }

  private pos(symbol: string): Pos {
    const p = this.positionRow(symbol);
    return p
      ? { size: new Dec(p.size), entry: new Dec(p.entry_px) }
      : { size: new Dec(0), entry: new Dec(0) };
  }

  /**
   * Brings the book up to the clock: fills resting limits, triggers, guards and liquidations on
   * closed 1m bars and books funding events, in time order, since the last sync. Called before every
   * read and placement. Syncs are serialised in this process; across processes each one re-reads the
   * cursors inside its (immediate) transaction and skips what another already booked, and a funding
   * event is claimed in `paper_funding_booked` before it is booked.
   */
  async sync(): Promise<void> {
    const run = this.syncChain.then(() => this.syncNow());
    this.syncChain = run.catch(() => undefined);
    return run;
  }

  private async syncNow(): Promise<void> {
    this.ensureStarted();
    const now = this.o.clock.now();
    const barCursor = Number(getMeta(this.db, "paper.synced_at"));
    const fundCursor = Number(getMeta(this.db, "paper.funding_at"));
    // Already synced up to this instant (the cycle, the reconciler and the risk check read the venue
    // several times at one clock time): no bar has closed and no funding time has passed since, so
    // the pass below would book nothing and write the cursors back unchanged.
    if (fundCursor >= now && barCursor >= Math.floor(now / MINUTE) * MINUTE) return;
    const posSyms = this.openPositionRows().map((p) => p.symbol);
    const symbols = new Set([
      ...this.liveOrders().map((x) => x.symbol),
      ...posSyms,
      ...this.guardedSymbols(),
    ]);
    const minutes = new Map<number, Minute>();
    const events: SyncEvent[] = [];
    for (const sym of symbols) {
      await this.instrument(sym);
      if (barCursor < now) {
        const bars = await this.market.candles(sym, "1m", { start: barCursor, end: now });
        for (const c of bars) {
          if (c.time < barCursor || c.time + MINUTE > now) continue;
          let m = minutes.get(c.time);
          if (!m) {
            m = { time: c.time, bars: new Map() };
            minutes.set(c.time, m);
            events.push({ t: c.time + MINUTE - 1, minute: m });
          }
          m.bars.set(sym, c);
        }
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
    const lastClose =
      minutes.size > 0 ? await this.lastCloses(posSyms, barCursor) : new Map<string, number>();
    this.db
      .transaction(() => {
        // Another sync (this process or another) may have booked part of this range meanwhile.
        const bars = Number(getMeta(this.db, "paper.synced_at"));
        const funded = Number(getMeta(this.db, "paper.funding_at"));
        for (const e of events) {
          if ("minute" in e) {
            if (e.minute.time < bars) continue;
            this.onMinute(e.minute, lastClose);
          } else if (e.t > funded) this.onFunding(e.sym, e.t, e.rate, e.px);
        }
        setMeta(this.db, "paper.synced_at", String(Math.max(bars, Math.floor(now / MINUTE) * MINUTE)));
        setMeta(this.db, "paper.funding_at", String(Math.max(funded, now)));
      })
      .immediate();
  }

  /** Close of the last bar before `t` per symbol (the mark of a position with no bar in a minute). */
  private async lastCloses(symbols: string[], t: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const s of symbols) {
      const px = await this.closeAtOrBefore(s, t);
      if (px !== undefined) out.set(s, px);
    }
    return out;
  }

  private async closeAtOrBefore(symbol: string, t: number): Promise<number | undefined> {
    const bars = await this.market.candles(symbol, "1m", { start: t - 5 * MINUTE, end: t });
    const closed = bars.filter((c) => c.time + MINUTE <= t);
    return closed.length > 0 ? closed[closed.length - 1].close : undefined;
  }

  private onFunding(symbol: string, t: number, rate: number, px: number): void {
    const p = this.positionRow(symbol);
    if (!p || new Dec(p.size).isZero()) return;
    if (!claimFunding(this.db, symbol, t)) return;
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

  private onMinute(m: Minute, lastClose: Map<string, number>): void {
    for (const [sym, c] of m.bars) {
      this.onBar(sym, c);
      lastClose.set(sym, c.close);
    }
    this.checkLiquidation(m, lastClose);
  }

  /** Coins still fillable on `symbol` in the bar opened at `bar` with base volume `volume`. */
  private room(symbol: string, bar: number, volume: number): Decimal {
    const used = new Dec(participationUsed(this.db, symbol, bar));
    const cap = new Dec(volume).times(this.maxParticipation);
    return this.floorLot(symbol, Dec.max(0, cap.minus(used)));
  }

  private onBar(symbol: string, c: Candle): void {
    const t = c.time + MINUTE - 1;
    const slip = bps(this.o.slippageBps);
    for (const o of this.liveOrders()) {
      if (o.symbol !== symbol || o.created_at > c.time) continue;
      const cur = paperOrderByClientId(this.db, o.client_order_id);
      if (!cur || (cur.status !== "open" && cur.status !== "waiting_trigger")) continue; // OCO sibling filled
      if (cur.status === "open" && cur.price !== null) {
        if (!limitCrossed(cur.side, Number(cur.price), c.low, c.high)) continue;
        const left = new Dec(cur.size).minus(cur.filled_size);
        const qty = Dec.min(left, this.room(symbol, c.time, c.volume));
        if (qty.gt(0)) this.fill(cur, cur.price, "maker", t, qty, { final: false });
        continue;
      }
      if (cur.trigger_px === null || cur.parent_id === null) continue;
      const parent = paperOrderById(this.db, cur.parent_id);
      if (!parent || new Dec(parent.filled_size).isZero() || parent.updated_at > c.time) continue;
      if (triggered(cur, c)) {
        const trig = Number(cur.trigger_px);
        const ref = cur.tpsl === "sl" ? stopFillReference(cur.side, trig, c.open) : trig;
        const px = exact.marketFillPrice(cur.side, ref, slip);
        this.fill(cur, px, "taker", t, new Dec(cur.size).minus(cur.filled_size), { final: true });
      }
    }
    if (this.guardedSymbols().includes(symbol))
      for (const g of armedGuards(this.db, symbol)) this.evaluateGuard(g, c);
  }

  /** Trailing stop / time exit of an armed parent order on one bar (see the class comment). */
  private evaluateGuard(g: PaperOrder, c: Candle): void {
    if (g.guard_armed_at === null || g.guard_armed_at === undefined || c.time < g.guard_armed_at) return;
    const long = g.side === "buy";
    const pos = this.pos(g.symbol);
    if (pos.size.isZero() || pos.size.gt(0) !== long) {
      updatePaperGuard(this.db, g.id, { state: "done" });
      return;
    }
    const t = c.time + MINUTE - 1;
    const exitSide = long ? "sell" : "buy";
    const slip = bps(this.o.slippageBps);
    let exit: { ref: number; reason: string; tag: string } | null = null;
    let peak = new Dec(g.guard_peak ?? g.avg_px ?? c.open);
    if (g.trail_bps) {
      const f = g.trail_bps / 10_000;
      const before = long ? peak.times(1 - f) : peak.times(1 + f);
      // Pessimistic order inside the bar: the favourable extreme first, then the adverse one.
      peak = long ? Dec.max(peak, c.high) : Dec.min(peak, c.low);
      const stop = (long ? peak.times(1 - f) : peak.times(1 + f)).toNumber();
      const gapped = long ? c.open <= before.toNumber() : c.open >= before.toNumber();
      const hit = long ? c.low <= stop : c.high >= stop;
      if (gapped || hit) {
        const trig = gapped ? before.toNumber() : stop;
        exit = {
          ref: stopFillReference(exitSide, trig, c.open),
          reason: `trailing stop ${g.trail_bps} bps from the best price ${peak.toString()} (stop ${trig})`,
          tag: "trail",
        };
      }
    }
    if (!exit && g.max_hold_ms && c.time + MINUTE >= g.guard_armed_at + g.max_hold_ms) {
      exit = {
        ref: c.close,
        reason: `held ${Math.round(g.max_hold_ms / MINUTE)} min (max_hold_minutes): closed at the bar close`,
        tag: "time",
      };
    }
    if (!exit) {
      updatePaperGuard(this.db, g.id, { state: "armed", peak: peak.toString() });
      return;
    }
    const qty = Dec.min(new Dec(g.filled_size), pos.size.abs());
    const child = this.insertChild(g, exitSide, qty, `${g.client_order_id}:${exit.tag}`, t);
    const px = exact.marketFillPrice(exitSide, exit.ref, slip);
    this.fill(child, px, "taker", t, qty, { final: true });
    updatePaperGuard(this.db, g.id, { state: "done", peak: peak.toString() });
    this.endParent(g, t, `position guard exit (${exit.tag})`);
    this.o.onEvent?.({
      kind: "guard_exit",
      time: t,
      symbol: g.symbol,
      client_order_id: child.client_order_id,
      side: exitSide,
      size: qty.toString(),
      price: px.toString(),
      reason: exit.reason,
    });
  }

  /** Inserts a venue-generated reduce-only market child (guard exit or liquidation). */
  private insertChild(
    parent: PaperOrder | null,
    side: "buy" | "sell",
    qty: Decimal,
    clientOrderId: string,
    t: number,
    symbol = parent?.symbol ?? "",
  ): PaperOrder {
    const seq = nextSeq(this.db);
    const o: PaperOrder = {
      id: `P${seq}`,
      seq,
      client_order_id: clientOrderId,
      parent_id: parent?.id ?? null,
      symbol,
      side,
      type: "market",
      tif: "IOC",
      size: qty.toString(),
      price: null,
      trigger_px: null,
      tpsl: null,
      reduce_only: true,
      status: "open",
      filled_size: "0",
      avg_px: null,
      reason: null,
      created_at: t,
      updated_at: t,
    };
    insertPaperOrder(this.db, o);
    return o;
  }

  /** After a guard exit: cancels the parent's resting remainder and its waiting TP/SL children. */
  private endParent(parent: PaperOrder, t: number, why: string): void {
    const cur = paperOrderById(this.db, parent.id);
    if (cur && cur.status === "open") this.cancelOrder(cur, t, why);
    for (const s of paperChildren(this.db, parent.id)) {
      if (s.status === "waiting_trigger")
        updatePaperOrder(this.db, s.id, { status: "canceled", reason: why }, t);
    }
  }

  /** Cancels a live order: `partially_filled` when part of it filled, else `canceled`. */
  private cancelOrder(o: PaperOrder, t: number, reason: string): void {
    const part = new Dec(o.filled_size).gt(0);
    updatePaperOrder(this.db, o.id, { status: part ? "partially_filled" : "canceled", reason }, t);
    if (o.guard_state === "waiting") updatePaperGuard(this.db, o.id, { state: "done" });
  }

  /** Cross-margin maintenance check after a minute; liquidates every position when below. */
  private checkLiquidation(m: Minute, lastClose: Map<string, number>): void {
    const rows = this.openPositionRows();
    if (rows.length === 0) return;
    const px = new Map<string, number>();
    for (const r of rows) {
      const bar = m.bars.get(r.symbol);
      const long = new Dec(r.size).gt(0);
      const mark = bar ? (long ? bar.low : bar.high) : lastClose.get(r.symbol);
      if (mark === undefined) return; // no price for a position: cannot judge this minute
      px.set(r.symbol, mark);
    }
    const mm = this.o.maintenanceMargin ?? 0.005;
    if (clearlyAboveMaintenance(Number(this.cashText()), rows, px, mm)) return;
    const marks = new Map<string, Decimal>();
    for (const [s, mark] of px) marks.set(s, new Dec(mark));
    let equity = this.cash();
    let gross = new Dec(0);
    for (const r of rows) {
      const mk = marks.get(r.symbol)!;
      equity = equity.plus(mk.minus(r.entry_px).times(r.size));
      gross = gross.plus(mk.times(r.size).abs());
    }
    if (!belowMaintenance(equity.toNumber(), gross.toNumber(), mm)) return;
    const t = m.time + MINUTE - 1;
    const reason = `liquidation: margin equity ${equity.toFixed(2)} < maintenance ${mm} × gross notional ${gross.toFixed(2)}`;
    for (const o of this.liveOrders()) this.cancelOrder(o, t, "account liquidated");
    for (const r of rows) {
      const size = new Dec(r.size);
      const side = size.gt(0) ? "sell" : "buy";
      const child = this.insertChild(null, side, size.abs(), `liq:${m.time}:${r.symbol}`, t, r.symbol);
      const px = marks.get(r.symbol)!;
      this.fill(child, px, "taker", t, size.abs(), { final: true, liquidation: true });
      this.o.onEvent?.({
        kind: "liquidation",
        time: t,
        symbol: r.symbol,
        client_order_id: child.client_order_id,
        side,
        size: size.abs().toString(),
        price: px.toString(),
        reason,
      });
    }
    for (const g of this.positionRows()) {
      for (const a of armedGuards(this.db, g.symbol)) updatePaperGuard(this.db, a.id, { state: "done" });
    }
  }

  /**
   * Executes a fill of `qty` coins of a paper order in the current transaction (reduce-only capped)
   * and records the participation. `final`: the order ends here even when part of it is left
   * (IOC/market remainder canceled → `partially_filled`).
   * @returns the coins actually filled.
   */
  private fill(
    o: PaperOrder,
    px: Decimal.Value,
    liquidity: "maker" | "taker",
    t: number,
    want: Decimal,
    opts: { final: boolean; liquidation?: boolean; reason?: string },
  ): Decimal {
    const pos = this.pos(o.symbol);
    let qty = want;
    if (o.reduce_only) {
      if (!reduces(pos, o.side)) {
        this.cancelOrder(o, t, "reduce-only: no position to reduce");
        return new Dec(0);
      }
      qty = Dec.min(qty, pos.size.abs());
    }
    const eff = applyFill(pos, o.side, qty, px);
    const rate = bps(liquidity === "maker" ? this.o.makerFeeBps : this.o.takerFeeBps);
    const fee = exact.fee(qty, px, rate);
    if (!eff.realized.isZero()) {
      addLedger(this.db, {
        ts: t,
        kind: opts.liquidation ? "liquidation" : "realized_pnl",
        symbol: o.symbol,
        amount: eff.realized.toString(),
        ref: o.id,
      });
    }
    addLedger(this.db, { ts: t, kind: "fee", symbol: o.symbol, amount: fee.negated().toString(), ref: o.id });
    const prev = this.positionRow(o.symbol);
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
      kind: opts.liquidation ? "liquidation" : "trade",
    });
    addParticipation(this.db, o.symbol, Math.floor(t / MINUTE) * MINUTE, qty);
    const before = new Dec(o.filled_size);
    const filled = before.plus(qty);
    const avg = before
      .times(o.avg_px ?? 0)
      .plus(qty.times(px))
      .dividedBy(filled);
    // A reduce-only order capped at the position is done (filled) once the position is closed.
    const complete = filled.gte(o.size) || (o.reduce_only && eff.pos.size.isZero());
    const status: OrderStatus = complete ? "filled" : opts.final ? "partially_filled" : "open";
    updatePaperOrder(
      this.db,
      o.id,
      {
        status,
        filled_size: filled.toString(),
        avg_px: avg.toString(),
        reason:
          status === "partially_filled"
            ? (opts.reason ?? `filled ${filled} of ${o.size}; the rest was canceled`)
            : null,
      },
      t,
    );
    if (o.guard_state === "waiting") {
      updatePaperGuard(this.db, o.id, { state: "armed", armed_at: t, peak: new Dec(px).toString() });
    }
    if (o.parent_id !== null && o.tpsl !== null) {
      for (const s of paperChildren(this.db, o.parent_id)) {
        if (s.id !== o.id && s.status === "waiting_trigger") {
          updatePaperOrder(this.db, s.id, { status: "canceled", reason: "sibling TP/SL filled" }, t);
        }
      }
      updatePaperGuard(this.db, o.parent_id, { state: "done" });
    }
    return qty;
  }

  /** Marks (ticker mids) of the given symbols. */
  private async marks(symbols: Iterable<string>): Promise<Map<string, Decimal>> {
    const out = new Map<string, Decimal>();
    for (const s of new Set(symbols)) out.set(s, new Dec((await this.market.ticker(s)).mid));
    return out;
  }

  /**
   * Account snapshot after a sync; marks are ticker mids. Repeated reads at one instant with the same
   * book and marks return a copy of the snapshot computed first (see {@link Memo}).
   */
  async accountState(): Promise<AccountState> {
    await this.sync();
    const rows = this.openPositionRows();
    const memo = this.memoState;
    const mids: number[] = [];
    for (const r of rows) mids.push((await this.market.ticker(r.symbol)).mid);
    const now = this.o.clock.now();
    const key = mids.join(",");
    const hit = this.memo() === memo ? memo.account : undefined;
    if (hit && hit.now === now && hit.marks === key) return copyAccount(hit.state);
    const marks = new Map<string, Decimal>(rows.map((r, i) => [r.symbol, new Dec(mids[i])]));
    const cash = this.cash();
    let upnl = new Dec(0);
    let gross = new Dec(0);
    // Each row's unrealised PnL and notional, computed once for the totals and the rows.
    const pnl: Decimal[] = [];
    const notional: Decimal[] = [];
    for (const r of rows) {
      const m = marks.get(r.symbol)!;
      pnl.push(m.minus(r.entry_px).times(r.size));
      notional.push(m.times(r.size).abs());
      upnl = upnl.plus(pnl[pnl.length - 1]);
      gross = gross.plus(notional[notional.length - 1]);
    }
    const equity = cash.plus(upnl);
    const state: AccountState = {
      venue: VENUE,
      equity: equity.toString(),
      cash: cash.toString(),
      gross_notional: gross.toString(),
      time: now,
      positions: rows.map((r, i) => ({
        symbol: r.symbol,
        size: r.size,
        entry_px: r.entry_px,
        mark_px: marks.get(r.symbol)!.toString(),
        unrealized_pnl: pnl[i].toString(),
        leverage: equity.gt(0) ? notional[i].dividedBy(equity).toSignificantDigits(8).toString() : "0",
        funding: r.funding,
      })),
    };
    if (this.memo() === memo) memo.account = { now, marks: key, state };
    return copyAccount(state);
  }

  /** Open and waiting-trigger orders after a sync. */
  async openOrders(): Promise<VenueOrder[]> {
    await this.sync();
    return this.liveOrders().map(toVenueOrder);
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
    const syms = new Set([...reqs.map((r) => r.symbol), ...this.positionRows().map((p) => p.symbol)]);
    for (const s of syms) await this.instrument(s);
    const marks = await this.marks(syms);
    const maxLev = new Map<string, number>();
    for (const i of await this.instruments())
      maxLev.set(i.symbol, i.max_leverage ?? this.o.defaultMaxLeverage ?? 20);
    // Liquidity of an arrival fill: the volume of the last closed bar (the forming bar is unknown).
    const lastVolume = new Map<string, number>();
    for (const s of new Set(reqs.map((r) => r.symbol))) {
      const [bar] = await this.market.candles(s, "1m", { limit: 1 });
      lastVolume.set(s, bar?.volume ?? 0);
    }
    const now = this.o.clock.now();
    return this.db.transaction(() => reqs.map((r) => this.placeOne(r, marks, maxLev, lastVolume, now)))();
  }

  private placeOne(
    r: PlaceRequest,
    marks: Map<string, Decimal>,
    maxLev: Map<string, number>,
    lastVolume: Map<string, number>,
    now: number,
  ): PlaceResult {
    const existing = paperOrderByClientId(this.db, r.client_order_id);
    if (existing) return { ...resultOf(existing), status: "rejected", error: "duplicate client order id" };
    const seq = nextSeq(this.db);
    const guarded = r.guard && (r.guard.trailing_stop_bps || r.guard.max_hold_ms);
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
      trail_bps: guarded ? r.guard?.trailing_stop_bps || null : null,
      max_hold_ms: guarded ? r.guard?.max_hold_ms || null : null,
      guard_state: guarded ? "waiting" : null,
    };
    const reject = (reason: string): PlaceResult => {
      insertPaperOrder(this.db, { ...o, status: "rejected", reason, guard_state: null });
      return { ...resultOf({ ...o, status: "rejected" }), error: reason };
    };
    if (!new Dec(r.size).gt(0)) return reject("size must be positive");
    if (guarded && r.reduce_only) return reject("a position guard needs an order that opens a position");
    if (r.trigger) {
      const parent = r.parent_client_order_id
        ? paperOrderByClientId(this.db, r.parent_client_order_id)
        : undefined;
      if (!parent) return reject("TP/SL child without a parent order");
      if (!r.reduce_only) return reject("TP/SL children must be reduce-only");
      const dead =
        parent.status === "rejected" || (parent.status === "canceled" && parent.filled_size === "0");
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
        insertPaperOrder(this.db, {
          ...o,
          status: "canceled",
          reason: "IOC limit did not cross",
          guard_state: null,
        });
        return resultOf(paperOrderByClientId(this.db, r.client_order_id)!);
      }
    }
    const pos = this.pos(r.symbol);
    if (r.reduce_only && !reduces(pos, r.side))
      return reject("reduce-only order would not reduce a position");
    const margin = this.marginProblem(r, takerPx ?? new Dec(r.price!), pos, marks, maxLev);
    if (margin) return reject(margin);
    insertPaperOrder(this.db, o);
    if (takerPx) {
      const bar = Math.floor(now / MINUTE) * MINUTE;
      const room = this.room(r.symbol, bar, lastVolume.get(r.symbol) ?? 0);
      const qty = Dec.min(new Dec(r.size), room);
      const resting = r.type === "limit" && r.tif !== "IOC";
      const why = `participation cap: at most ${this.maxParticipation} of the last bar's volume ${lastVolume.get(r.symbol) ?? 0}`;
      if (qty.gt(0)) {
        this.fill(o, takerPx, "taker", now, qty, {
          final: !resting,
          reason: `IOC: filled ${qty} of ${r.size} (${why}); the rest was canceled`,
        });
      } else if (!resting) {
        this.cancelOrder(o, now, `nothing filled: ${why}`);
      }
    }
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
    for (const p of this.positionRows()) {
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

  /**
   * Cancels by client order id; canceling a parent before its fill cancels its TP/SL children. An
   * order canceled after a partial fill ends `partially_filled`.
   */
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
        this.cancelOrder(o, now, "canceled by request");
        if (new Dec(o.filled_size).isZero()) {
          for (const c of paperChildren(this.db, o.id)) {
            if (c.status === "waiting_trigger")
              updatePaperOrder(this.db, c.id, { status: "canceled", reason: "parent canceled" }, now);
          }
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

/**
 * Whether the margin equity is above `mm × gross notional` by far more than any float rounding
 * (issue 15: the exact check below ran every minute for every open book). Computed in doubles, the
 * sums are off by at most ~1e-15 of the magnitudes summed; a margin of 1e-9 of them (plus one
 * micro-unit) leaves only accounts truly near maintenance to the exact decimal check, so the outcome
 * is the exact check's.
 */
function clearlyAboveMaintenance(
  cash: number,
  rows: PositionRow[],
  marks: Map<string, number>,
  mm: number,
): boolean {
  let equity = cash;
  let gross = 0;
  let scale = Math.abs(cash);
  for (const r of rows) {
    const size = Number(r.size);
    const entry = Number(r.entry_px);
    const mk = marks.get(r.symbol) as number;
    equity += (mk - entry) * size;
    gross += Math.abs(mk * size);
    scale += Math.abs(mk * size) + Math.abs(entry * size);
  }
  if (!Number.isFinite(equity) || !Number.isFinite(scale)) return false;
  return equity - mm * gross > 1e-9 * scale + 1e-6;
}

/** A copy callers may change without touching the memoised snapshot. */
function copyAccount(a: AccountState): AccountState {
  return { ...a, positions: a.positions.map((p) => ({ ...p })) };
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
