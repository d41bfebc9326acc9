import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createL1ActionHash } from "@nktkas/hyperliquid/signing";
import { recoverTypedDataAddress } from "viem";
import { DATA } from "../helpers/app.js";

/**
 * A local Hyperliquid API (127.0.0.1) for the execution tests. It records every request, recovers
 * the signer of every `/exchange` action (EIP-712 phantom agent, as Hyperliquid does), and answers
 * with REAL recorded replies:
 * - `/exchange` order: ccxt static `createOrder` (one order: filled) and
 *   `createOrderWithTakeProfitAndStopLoss` (parent filled + two `waitingForTrigger`), unless a test
 *   sets `nextOrderReply`; `cancelByCloid`: the documented `{ statuses: ["success"] }` (no recorded
 *   cancel reply exists in the fixtures).
 * - `/info`: `meta`, `clearinghouseState`, `frontendOpenOrders`, `userFillsByTime` from the
 *   python-SDK cassettes; `orderStatus` answers the recorded `fetchOrder` reply (an ETH order,
 *   status filled) for a cloid this server has received, and the documented `{ status:
 *   "unknownOid" }` otherwise.
 * `hold` keeps `/exchange` replies back (timeout / killed-process simulation).
 */

const CASSETTES = join(DATA, "fixtures", "hyperliquid", "python_sdk_cassettes_json");
const CCXT = JSON.parse(
  readFileSync(join(DATA, "fixtures", "ccxt_static", "hyperliquid.response.json"), "utf8"),
) as {
  methods: Record<string, Array<{ description: string; httpResponse: unknown }>>;
};

function cassette(name: string): unknown {
  const c = JSON.parse(readFileSync(join(CASSETTES, `${name}.json`), "utf8")) as {
    interactions: Array<{ response: { body: unknown } }>;
  };
  return c.interactions[c.interactions.length - 1].response.body;
}

/** Recorded replies used by the server (exported so tests assert against the same source). */
export const RECORDED = {
  meta: cassette("test_get_info"),
  userState: cassette("test_get_user_state"),
  openOrders: cassette("test_get_frontend_open_orders"),
  fills: cassette("test_get_user_fills_by_time"),
  createOrder: CCXT.methods.createOrder[0].httpResponse,
  createOrderTpSl: CCXT.methods.createOrderWithTakeProfitAndStopLoss[0].httpResponse,
  orderStatusFilled: CCXT.methods.fetchOrder.find((m) => m.description === "fetch order")!.httpResponse,
};

/** One recorded /exchange request. */
export interface ExchangeRequest {
  body: {
    action: Record<string, unknown>;
    nonce: number;
    signature: { r: `0x${string}`; s: `0x${string}`; v: number };
    vaultAddress?: `0x${string}`;
    expiresAfter?: number;
  };
  /** Address recovered from the signature (testnet phantom agent, source "b"). */
  signer: string;
}

/** The running server. */
export interface HlExchangeServer {
  url: string;
  exchange: ExchangeRequest[];
  info: Array<Record<string, unknown>>;
  /** Cloids the "exchange" has received. */
  received: Set<string>;
  /** Overrides the reply to the next order action. */
  nextOrderReply?: unknown;
  /** When set, /exchange requests are recorded (and their cloids received) but never answered. */
  hold: boolean;
  /** Drops the connections of held requests (the client sees a network error). */
  dropHeld(): void;
  close(): Promise<void>;
}

async function recoverSigner(body: ExchangeRequest["body"], isTestnet: boolean): Promise<string> {
  const hash = createL1ActionHash({
    action: body.action,
    nonce: body.nonce,
    vaultAddress: body.vaultAddress,
    expiresAfter: body.expiresAfter,
  });
  return recoverTypedDataAddress({
    domain: {
      name: "Exchange",
      version: "1",
      chainId: 1337,
      verifyingContract: "0x0000000000000000000000000000000000000000",
    },
    types: {
      Agent: [
        { name: "source", type: "string" },
        { name: "connectionId", type: "bytes32" },
      ],
    },
    primaryType: "Agent",
    message: { source: isTestnet ? "b" : "a", connectionId: hash },
    signature: { r: body.signature.r, s: body.signature.s, v: BigInt(body.signature.v) },
  });
}

/** Starts the server on 127.0.0.1 (random port). */
export async function startHlExchangeServer(opts: { isTestnet?: boolean } = {}): Promise<HlExchangeServer> {
  const state: HlExchangeServer = {
    url: "",
    exchange: [],
    info: [],
    received: new Set(),
    hold: false,
    dropHeld: () => {},
    close: async () => {},
  };
  const pending: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => {
      raw += c;
    });
    req.on("end", async () => {
      const body = JSON.parse(raw || "{}") as Record<string, unknown>;
      const send = (v: unknown) => {
        // One request per connection: a held request is later dropped with res.destroy(), and a pooled
        // keep-alive socket must never carry the next test's request into that reset.
        res.writeHead(200, { "content-type": "application/json", connection: "close" });
        res.end(JSON.stringify(v));
      };
      if (req.url === "/info") {
        state.info.push(body);
        const type = body.type;
        if (type === "meta") return send(RECORDED.meta);
        if (type === "clearinghouseState") return send(RECORDED.userState);
        if (type === "frontendOpenOrders") return send(RECORDED.openOrders);
        if (type === "userFillsByTime") return send(RECORDED.fills);
        if (type === "orderStatus") {
          return send(
            state.received.has(String(body.oid)) ? RECORDED.orderStatusFilled : { status: "unknownOid" },
          );
        }
        res.writeHead(422).end("unknown info type");
        return;
      }
      if (req.url === "/exchange") {
        const b = body as unknown as ExchangeRequest["body"];
        const signer = await recoverSigner(b, opts.isTestnet ?? true);
        state.exchange.push({ body: b, signer });
        const action = b.action as { type: string; orders?: Array<{ c?: string }>; cancels?: unknown[] };
        if (action.type === "order") for (const o of action.orders ?? []) if (o.c) state.received.add(o.c);
        if (state.hold) {
          pending.push(() => res.destroy());
          return;
        }
        if (action.type === "order") {
          const reply =
            state.nextOrderReply ??
            ((action.orders?.length ?? 0) >= 3 ? RECORDED.createOrderTpSl : RECORDED.createOrder);
          state.nextOrderReply = undefined;
          return send(reply);
        }
        if (action.type === "cancelByCloid") {
          return send({
            status: "ok",
            response: { type: "cancel", data: { statuses: (action.cancels ?? []).map(() => "success") } },
          });
        }
        res.writeHead(422).end("unsupported action");
        return;
      }
      res.writeHead(404).end();
    });
  });
  // Never close an idle keep-alive socket from this side: a client reusing it at that instant gets
  // ECONNRESET (a race that a loaded machine hits). close() ends every connection itself.
  server.keepAliveTimeout = 0;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.dropHeld = () => {
    for (const p of pending.splice(0)) p();
  };
  state.close = async () => {
    state.dropHeld();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}
