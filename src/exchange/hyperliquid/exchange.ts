import type { ExchangeClient, InfoClient } from "@nktkas/hyperliquid";
import { Decimal } from "decimal.js";
import type { privateKeyToAccount } from "viem/accounts";
import type { Clock } from "../../clock.js";
import type { Config } from "../../config.js";
import { TwError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { hlExchangeWeight, hlInfoWeight, WeightLimiter } from "../../policy/ratelimit.js";
import { hyperliquidSecrets } from "../../secrets.js";
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
  VenueFill,
  VenueOrder,
} from "../venue.js";
import { hlLib } from "./lib.js";
import { cloidFor, roundPrice, roundSize } from "./precision.js";

/**
 * The Hyperliquid execution venue (`hyperliquid:testnet`, `hyperliquid:mainnet`) via
 * `@nktkas/hyperliquid`: ExchangeClient signing with a viem local account (agent-wallet key), an
 * InfoClient for meta, account state, open orders, fills and order status, both on one
 * HttpTransport whose `apiUrl` is configurable (tests: 127.0.0.1).
 *
 * Every order carries `c` = {@link cloidFor}(client_order_id), so order status can be asked by our id.
 * Every status of a batch reply is parsed: `resting` → open, `filled` → filled (or canceled with a
 * partial fill when an IOC filled less than asked), `waitingForTrigger` → waiting_trigger,
 * `waitingForFill` → open, `{ error }` → rejected. A whole-batch API error rejects every order.
 * Network failures and timeouts are EXCHANGE_UNAVAILABLE (outcome ambiguous); validation, signing
 * and rate-limit failures happen before sending (`details.sent = false`).
 */

/** Options of {@link HyperliquidVenue}. */
export interface HlVenueOptions {
  network: "testnet" | "mainnet";
  apiUrl?: string;
  /** Signer (viem local account of the agent wallet). */
  wallet: ReturnType<typeof privateKeyToAccount>;
  /** Master account whose state is read; default the wallet's address. */
  accountAddress?: `0x${string}` | null;
  clock: Clock;
  log: Logger;
  /** Transport timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** Longest wait for exchange weight before RATE_LIMITED, ms. */
  maxWaitMs?: number;
  /** Shared weight limiter (1200/min per IP); created when omitted. */
  limiter?: WeightLimiter;
  /** Worst-price offset of TP/SL market children from their trigger (fraction, default 0.05). */
  triggerSlippage?: number;
}

interface MetaAsset {
  name: string;
  szDecimals: number;
  maxLeverage: number;
  index: number;
}

const TIF = { GTC: "Gtc", IOC: "Ioc", ALO: "Alo" } as const;

function notSent(e: unknown, message: string): TwError {
  return new TwError("EXCHANGE_REJECTED", message, { cause: e, details: { sent: false } });
}

/** Maps an HL order-processing status (orderStatus) to ours. */
export function mapHlStatus(s: string): OrderStatus {
  if (s === "open" || s === "triggered") return "open";
  if (s === "filled") return "filled";
  if (s === "waitingForTrigger") return "waiting_trigger";
  if (/rejected/i.test(s)) return "rejected";
  return "canceled";
}

type HlStatus =
  | { resting: { oid: number } }
  | { filled: { totalSz: string; avgPx: string; oid: number } }
  | { error: string }
  | string;

/** Parses one status of an order batch reply (see the class comment). */
export function parsePlaceStatus(req: PlaceRequest, size: string, s: HlStatus | undefined): PlaceResult {
  const base = { client_order_id: req.client_order_id, venue_order_id: null, filled_size: "0", avg_px: null };
  if (s === undefined) return { ...base, status: "unknown", error: "no status returned for this order" };
  if (typeof s === "string") {
    if (s === "waitingForTrigger") return { ...base, status: "waiting_trigger" };
    if (s === "waitingForFill") return { ...base, status: "open" };
    return { ...base, status: "unknown", error: `unrecognised status ${s}` };
  }
  if ("error" in s) return { ...base, status: "rejected", error: s.error };
  if ("resting" in s) return { ...base, status: "open", venue_order_id: String(s.resting.oid) };
  const f = s.filled;
  const complete = new Decimal(f.totalSz).gte(size);
  return {
    ...base,
    venue_order_id: String(f.oid),
    filled_size: new Decimal(f.totalSz).toFixed(),
    avg_px: new Decimal(f.avgPx).toFixed(),
    status: complete || req.tif !== "IOC" ? "filled" : "canceled",
    ...(complete ? {} : { error: "partially filled; the IOC remainder was canceled" }),
  };
}

/** See the module comment. One instance per venue id (the registry caches it). */
export class HyperliquidVenue implements Venue {
  readonly id: string;
  readonly network: "testnet" | "mainnet";
  private readonly info: InfoClient;
  private readonly exch: ExchangeClient;
  private readonly limiter: WeightLimiter;
  private readonly user: `0x${string}`;
  private meta?: Promise<Map<string, MetaAsset>>;

  constructor(private readonly o: HlVenueOptions) {
    this.id = `hyperliquid:${o.network}`;
    this.network = o.network;
    const { HttpTransport, InfoClient, ExchangeClient } = hlLib();
    const transport = new HttpTransport({
      isTestnet: o.network === "testnet",
      timeout: o.timeoutMs ?? 10_000,
      ...(o.apiUrl ? { apiUrl: o.apiUrl } : {}),
    });
    this.info = new InfoClient({ transport });
    this.exch = new ExchangeClient({ transport, wallet: o.wallet });
    this.limiter = o.limiter ?? new WeightLimiter({ budget: 1200, windowMs: 60_000, clock: o.clock });
    this.user = o.accountAddress ?? o.wallet.address;
  }

  /**
   * Builds the venue from config and secrets (HL_PRIVATE_KEY, HL_ACCOUNT_ADDRESS).
   * @throws TwError CONFIG_INVALID when the key is missing or malformed.
   */
  static fromConfig(
    cfg: Config,
    network: "testnet" | "mainnet",
    clock: Clock,
    log: Logger,
  ): HyperliquidVenue {
    const s = hyperliquidSecrets(cfg);
    return new HyperliquidVenue({
      network,
      apiUrl: cfg.hyperliquid.apiUrl,
      wallet: hlLib().privateKeyToAccount(s.privateKey.reveal() as `0x${string}`),
      accountAddress: s.accountAddress,
      clock,
      log,
      maxWaitMs: cfg.rateLimit.maxWaitMs,
    });
  }

  private async weigh(w: number): Promise<void> {
    try {
      await this.limiter.acquire(w, this.o.maxWaitMs ?? 2_000);
    } catch (e) {
      if (e instanceof TwError)
        throw new TwError(e.code, e.message, { hint: e.hint, details: { ...e.details, sent: false } });
      throw e;
    }
  }

  /** Runs an info request, mapping transport failures to EXCHANGE_UNAVAILABLE. */
  private async infoCall<T>(type: string, f: () => Promise<T>): Promise<T> {
    await this.weigh(hlInfoWeight(type));
    try {
      return await f();
    } catch (e) {
      throw new TwError("EXCHANGE_UNAVAILABLE", `Hyperliquid ${type} request failed.`, { cause: e });
    }
  }

  private assets(): Promise<Map<string, MetaAsset>> {
    this.meta ??= this.infoCall("meta", () => this.info.meta()).then(
      (m) =>
        new Map(
          m.universe.map((u, index) => [
            u.name,
            { name: u.name, szDecimals: u.szDecimals, maxLeverage: u.maxLeverage, index },
          ]),
        ),
      (e) => {
        this.meta = undefined;
        throw e;
      },
    );
    return this.meta;
  }

  private async asset(symbol: string): Promise<MetaAsset> {
    const a = (await this.assets()).get(symbol);
    if (!a)
      throw new TwError("NOT_FOUND", `Unknown symbol ${symbol} on ${this.id}.`, {
        hint: "Use a coin listed by market_list_instruments.",
      });
    return a;
  }

  async instruments(): Promise<Instrument[]> {
    return [...(await this.assets()).values()].map((a) => ({
      symbol: a.name,
      venue_symbol: a.name,
      quote: "USDC",
      tick_size: null,
      lot_size: 10 ** -a.szDecimals,
      sz_decimals: a.szDecimals,
      asset_index: a.index,
      max_leverage: a.maxLeverage,
      min_notional: 10,
    }));
  }

  async round(
    symbol: string,
    size: string,
    price: string | null,
  ): Promise<{ size: string; price: string | null }> {
    const a = await this.asset(symbol);
    return {
      size: roundSize(size, a.szDecimals),
      price: price === null ? null : roundPrice(price, a.szDecimals),
    };
  }

  /** One wire order (`a, b, p, s, r, t, c`) from a request; prices and sizes re-rounded, as strings. */
  private async wire(r: PlaceRequest) {
    const a = await this.asset(r.symbol);
    const s = roundSize(r.size, a.szDecimals);
    if (r.trigger) {
      const slip = new Decimal(this.o.triggerSlippage ?? 0.05);
      const worst = new Decimal(r.trigger.trigger_px).times(
        r.side === "buy" ? slip.plus(1) : new Decimal(1).minus(slip),
      );
      return {
        a: a.index,
        b: r.side === "buy",
        p: roundPrice(worst, a.szDecimals),
        s,
        r: r.reduce_only,
        t: {
          trigger: {
            isMarket: true,
            triggerPx: roundPrice(r.trigger.trigger_px, a.szDecimals),
            tpsl: r.trigger.tpsl,
          },
        },
        c: cloidFor(r.client_order_id),
      };
    }
    if (r.price === null)
      throw notSent(null, "a Hyperliquid order needs a price (market orders: the protection price)");
    const p = roundPrice(r.price, a.szDecimals);
    if (p === "0" || new Decimal(s).isZero()) {
      throw notSent(null, `price ${r.price} or size ${r.size} rounds to zero for ${r.symbol}`);
    }
    return {
      a: a.index,
      b: r.side === "buy",
      p,
      s,
      r: r.reduce_only,
      t: { limit: { tif: r.type === "market" ? ("Ioc" as const) : TIF[r.tif] } },
      c: cloidFor(r.client_order_id),
    };
  }

  async place(reqs: PlaceRequest[]): Promise<PlaceResult[]> {
    const orders = await Promise.all(reqs.map((r) => this.wire(r)));
    const grouping = reqs.some((r) => r.trigger) ? "normalTpsl" : "na";
    await this.weigh(hlExchangeWeight(orders.length));
    let statuses: HlStatus[];
    try {
      const res = await this.exch.order({ orders, grouping });
      statuses = res.response.data.statuses as HlStatus[];
    } catch (e) {
      statuses = this.batchError(e, reqs.length);
    }
    return reqs.map((r, i) => parsePlaceStatus(r, orders[i].s, statuses[i]));
  }

  /** Statuses from a failed batch call, or a thrown TwError when the outcome is unknown. */
  private batchError(e: unknown, n: number): HlStatus[] {
    const { ApiRequestError, ValidationError, AbstractWalletError } = hlLib();
    if (e instanceof ApiRequestError) {
      const resp = e.response as {
        status?: string;
        response?: { data?: { statuses?: HlStatus[] } } | string;
      };
      const st = typeof resp.response === "object" ? resp.response?.data?.statuses : undefined;
      if (Array.isArray(st)) return st;
      return Array.from({ length: n }, () => ({ error: e.message }));
    }
    if (e instanceof ValidationError)
      throw notSent(e, `Hyperliquid request invalid before sending: ${e.message}`);
    if (e instanceof AbstractWalletError)
      throw notSent(e, "Signing with the agent wallet failed; nothing was sent.");
    if (e instanceof TwError) throw e;
    throw new TwError(
      "EXCHANGE_UNAVAILABLE",
      "Hyperliquid did not confirm the order request (network or timeout).",
      { cause: e },
    );
  }

  async cancel(reqs: CancelRequest[]): Promise<CancelResult[]> {
    const cancels = await Promise.all(
      reqs.map(async (r) => ({
        asset: (await this.asset(r.symbol)).index,
        cloid: cloidFor(r.client_order_id),
      })),
    );
    await this.weigh(hlExchangeWeight(cancels.length));
    let statuses: Array<string | { error: string }>;
    try {
      const res = await this.exch.cancelByCloid({ cancels });
      statuses = res.response.data.statuses as Array<string | { error: string }>;
    } catch (e) {
      statuses = this.batchError(e, reqs.length) as Array<string | { error: string }>;
    }
    return reqs.map((r, i) => {
      const s = statuses[i];
      if (s === "success") return { client_order_id: r.client_order_id, ok: true };
      return {
        client_order_id: r.client_order_id,
        ok: false,
        error: typeof s === "object" && s ? s.error : `unexpected status ${String(s)}`,
      };
    });
  }

  async orderStatus(ref: OrderRef): Promise<VenueOrder | null> {
    // Always by cloid: it exists even when the outcome (and so the venue's oid) was never recorded.
    const oid = cloidFor(ref.client_order_id);
    const res = (await this.infoCall("orderStatus", () =>
      this.info.orderStatus({ user: this.user, oid }),
    )) as {
      status: string;
      order?: { order: HlOrder; status: string; statusTimestamp: number | string };
    };
    if (res.status !== "order" || !res.order) return null;
    const o = res.order.order;
    return {
      ...toVenueOrder(o, ref.client_order_id),
      status: mapHlStatus(res.order.status),
      time: Number(res.order.statusTimestamp),
    };
  }

  async openOrders(): Promise<VenueOrder[]> {
    const rows = (await this.infoCall("frontendOpenOrders", () =>
      this.info.frontendOpenOrders({ user: this.user }),
    )) as HlOrder[];
    return rows.map((o) => toVenueOrder(o, null));
  }

  async accountState(): Promise<AccountState> {
    const s = (await this.infoCall("clearinghouseState", () =>
      this.info.clearinghouseState({ user: this.user }),
    )) as unknown as HlClearinghouse;
    const equity = new Decimal(s.marginSummary.accountValue);
    let upnl = new Decimal(0);
    const positions = s.assetPositions.map(({ position: p }) => {
      const size = new Decimal(p.szi);
      const value = new Decimal(p.positionValue);
      upnl = upnl.plus(p.unrealizedPnl);
      return {
        symbol: p.coin,
        size: size.toFixed(),
        entry_px: p.entryPx ?? "0",
        mark_px: size.isZero() ? "0" : value.dividedBy(size.abs()).toFixed(),
        unrealized_pnl: p.unrealizedPnl,
        leverage: equity.gt(0) ? value.dividedBy(equity).toSignificantDigits(8).toFixed() : "0",
        funding: p.cumFunding ? new Decimal(p.cumFunding.sinceOpen).negated().toFixed() : null,
      };
    });
    return {
      venue: this.id,
      equity: equity.toFixed(),
      cash: equity.minus(upnl).toFixed(),
      gross_notional: new Decimal(s.marginSummary.totalNtlPos).toFixed(),
      positions,
      time: Number(s.time ?? this.o.clock.now()),
    };
  }

  async fills(q: FillQuery): Promise<FillPage> {
    const start = q.cursor ? Number(q.cursor) : (q.since ?? 0);
    const rows = (await this.infoCall("userFillsByTime", () =>
      this.info.userFillsByTime({ user: this.user, startTime: start }),
    )) as HlFill[];
    const sorted = [...rows].sort((a, b) => a.time - b.time);
    const page = sorted.slice(0, q.limit);
    const truncated = sorted.length > q.limit;
    const fills: VenueFill[] = page.map((f) => ({
      id: String(f.tid ?? `${f.oid}:${f.time}`),
      venue_order_id: String(f.oid),
      client_order_id: null,
      symbol: f.coin,
      side: f.side === "B" ? "buy" : "sell",
      size: f.sz,
      price: f.px,
      fee: f.fee,
      liquidity: f.crossed ? "taker" : "maker",
      realized_pnl: f.closedPnl,
      time: f.time,
    }));
    // Cursor = time after the last fill returned; fills sharing that ms are re-read, never skipped.
    return { fills, truncated, next_cursor: truncated ? String(page[page.length - 1].time + 1) : null };
  }
}

interface HlOrder {
  coin: string;
  side: "B" | "A";
  limitPx: string;
  sz: string;
  oid: number | string;
  timestamp: number | string;
  origSz?: string;
  reduceOnly?: boolean;
  triggerPx?: string;
  isTrigger?: boolean;
  cloid?: string | null;
}

interface HlClearinghouse {
  marginSummary: { accountValue: string; totalNtlPos: string };
  assetPositions: Array<{
    position: {
      coin: string;
      szi: string;
      entryPx: string | null;
      positionValue: string;
      unrealizedPnl: string;
      cumFunding?: { sinceOpen: string };
    };
  }>;
  time?: number;
}

interface HlFill {
  coin: string;
  px: string;
  sz: string;
  side: "B" | "A";
  time: number;
  fee: string;
  oid: number;
  tid?: number;
  crossed: boolean;
  closedPnl: string;
}

function toVenueOrder(o: HlOrder, clientOrderId: string | null): VenueOrder {
  const orig = new Decimal(o.origSz ?? o.sz);
  return {
    client_order_id: clientOrderId,
    venue_order_id: String(o.oid),
    symbol: o.coin,
    side: o.side === "B" ? "buy" : "sell",
    size: orig.toFixed(),
    filled_size: orig.minus(o.sz).toFixed(),
    price: new Decimal(o.limitPx).toFixed(),
    status: "open",
    reduce_only: o.reduceOnly ?? false,
    trigger_px: o.isTrigger && o.triggerPx ? o.triggerPx : null,
    time: Number(o.timestamp),
  };
}
