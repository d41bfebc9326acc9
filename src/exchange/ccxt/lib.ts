import { createRequire } from "node:module";
import type * as Ccxt from "ccxt";

/**
 * The ccxt module, loaded on first use (issue 15): ccxt is hundreds of files and about half a second
 * of start-up, and most processes (paper, replay, Hyperliquid) never touch it. Loaded synchronously
 * (its CommonJS build) so building a venue stays synchronous and throws where it always did. Every
 * ccxt use in src goes through here, so the error classes `instanceof` checks against are the ones
 * the exchange instances throw (the ESM and CommonJS builds are different classes).
 */
export type CcxtLib = Pick<
  typeof Ccxt,
  "BadSymbol" | "DDoSProtection" | "ExchangeError" | "NetworkError" | "RateLimitExceeded" | "OrderNotFound"
> & {
  /** Ids of every exchange ccxt supports. */
  exchanges: string[];
};

let lib: CcxtLib | undefined;

/** ccxt's exports (see {@link CcxtLib}). @throws Error when the package cannot be loaded. */
export function ccxtLib(): CcxtLib {
  lib ??= createRequire(import.meta.url)("ccxt") as CcxtLib;
  return lib;
}

/**
 * The exchange class of a ccxt id, or undefined when ccxt has no such exchange.
 */
export function ccxtExchangeClass(
  id: string,
): (new (cfg: Record<string, unknown>) => Ccxt.Exchange) | undefined {
  const l = ccxtLib();
  const Ctor = (l as unknown as Record<string, unknown>)[id];
  return typeof Ctor === "function" && l.exchanges.includes(id)
    ? (Ctor as new (
        cfg: Record<string, unknown>,
      ) => Ccxt.Exchange)
    : undefined;
}
