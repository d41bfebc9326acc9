import { z } from "zod";

/**
 * The symbol argument every tool takes (market, orders, portfolio, account, research): a canonical
 * symbol is the base coin of a USD(C/T)-margined perp (`BTC`, not `BTC/USDT` or `BTCUSDT`). Input is
 * trimmed and upper-cased, so `btc` is accepted by order_propose as by the market tools; the market
 * service then matches the venue's own spelling (exact, else the one case-insensitive match, e.g.
 * Hyperliquid's `kPEPE`).
 */
export const SYMBOL = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9]{1,20}$/, "a base coin such as BTC")
  .toUpperCase()
  .describe("Base coin, e.g. BTC.");
