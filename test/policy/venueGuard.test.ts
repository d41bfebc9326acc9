import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { App } from "../../src/app.js";
import { call, connectClient } from "../helpers/app.js";
import { orderApp } from "./helpers.js";

const MAINNETS = [
  "hyperliquid:mainnet",
  "okx:mainnet",
  "bitget:mainnet",
  "binanceusdm:mainnet",
  "bybit:mainnet",
];

let app: App;
let operator: Client;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ app, cleanup } = await orderApp());
  operator = await connectClient(app, "operator");
});
afterAll(async () => cleanup());

describe("venue guard", () => {
  it("MAINNET_BLOCKED for every mainnet venue id and any valid order_propose arguments, even for an operator", async () => {
    const args = fc.record({
      venue: fc.constantFrom(...MAINNETS),
      symbol: fc.constantFrom("BTC", "ETH", "SOL", "DOGE", "ADA", "XYZ"),
      side: fc.constantFrom("buy", "sell"),
      type: fc.constantFrom("market", "limit"),
      size: fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      price: fc.double({ min: 1e-6, max: 1e7, noNaN: true }),
      reduce_only: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(args, async (a) => {
        const r = await call(operator, "order_propose", a);
        expect(r.sc.code).toBe("MAINNET_BLOCKED");
        expect(r.sc.message).toContain(a.venue);
        expect(r.sc.hint).toContain("operator");
      }),
      { numRuns: 60 },
    );
  });

  it("MAINNET_BLOCKED for account reads, cancels and lists naming a mainnet venue", async () => {
    for (const venue of MAINNETS) {
      for (const [tool, args] of [
        ["account_get_state", { venue }],
        ["fill_list", { venue }],
        ["order_list", { venue }],
        ["order_cancel_all", { venue }],
      ] as const) {
        const r = await call(operator, tool, args);
        expect(r.sc.code, `${tool} ${venue}`).toBe("MAINNET_BLOCKED");
      }
    }
  });

  it("the venue registry itself refuses mainnet (defence in depth for the cycle)", () => {
    expect(() => app.venues.get("hyperliquid:mainnet")).toThrow(/mainnet and blocked/);
  });

  it("allowMainnet in operator config lets exactly that venue past the guard", async () => {
    const t = await orderApp((c) => {
      c.venues.allowMainnet = { "okx:mainnet": true };
    });
    try {
      const op = await connectClient(t.app, "operator");
      const allowed = await call(op, "order_list", { venue: "okx:mainnet" });
      expect(allowed.isError).toBe(false);
      const blocked = await call(op, "order_list", { venue: "bitget:mainnet" });
      expect(blocked.sc.code).toBe("MAINNET_BLOCKED");
    } finally {
      await t.cleanup();
    }
  });
});
