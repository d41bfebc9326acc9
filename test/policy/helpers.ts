import { type App, createApp } from "../../src/app.js";
import { SimClock } from "../../src/clock.js";
import type { Config } from "../../src/config.js";
import type { PlaceRequest, PlaceResult, Venue } from "../../src/exchange/venue.js";
import { createLogger } from "../../src/log.js";
import { REPLAY_30D, tempHome, testConfig } from "../helpers/app.js";

/** 2025-05-25 15:00 UTC: inside the 30-day replay set (BTC ≈ 107.3k). */
export const T0 = Date.UTC(2025, 4, 25, 15, 0, 0);

/** A test App on the real 30-day replay with a SimClock; `patch` edits the validated config. */
export async function orderApp(
  patch: (c: Config) => void = () => {},
  env: Record<string, string> = {},
  home?: string,
): Promise<{ app: App; clock: SimClock; home: string; cleanup: () => Promise<void> }> {
  const h = home ? { home, cleanup: () => {} } : tempHome();
  const cfg = testConfig(h.home, { TW_MARKET_DATA: `replay:${REPLAY_30D}`, ...env });
  patch(cfg);
  const clock = new SimClock(T0);
  const app = await createApp(cfg, { clock, log: createLogger("silent") });
  return {
    app,
    clock,
    home: h.home,
    cleanup: async () => {
      await app.close();
      h.cleanup();
    },
  };
}

/**
 * Wraps a venue: counts `place` calls and orders, and can hold the answer back (`hold`) to simulate
 * a timeout or a process killed after the venue received the order (`deliver: true`) or before it
 * (`deliver: false`).
 */
export function countingVenue(
  inner: Venue,
): Venue & { placeCalls: number; ordersSent: number; hold?: { deliver: boolean } } {
  const w = Object.create(inner) as Venue & {
    placeCalls: number;
    ordersSent: number;
    hold?: { deliver: boolean };
  };
  w.placeCalls = 0;
  w.ordersSent = 0;
  w.place = async (reqs: PlaceRequest[]): Promise<PlaceResult[]> => {
    w.placeCalls++;
    if (w.hold) {
      if (w.hold.deliver) {
        w.ordersSent += reqs.length;
        await inner.place(reqs);
      }
      return new Promise<PlaceResult[]>(() => {}); // never answers
    }
    w.ordersSent += reqs.length;
    return inner.place(reqs);
  };
  return w;
}
