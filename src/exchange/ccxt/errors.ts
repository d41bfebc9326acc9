import { TwError } from "../../errors.js";
import { ccxtLib } from "./lib.js";

/**
 * Maps a ccxt error to a TwError using ccxt's own class split (retryable NetworkError family vs
 * ExchangeError): RateLimitExceeded/DDoSProtection → RATE_LIMITED (retry_after_ms 1000);
 * other NetworkError (timeout, 5xx, maintenance, bad response) → EXCHANGE_UNAVAILABLE;
 * BadSymbol → NOT_FOUND; other ExchangeError → EXCHANGE_REJECTED.
 */
export function mapCcxtError(err: unknown, exchange: string, what: string): TwError {
  if (err instanceof TwError) return err;
  const { BadSymbol, DDoSProtection, ExchangeError, NetworkError, RateLimitExceeded } = ccxtLib();
  if (err instanceof RateLimitExceeded || err instanceof DDoSProtection) {
    return new TwError("RATE_LIMITED", `${exchange} rate-limited ${what}.`, {
      hint: "Wait retry_after_ms and retry with fewer requests.",
      details: { retry_after_ms: 1000 },
      cause: err,
    });
  }
  if (err instanceof NetworkError) {
    return new TwError(
      "EXCHANGE_UNAVAILABLE",
      `${exchange} is unavailable for ${what} (${err.constructor.name}).`,
      {
        hint: "Retry in a few seconds.",
        cause: err,
      },
    );
  }
  if (err instanceof BadSymbol) {
    return new TwError("NOT_FOUND", `${exchange} does not know the symbol for ${what}.`, { cause: err });
  }
  if (err instanceof ExchangeError) {
    return new TwError("EXCHANGE_REJECTED", `${exchange} rejected ${what}.`, { cause: err });
  }
  return new TwError("EXCHANGE_UNAVAILABLE", `${exchange} failed ${what}.`, {
    hint: "Retry shortly.",
    cause: err,
  });
}
