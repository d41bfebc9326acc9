import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClock } from "../../../src/clock.js";
import { HyperliquidVenue } from "../../../src/exchange/hyperliquid/exchange.js";
import { cloidFor, roundPrice, roundSize } from "../../../src/exchange/hyperliquid/precision.js";
import { createLogger } from "../../../src/log.js";
import { DATA } from "../../helpers/app.js";
import { type HlExchangeServer, startHlExchangeServer } from "../hlExchangeServer.js";

/** szDecimals of the coins, read from the recorded `meta` reply (not from the code under test). */
const META = JSON.parse(
  readFileSync(
    join(DATA, "fixtures", "hyperliquid", "python_sdk_cassettes_json", "test_get_info.json"),
    "utf8",
  ),
).interactions[0].response.body.universe as Array<{ name: string; szDecimals: number }>;
const SZ: Record<string, number> = Object.fromEntries(
  META.filter((u) => ["BTC", "ETH", "SOL", "DOGE"].includes(u.name)).map((u) => [u.name, u.szDecimals]),
);

/** Independent validator of Hyperliquid's perp rules (docs "Tick and lot size"). */
function validPrice(p: string, szDecimals: number): boolean {
  if (!/^\d+(\.\d+)?$/.test(p) || /\.\d*0$/.test(p) || Number(p) <= 0) return false;
  if (!p.includes(".")) return true; // integer prices are always valid
  const decimals = p.split(".")[1].length;
  const sig = p.replace(".", "").replace(/^0+/, "").length;
  return decimals <= 6 - szDecimals && sig <= 5;
}
function validSize(s: string, szDecimals: number): boolean {
  return /^\d+(\.\d+)?$/.test(s) && (s.split(".")[1]?.length ?? 0) <= szDecimals;
}

const price = fc.double({ min: 1e-5, max: 2e6, noNaN: true, noDefaultInfinity: true });
const size = fc.double({ min: 1e-6, max: 1e7, noNaN: true, noDefaultInfinity: true });

describe("Hyperliquid precision", () => {
  it("the meta fixture has the szDecimals the tests rely on", () => {
    expect(SZ).toEqual({ BTC: 5, ETH: 4, SOL: 2, DOGE: 0 });
  });

  for (const coin of ["BTC", "ETH", "SOL", "DOGE"]) {
    it(`every rounded price and size for ${coin} is valid and within half a unit of the input`, () => {
      const d = SZ[coin];
      fc.assert(
        fc.property(price, size, (px, sz) => {
          const p = roundPrice(String(px), d);
          const s = roundSize(String(sz), d);
          if (p !== "0") expect(validPrice(p, d), `${px} → ${p}`).toBe(true);
          expect(validSize(s, d), `${sz} → ${s}`).toBe(true);
          // Size never exceeds the request and loses less than one lot.
          expect(new Decimal(s).lte(String(sz))).toBe(true);
          expect(new Decimal(String(sz)).minus(s).lt(new Decimal(10).pow(-d))).toBe(true);
          // Price: off by at most half of the coarser of (5th significant digit, last allowed decimal, 1 for ≥ 5 integer digits).
          const x = new Decimal(String(px));
          const mag = Math.floor(Math.log10(px));
          const unit =
            mag >= 4
              ? new Decimal(1)
              : Decimal.max(new Decimal(10).pow(mag - 4), new Decimal(10).pow(-(6 - d)));
          expect(x.minus(p).abs().lte(unit.div(2).times(1.000001))).toBe(true);
        }),
        { numRuns: 500 },
      );
    });
  }

  it("cloid is a deterministic 128-bit hex of the client order id", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), (id) => {
        expect(cloidFor(id)).toMatch(/^0x[0-9a-f]{32}$/);
        expect(cloidFor(id)).toBe(cloidFor(id));
      }),
    );
    expect(cloidFor("a")).not.toBe(cloidFor("b"));
  });
});

describe("what the venue sends", () => {
  let srv: HlExchangeServer;
  beforeAll(async () => {
    srv = await startHlExchangeServer({ isTestnet: true });
  });
  afterAll(async () => srv.close());

  it("every px/sz string sent for BTC, ETH, SOL and DOGE is valid under their real szDecimals", async () => {
    const v = new HyperliquidVenue({
      network: "testnet",
      apiUrl: srv.url,
      wallet: privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
      clock: new SimClock(0),
      log: createLogger("silent"),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("BTC", "ETH", "SOL", "DOGE"),
        fc.double({ min: 1, max: 2e5, noNaN: true }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        async (coin, px, sz) => {
          await v.place([
            {
              client_order_id: `p${n++}`,
              symbol: coin,
              side: "buy",
              type: "limit",
              size: String(sz),
              price: String(px),
              tif: "GTC",
              reduce_only: false,
            },
          ]);
          const o = (srv.exchange.at(-1)!.body.action as { orders: Array<{ p: string; s: string }> })
            .orders[0];
          expect(typeof o.p).toBe("string");
          expect(validPrice(o.p, SZ[coin]), `${coin} ${px} → ${o.p}`).toBe(true);
          expect(validSize(o.s, SZ[coin]), `${coin} ${sz} → ${o.s}`).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
    expect(srv.exchange.length).toBe(60);
  });
});
