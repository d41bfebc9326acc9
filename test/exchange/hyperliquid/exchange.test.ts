import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../../src/clock.js";
import { HyperliquidVenue } from "../../../src/exchange/hyperliquid/exchange.js";
import { cloidFor } from "../../../src/exchange/hyperliquid/precision.js";
import type { PlaceRequest } from "../../../src/exchange/venue.js";
import { createLogger } from "../../../src/log.js";
import { call, connectClient } from "../../helpers/app.js";
import { orderApp, T0 } from "../../policy/helpers.js";
import { type HlExchangeServer, RECORDED, startHlExchangeServer } from "../hlExchangeServer.js";

// A throwaway key (Hardhat account #1); never a real wallet.
const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const WALLET = privateKeyToAccount(KEY);

let srv: HlExchangeServer;
beforeAll(async () => {
  srv = await startHlExchangeServer({ isTestnet: true });
  process.env.HL_PRIVATE_KEY = KEY;
});
afterAll(async () => {
  delete process.env.HL_PRIVATE_KEY;
  await srv.close();
});
afterEach(() => {
  srv.exchange.length = 0;
  srv.info.length = 0;
  srv.received.clear();
  srv.hold = false;
  srv.dropHeld();
});

function venue(timeoutMs = 2_000) {
  return new HyperliquidVenue({
    network: "testnet",
    apiUrl: srv.url,
    wallet: WALLET,
    clock: new SimClock(T0),
    log: createLogger("silent"),
    timeoutMs,
  });
}

const req = (over: Partial<PlaceRequest>): PlaceRequest => ({
  client_order_id: "c-1",
  symbol: "BTC",
  side: "buy",
  type: "limit",
  size: "0.0123456",
  price: "107194.23",
  tif: "GTC",
  reduce_only: false,
  ...over,
});

describe("Hyperliquid venue against the local server", () => {
  it("signs an order action with the expected shape, cloid, and rounded px/sz strings", async () => {
    const v = venue();
    const [r] = await v.place([req({})]);
    expect(srv.exchange).toHaveLength(1);
    const { body, signer } = srv.exchange[0];
    expect(signer.toLowerCase()).toBe(WALLET.address.toLowerCase());
    expect(body.action).toEqual({
      type: "order",
      orders: [
        {
          a: 0,
          b: true,
          p: "107194",
          s: "0.01234",
          r: false,
          t: { limit: { tif: "Gtc" } },
          c: cloidFor("c-1"),
        },
      ],
      grouping: "na",
    });
    expect(cloidFor("c-1")).toMatch(/^0x[0-9a-f]{32}$/);
    // The recorded reply is a fill: {"filled":{"totalSz":"1.0","avgPx":"25.585","oid":...}}.
    expect(r).toMatchObject({ status: "filled", venue_order_id: "296683658818", avg_px: "25.585" });
  });

  it("market orders go out as IOC at the protection price; ETH/SOL/DOGE sizes use their szDecimals", async () => {
    const v = venue();
    await v.place([
      req({
        client_order_id: "m-eth",
        symbol: "ETH",
        type: "market",
        tif: "IOC",
        size: "1.23456",
        price: "2620.123",
      }),
    ]);
    await v.place([
      req({ client_order_id: "m-sol", symbol: "SOL", side: "sell", size: "3.999", price: "171.499" }),
    ]);
    await v.place([req({ client_order_id: "m-doge", symbol: "DOGE", size: "1234.9", price: "0.2188249" })]);
    const sent = srv.exchange.map(
      (e) => (e.body.action as { orders: Array<Record<string, unknown>> }).orders[0],
    );
    expect(sent.map((o) => [o.a, o.b, o.p, o.s, o.t])).toEqual([
      [1, true, "2620.1", "1.2345", { limit: { tif: "Ioc" } }],
      [5, false, "171.5", "3.99", { limit: { tif: "Gtc" } }],
      [12, true, "0.21882", "1234", { limit: { tif: "Gtc" } }],
    ]);
  });

  it("parses every status: resting → open, error → rejected (never filled), waitingForTrigger → waiting_trigger", async () => {
    const v = venue();
    // The API answers errors inside an ok envelope; the SDK throws ApiRequestError and we parse its response.
    srv.nextOrderReply = {
      status: "ok",
      response: {
        type: "order",
        data: {
          statuses: [{ resting: { oid: 77738308 } }, { error: "Order must have minimum value of $10." }],
        },
      },
    };
    const out = await v.place([
      req({ client_order_id: "a" }),
      req({ client_order_id: "b", size: "0.00001" }),
    ]);
    expect(out.map((o) => [o.status, o.venue_order_id, o.error ?? null])).toEqual([
      ["open", "77738308", null],
      ["rejected", null, "Order must have minimum value of $10."],
    ]);
    // Recorded TP/SL reply: parent filled, both children waiting for their trigger.
    const br = await v.place([
      req({ client_order_id: "p", type: "market", tif: "IOC" }),
      req({
        client_order_id: "p:tp",
        side: "sell",
        type: "market",
        reduce_only: true,
        trigger: { trigger_px: "115000", tpsl: "tp" },
        parent_client_order_id: "p",
      }),
      req({
        client_order_id: "p:sl",
        side: "sell",
        type: "market",
        reduce_only: true,
        trigger: { trigger_px: "100000", tpsl: "sl" },
        parent_client_order_id: "p",
      }),
    ]);
    expect(br.map((o) => o.status)).toEqual(["filled", "waiting_trigger", "waiting_trigger"]);
    const action = srv.exchange[1].body.action as {
      grouping: string;
      orders: Array<Record<string, unknown>>;
    };
    expect(action.grouping).toBe("normalTpsl");
    expect(action.orders[1]).toEqual({
      a: 0,
      b: false,
      p: "109250",
      s: "0.01234",
      r: true,
      t: { trigger: { isMarket: true, triggerPx: "115000", tpsl: "tp" } },
      c: cloidFor("p:tp"),
    });
    expect(action.orders[2].t).toEqual({ trigger: { isMarket: true, triggerPx: "100000", tpsl: "sl" } });
  });

  it("a whole-batch API error rejects every order with the venue's message", async () => {
    const v = venue();
    srv.nextOrderReply = { status: "err", response: "User or API Wallet does not exist." };
    const out = await v.place([req({})]);
    expect(out[0]).toMatchObject({ status: "rejected", error: "User or API Wallet does not exist." });
  });

  it("account state, open orders and fills come from the recorded info replies", async () => {
    const v = venue();
    const st = await v.accountState();
    expect(st.equity).toBe("1182.312496");
    expect(st.gross_notional).toBe("3434.815334");
    expect(st.positions[0]).toMatchObject({
      symbol: "BTC",
      size: "-0.00785",
      entry_px: "26951.0",
      unrealized_pnl: "-0.08007",
    });
    // mark = positionValue / |szi| = 211.64542 / 0.00785
    expect(Number(st.positions[0].mark_px)).toBeCloseTo(211.64542 / 0.00785, 6);
    const open = await v.openOrders();
    expect(open.map((o) => o.trigger_px)).toContain("10.004");
    const fills = await v.fills({ limit: 2 });
    expect(fills.fills).toHaveLength(2);
    expect(fills.truncated).toBe(true);
    expect(String(srv.info.find((b) => b.type === "clearinghouseState")?.user).toLowerCase()).toBe(
      WALLET.address.toLowerCase(),
    );
  });
});

describe("hyperliquid:testnet through the gate", () => {
  let cleanup: () => Promise<void>;
  let agent: Client;
  let operator: Client;
  let app: Awaited<ReturnType<typeof orderApp>>["app"];
  let home: string;
  const patch = (c: Parameters<Parameters<typeof orderApp>[0] & object>[0]) => {
    c.risk.maxLeverage = 10; // the recorded account has 1.2k equity and 3.4k gross
  };
  beforAllSetup();
  function beforAllSetup() {
    beforeAll(async () => {
      const t = await orderApp(patch, { TW_HL_API_URL: srv.url });
      ({ app, cleanup, home } = t);
      agent = await connectClient(app, "agent");
      operator = await connectClient(app, "operator");
    });
    afterAll(async () => cleanup());
  }

  async function approvedIntent(size = 0.001) {
    const p = await call(agent, "order_propose", {
      venue: "hyperliquid:testnet",
      symbol: "BTC",
      side: "buy",
      type: "market",
      size,
    });
    expect(p.isError, JSON.stringify(p.sc)).toBe(false);
    expect(p.sc.approval_needed).toBe(true);
    expect((await call(operator, "order_approve", { intent_id: p.sc.intent_id })).isError).toBe(false);
    return p.sc;
  }

  it("propose → operator approves → submit (filled) → account state; the same intent twice or concurrently sends one request", async () => {
    const intent = await approvedIntent();
    expect(intent.price).toBe("112681"); // mid 107314.9 × 1.05, rounded to an integer (≥ 5 integer digits)
    const [a, b] = await Promise.all([
      call(agent, "order_submit", { intent_id: intent.intent_id }),
      call(agent, "order_submit", { intent_id: intent.intent_id }),
    ]);
    const c = await call(agent, "order_submit", { intent_id: intent.intent_id });
    expect(srv.exchange).toHaveLength(1);
    // The concurrent twin sees the in-flight reservation (pending) instead of sending.
    expect([a.sc.status, b.sc.status].sort()).toEqual(["filled", "pending"]);
    expect(new Set([a.sc.order_id, b.sc.order_id, c.sc.order_id]).size).toBe(1);
    expect(c.sc).toMatchObject({ status: "filled", replayed: true });
    const o = (srv.exchange[0].body.action as { orders: Array<Record<string, unknown>> }).orders[0];
    expect(o).toMatchObject({
      a: 0,
      b: true,
      p: "112681",
      s: "0.001",
      c: cloidFor(intent.client_order_id),
      t: { limit: { tif: "Ioc" } },
    });
    const st = await call(agent, "account_get_state", { venue: "hyperliquid:testnet" });
    expect(st.sc.equity).toBe("1182.312496");
    expect(st.sc.positions.length).toBe(
      (RECORDED.userState as { assetPositions: unknown[] }).assetPositions.length,
    );
  });

  it("a timeout leaves the order unknown; the retry sends nothing; order status resolves it", async () => {
    const intent = await approvedIntent();
    app.orders.timeoutMs = 100;
    srv.hold = true;
    const s = await call(agent, "order_submit", { intent_id: intent.intent_id });
    expect(s.sc.status).toBe("unknown");
    srv.hold = false;
    srv.dropHeld();
    const retry = await call(agent, "order_submit", { intent_id: intent.intent_id });
    expect(retry.sc).toMatchObject({ status: "unknown", replayed: true });
    expect(srv.exchange).toHaveLength(1);
    const g = await call(agent, "order_get", { order_id: s.sc.order_id });
    expect(g.sc.status).toBe("filled");
    expect(srv.info.at(-1)).toMatchObject({ type: "orderStatus", oid: cloidFor(intent.client_order_id) });
    expect(srv.exchange).toHaveLength(1);
    app.orders.timeoutMs = 15_000;
  });

  it("process killed after the venue received the order: a fresh App on the same DB sends nothing and settles it filled", async () => {
    const intent = await approvedIntent();
    srv.hold = true;
    call(agent, "order_submit", { intent_id: intent.intent_id }).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.exchange).toHaveLength(1);
    // The first process never gets an answer (it is "dead"); a fresh App opens the same DB file.
    const fresh = await orderApp(patch, { TW_HL_API_URL: srv.url }, home);
    try {
      const a2 = await connectClient(fresh.app, "agent");
      const retry = await call(a2, "order_submit", { intent_id: intent.intent_id });
      expect(retry.sc).toMatchObject({ status: "pending", replayed: true });
      fresh.clock.advance(fresh.app.orders.timeoutMs);
      expect(await fresh.app.orders.resolveUnknown("hyperliquid:testnet")).toContain(retry.sc.order_id);
      expect((await call(a2, "order_get", { order_id: retry.sc.order_id })).sc.status).toBe("filled");
      expect(srv.exchange).toHaveLength(1);
    } finally {
      await fresh.app.close();
    }
  });

  it("process killed before the venue call: nothing reaches the server and the order settles not_found", async () => {
    const intent = await approvedIntent();
    // Simulate the crash window by writing exactly what submit writes before calling the venue.
    const { reserveKey } = await import("../../../src/policy/idempotency.js");
    const { insertOrder } = await import("../../../src/store/orders.js");
    const now = app.clock.now();
    app.db.transaction(() => {
      reserveKey(
        app.db,
        "order_submit",
        `hyperliquid:testnet:${intent.client_order_id}`,
        app.orders.intent(intent.intent_id).payload_hash,
        now,
        { order_id: "ord_crash" },
      );
      insertOrder(app.db, {
        id: "ord_crash",
        intent_id: intent.intent_id,
        parent_id: null,
        venue: "hyperliquid:testnet",
        symbol: "BTC",
        side: "buy",
        type: "market",
        tif: "IOC",
        size: "0.001",
        price: intent.price,
        trigger_px: null,
        tpsl: null,
        reduce_only: false,
        notional: intent.notional,
        client_order_id: intent.client_order_id,
        venue_order_id: null,
        status: "pending",
        filled_size: "0",
        avg_px: null,
        reason: null,
        caller: "memory:agent",
        created_at: now,
        updated_at: now,
      });
    })();
    const fresh = await orderApp(patch, { TW_HL_API_URL: srv.url }, home);
    try {
      const a2 = await connectClient(fresh.app, "agent");
      const retry = await call(a2, "order_submit", { intent_id: intent.intent_id });
      expect(retry.sc).toMatchObject({ order_id: "ord_crash", status: "pending", replayed: true });
      fresh.clock.advance(fresh.app.orders.timeoutMs); // the sender is gone: the row is now stale
      expect((await call(a2, "order_get", { order_id: "ord_crash" })).sc.status).toBe("not_found");
      expect(srv.exchange).toHaveLength(0);
      const again = await call(a2, "order_submit", { intent_id: intent.intent_id });
      expect(again.sc.status).toBe("not_found");
      expect(srv.exchange).toHaveLength(0);
    } finally {
      await fresh.app.close();
    }
  });

  it("the private key never appears in results or the audit log", async () => {
    const audit = await call(operator, "audit_query", { limit: 200 });
    expect(JSON.stringify(audit.sc)).not.toContain(KEY.slice(2));
    const status = await call(operator, "system_get_status", {});
    expect(JSON.stringify(status.sc)).not.toContain(KEY.slice(2));
  });
});
