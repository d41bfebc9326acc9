import { createHash } from "node:crypto";
import type { Exchange, MarketInterface, Order } from "ccxt";
import { Decimal } from "decimal.js";
import type { Config } from "../../config.js";
import { TwError } from "../../errors.js";
import { ccxtExchangeClass, ccxtLib } from "./lib.js";
import type { Logger } from "../../log.js";
import { ccxtSecrets } from "../../secrets.js";
import type { Instrument } from "../types.js";
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
import { mapCcxtError } from "./errors.js";

/**
 * ccxt execution venues (`okx:demo`, `bitget:demo`, `binanceusdm:testnet`, ...; mainnet only when
 * the operator allows it). Thinner than Hyperliquid but behind the same gate. One authenticated,
 * long-lived ccxt instance per venue id (its built-in rate limiter stays effective); demo/testnet
 * use ccxt's sandbox mode. Sizes cross the boundary in coins and are converted to contracts with the
 * market's contractSize; `amountToPrecision` / `priceToPrecision` do the rounding. Client order ids
 * are mapped to `tw` + 30 hex of sha256(id) (alphanumeric, ≤ 32 chars: accepted by OKX, Bitget and
 * Binance). Network errors while placing are EXCHANGE_UNAVAILABLE (ambiguous; resolved by status).
 */

/** Venue-side client order id for ours. */
export function ccxtClientId(clientOrderId: string): string {
  return `tw${createHash("sha256").update(clientOrderId).digest("hex").slice(0, 30)}`;
}

function mapStatus(s: string | undefined): OrderStatus {
  if (s === "open") return "open";
  if (s === "closed") return "filled";
  if (s === "rejected") return "rejected";
  if (s === "canceled" || s === "expired") return "canceled";
  return "unknown";
}

/** See the module comment. */
export class CcxtVenue implements Venue {
  readonly id: string;
  private markets?: Promise<Map<string, MarketInterface>>;

  constructor(
    readonly ex: Exchange,
    readonly exchangeId: string,
    readonly network: "demo" | "testnet" | "mainnet",
    private readonly log: Logger,
  ) {
    this.id = `${exchangeId}:${network}`;
  }

  /**
   * Builds an authenticated instance from config and secrets (`<ID>_API_KEY`, ...).
   * @throws TwError CONFIG_INVALID (unknown exchange id or missing keys).
   */
  static fromConfig(
    cfg: Config,
    exchangeId: string,
    network: "demo" | "testnet" | "mainnet",
    log: Logger,
  ): CcxtVenue {
    const Ctor = ccxtExchangeClass(exchangeId);
    if (!Ctor) {
      throw new TwError("CONFIG_INVALID", `ccxt has no exchange "${exchangeId}".`, {
        hint: "Use okx, bitget, binanceusdm, ...",
      });
    }
    const s = ccxtSecrets(cfg, exchangeId);
    const ex = new Ctor({
      apiKey: s.apiKey.reveal(),
      secret: s.secret.reveal(),
      ...(s.password ? { password: s.password.reveal() } : {}),
      enableRateLimit: true,
      timeout: 10_000,
      options: { defaultType: "swap" },
    });
    if (network !== "mainnet") ex.setSandboxMode(true);
    return new CcxtVenue(ex, exchangeId, network, log);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapCcxtError(e, this.exchangeId, what);
    }
  }

  private bySymbol(): Promise<Map<string, MarketInterface>> {
    this.markets ??= this.call("loadMarkets", () => this.ex.loadMarkets()).then((all) => {
      const map = new Map<string, MarketInterface>();
      for (const m of Object.values(all)) {
        if (
          !m?.swap ||
          m.linear !== true ||
          m.active === false ||
          (m.settle !== "USDT" && m.settle !== "USDC")
        )
          continue;
        const prev = map.get(m.base);
        if (!prev || (prev.settle !== "USDT" && m.settle === "USDT")) map.set(m.base, m);
      }
      return map;
    });
    return this.markets;
  }

  private async market(symbol: string): Promise<MarketInterface> {
    const m = (await this.bySymbol()).get(symbol);
    if (!m) throw new TwError("NOT_FOUND", `${this.id} has no linear perpetual for ${symbol}.`);
    return m;
  }

  private byUnified(unified: string): string {
    return unified.split("/")[0];
  }

  async instruments(): Promise<Instrument[]> {
    return [...(await this.bySymbol()).entries()].map(([sym, m]) => ({
      symbol: sym,
      venue_symbol: m.symbol,
      quote: m.settle ?? "USDT",
      tick_size: typeof m.precision.price === "number" ? m.precision.price : null,
      lot_size: (m.precision.amount ?? 1) * (m.contractSize ?? 1),
      sz_decimals: null,
      asset_index: null,
      max_leverage: m.limits.leverage?.max ?? null,
      min_notional: m.limits.cost?.min ?? null,
    }));
  }

  async round(
    symbol: string,
    size: string,
    price: string | null,
  ): Promise<{ size: string; price: string | null }> {
    const m = await this.market(symbol);
    const cs = new Decimal(m.contractSize ?? 1);
    const contracts = String(
      this.ex.amountToPrecision(m.symbol, new Decimal(size).dividedBy(cs).toNumber()) ?? "0",
    );
    return {
      size: new Decimal(contracts).times(cs).toFixed(),
      price: price === null ? null : String(this.ex.priceToPrecision(m.symbol, Number(price))),
    };
  }

  async place(reqs: PlaceRequest[]): Promise<PlaceResult[]> {
    const out: PlaceResult[] = [];
    for (const r of reqs) {
      const m = await this.market(r.symbol);
      const amount = new Decimal(r.size).dividedBy(m.contractSize ?? 1).toNumber();
      const params: Record<string, unknown> = {
        clientOrderId: ccxtClientId(r.client_order_id),
        reduceOnly: r.reduce_only,
      };
      if (r.tif === "ALO") params.postOnly = true;
      else params.timeInForce = r.type === "market" ? "IOC" : r.tif;
      if (r.trigger)
        params[r.trigger.tpsl === "tp" ? "takeProfitPrice" : "stopLossPrice"] = Number(r.trigger.trigger_px);
      try {
        const o = await this.ex.createOrder(
          m.symbol,
          r.type,
          r.side,
          amount,
          r.price === null ? undefined : Number(r.price),
          params,
        );
        out.push(this.result(r, o, m));
      } catch (e) {
        const err = mapCcxtError(e, this.exchangeId, "createOrder");
        if (err.code !== "EXCHANGE_REJECTED") throw err; // ambiguous or not sent: the service decides
        this.log.warn({ venue: this.id, code: err.code }, "ccxt order rejected");
        out.push({
          client_order_id: r.client_order_id,
          status: "rejected",
          venue_order_id: null,
          filled_size: "0",
          avg_px: null,
          error: String((e as Error).message).slice(0, 300),
        });
      }
    }
    return out;
  }

  private result(r: PlaceRequest, o: Order, m: MarketInterface): PlaceResult {
    const cs = new Decimal(m.contractSize ?? 1);
    return {
      client_order_id: r.client_order_id,
      status:
        r.trigger && (o.status === "open" || o.status === undefined)
          ? "waiting_trigger"
          : mapStatus(o.status),
      venue_order_id: o.id ?? null,
      filled_size: new Decimal(o.filled ?? 0).times(cs).toFixed(),
      avg_px: o.average != null ? String(o.average) : null,
    };
  }

  async cancel(reqs: CancelRequest[]): Promise<CancelResult[]> {
    const out: CancelResult[] = [];
    for (const r of reqs) {
      const m = await this.market(r.symbol);
      try {
        await this.ex.cancelOrder(
          r.venue_order_id ?? ccxtClientId(r.client_order_id),
          m.symbol,
          r.venue_order_id ? {} : { clientOrderId: ccxtClientId(r.client_order_id) },
        );
        out.push({ client_order_id: r.client_order_id, ok: true });
      } catch (e) {
        out.push({
          client_order_id: r.client_order_id,
          ok: false,
          error: mapCcxtError(e, this.exchangeId, "cancelOrder").message,
        });
      }
    }
    return out;
  }

  private toVenueOrder(o: Order, m?: MarketInterface): VenueOrder {
    const cs = new Decimal(m?.contractSize ?? 1);
    return {
      client_order_id: null,
      venue_order_id: String(o.id),
      symbol: this.byUnified(String(o.symbol)),
      side: o.side === "sell" ? "sell" : "buy",
      size: new Decimal(o.amount ?? 0).times(cs).toFixed(),
      filled_size: new Decimal(o.filled ?? 0).times(cs).toFixed(),
      price: o.price != null ? String(o.price) : null,
      status: mapStatus(o.status),
      reduce_only: o.reduceOnly === true,
      trigger_px: o.triggerPrice != null ? String(o.triggerPrice) : null,
      time: o.timestamp ?? 0,
    };
  }

  async orderStatus(ref: OrderRef): Promise<VenueOrder | null> {
    const m = await this.market(ref.symbol);
    try {
      const cid = ccxtClientId(ref.client_order_id);
      const o = await this.ex.fetchOrder(
        ref.venue_order_id ?? cid,
        m.symbol,
        ref.venue_order_id ? {} : { clientOrderId: cid },
      );
      return { ...this.toVenueOrder(o, m), client_order_id: ref.client_order_id };
    } catch (e) {
      if (e instanceof ccxtLib().OrderNotFound) return null;
      throw mapCcxtError(e, this.exchangeId, "fetchOrder");
    }
  }

  async openOrders(): Promise<VenueOrder[]> {
    const rows = await this.call("fetchOpenOrders", () => this.ex.fetchOpenOrders());
    const markets = await this.bySymbol();
    return rows.map((o) => this.toVenueOrder(o, markets.get(this.byUnified(String(o.symbol)))));
  }

  async accountState(): Promise<AccountState> {
    const bal = await this.call("fetchBalance", () => this.ex.fetchBalance());
    const pos = await this.call("fetchPositions", () => this.ex.fetchPositions());
    const quote = (bal.total as unknown as Record<string, number | undefined>) ?? {};
    const equity = new Decimal(quote.USDT ?? quote.USDC ?? 0);
    let gross = new Decimal(0);
    let upnl = new Decimal(0);
    const positions = pos
      .filter((p) => (p.contracts ?? 0) !== 0)
      .map((p) => {
        const cs = new Decimal(p.contractSize ?? 1);
        const size = new Decimal(p.contracts ?? 0).times(cs).times(p.side === "short" ? -1 : 1);
        const mark = new Decimal(p.markPrice ?? 0);
        gross = gross.plus(size.abs().times(mark));
        upnl = upnl.plus(p.unrealizedPnl ?? 0);
        return {
          symbol: this.byUnified(String(p.symbol)),
          size: size.toFixed(),
          entry_px: String(p.entryPrice ?? 0),
          mark_px: mark.toFixed(),
          unrealized_pnl: String(p.unrealizedPnl ?? 0),
          leverage: equity.gt(0)
            ? size.abs().times(mark).dividedBy(equity).toSignificantDigits(8).toFixed()
            : "0",
          funding: null,
        };
      });
    return {
      venue: this.id,
      equity: equity.toFixed(),
      cash: equity.minus(upnl).toFixed(),
      gross_notional: gross.toFixed(),
      positions,
      time: Date.now(),
    };
  }

  async fills(q: FillQuery): Promise<FillPage> {
    const since = q.cursor ? Number(q.cursor) : q.since;
    const rows = await this.call("fetchMyTrades", () => this.ex.fetchMyTrades(undefined, since, q.limit + 1));
    const page = rows.slice(0, q.limit);
    const truncated = rows.length > q.limit;
    const markets = await this.bySymbol();
    return {
      truncated,
      next_cursor: truncated ? String((page[page.length - 1].timestamp ?? 0) + 1) : null,
      fills: page.map((t) => {
        const cs = new Decimal(markets.get(this.byUnified(t.symbol ?? ""))?.contractSize ?? 1);
        return {
          id: String(t.id),
          venue_order_id: String(t.order ?? ""),
          client_order_id: null,
          symbol: this.byUnified(t.symbol ?? ""),
          side: t.side === "sell" ? "sell" : "buy",
          size: new Decimal(t.amount ?? 0).times(cs).toFixed(),
          price: String(t.price),
          fee: String(t.fee?.cost ?? 0),
          liquidity: t.takerOrMaker === "maker" ? "maker" : "taker",
          realized_pnl: "0",
          time: t.timestamp ?? 0,
        };
      }),
    };
  }
}
