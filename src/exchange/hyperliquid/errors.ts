import { TwError } from "../../errors.js";
import { hlLib } from "./lib.js";

/**
 * Maps anything thrown by `@nktkas/hyperliquid` (or a malformed response) to a TwError, so a venue
 * failure is never a crash or an empty success:
 * - HTTP 429 → RATE_LIMITED (retryable; details.retry_after_ms from Retry-After, else 1000)
 * - HTTP 5xx, network error, timeout, non-JSON body → EXCHANGE_UNAVAILABLE (retryable)
 * - other HTTP 4xx, API error payload → EXCHANGE_REJECTED (not retryable)
 */
export function mapHlError(err: unknown, what: string): TwError {
  if (err instanceof TwError) return err;
  const { ApiRequestError, HttpRequestError, TransportError } = hlLib();
  if (err instanceof HttpRequestError && err.response) {
    const status = err.response.status;
    if (status === 429) {
      const ra = Number(err.response.headers.get("retry-after"));
      const retry = Number.isFinite(ra) && ra > 0 ? ra * 1000 : 1000;
      return new TwError("RATE_LIMITED", `Hyperliquid rate-limited ${what} (HTTP 429).`, {
        hint: "Wait retry_after_ms and retry with fewer requests.",
        details: { retry_after_ms: retry, status },
        cause: err,
      });
    }
    if (status >= 500 || status < 400) {
      return new TwError("EXCHANGE_UNAVAILABLE", `Hyperliquid failed ${what} (HTTP ${status}).`, {
        hint: "Retry in a few seconds; the venue or the network is having trouble.",
        details: { status },
        cause: err,
      });
    }
    return new TwError("EXCHANGE_REJECTED", `Hyperliquid rejected ${what} (HTTP ${status}).`, {
      details: { status },
      cause: err,
    });
  }
  if (err instanceof ApiRequestError) {
    return new TwError("EXCHANGE_REJECTED", `Hyperliquid rejected ${what}: ${err.message}`, { cause: err });
  }
  if (err instanceof TransportError || err instanceof TypeError || (err as Error)?.name === "TimeoutError") {
    return new TwError(
      "EXCHANGE_UNAVAILABLE",
      `Hyperliquid is unreachable for ${what} (network error or timeout).`,
      {
        hint: "Retry shortly; check connectivity or TW_HL_API_URL.",
        cause: err,
      },
    );
  }
  return new TwError("EXCHANGE_UNAVAILABLE", `Hyperliquid returned an unusable answer for ${what}.`, {
    hint: "Retry shortly; if it persists report it.",
    cause: err,
  });
}

/** A response that does not have the documented shape. */
export function malformed(what: string, detail: string): TwError {
  return new TwError(
    "EXCHANGE_UNAVAILABLE",
    `Hyperliquid returned a malformed ${what} response (${detail}).`,
    {
      hint: "Retry shortly; if it persists the API changed, report it.",
    },
  );
}

/** Parses a Hyperliquid number (they come as strings, sometimes numbers). @throws TwError when not finite. */
export function num(v: unknown, what: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) throw malformed(what, `expected a number, got ${JSON.stringify(v)}`);
  return n;
}
