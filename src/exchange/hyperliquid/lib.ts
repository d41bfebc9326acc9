import { createRequire } from "node:module";
import type * as Hl from "@nktkas/hyperliquid";
import type * as HlSigning from "@nktkas/hyperliquid/signing";
import type * as ViemAccounts from "viem/accounts";

/**
 * `@nktkas/hyperliquid` and viem, loaded on first use (issue 15): together ≈ 300 modules and
 * 0.2–0.3 s of start-up that a server on paper or replay data, or one that never asks Hyperliquid
 * anything, does not need. Loaded synchronously (their CommonJS builds) so building a source or a
 * venue stays synchronous and throws where it always did. Every runtime use in src goes through
 * here, so the error classes `instanceof` checks against are the ones the clients throw (the ESM
 * and CommonJS builds are different classes); see src/exchange/ccxt/lib.ts for the same rule.
 */
export interface HlLib {
  HttpTransport: typeof Hl.HttpTransport;
  InfoClient: typeof Hl.InfoClient;
  ExchangeClient: typeof Hl.ExchangeClient;
  ApiRequestError: typeof Hl.ApiRequestError;
  HttpRequestError: typeof Hl.HttpRequestError;
  TransportError: typeof Hl.TransportError;
  ValidationError: typeof Hl.ValidationError;
  AbstractWalletError: typeof HlSigning.AbstractWalletError;
  privateKeyToAccount: typeof ViemAccounts.privateKeyToAccount;
}

let lib: HlLib | undefined;

/** The Hyperliquid SDK's and viem's exports we use. @throws Error when a package cannot be loaded. */
export function hlLib(): HlLib {
  if (!lib) {
    const req = createRequire(import.meta.url);
    const hl = req("@nktkas/hyperliquid") as typeof Hl;
    const signing = req("@nktkas/hyperliquid/signing") as typeof HlSigning;
    const viem = req("viem/accounts") as typeof ViemAccounts;
    lib = {
      HttpTransport: hl.HttpTransport,
      InfoClient: hl.InfoClient,
      ExchangeClient: hl.ExchangeClient,
      ApiRequestError: hl.ApiRequestError,
      HttpRequestError: hl.HttpRequestError,
      TransportError: hl.TransportError,
      ValidationError: hl.ValidationError,
      AbstractWalletError: signing.AbstractWalletError,
      privateKeyToAccount: viem.privateKeyToAccount,
    };
  }
  return lib;
}
