import type { Config } from "../config.js";
import { TwError } from "../errors.js";
import type { GateStep } from "./gate.js";

/**
 * Venue guard (DESIGN.md §3 step 6): any `*:mainnet` venue is refused unless the operator config
 * sets `venues.allowMainnet["<venue>"] = true`. No tool can change it; the config is read-only at
 * run time. Applies to every call that names a venue (reads included: nothing touches mainnet
 * without the operator's consent).
 */

/** Whether a venue id names a mainnet network. */
export function isMainnet(venue: string): boolean {
  return venue.endsWith(":mainnet");
}

/** @throws TwError MAINNET_BLOCKED when `venue` is mainnet and not allowed by config. */
export function assertVenueAllowed(cfg: Config, venue: string): void {
  if (isMainnet(venue) && cfg.venues.allowMainnet[venue] !== true) {
    throw new TwError("MAINNET_BLOCKED", `Venue ${venue} is mainnet and blocked by operator config.`, {
      hint: `Use a paper, demo or testnet venue (e.g. paper, ${venue.replace(/:mainnet$/, ":testnet")}). Only the operator can allow mainnet, in the config file (venues.allowMainnet).`,
      details: { venue },
    });
  }
}

/** The venue-guard gate step (order 60). */
export function venueGuardStep(cfg: Config): GateStep {
  return {
    name: "venue_guard",
    order: 60,
    lane: true,
    check(call) {
      if (typeof call.facts.venue === "string") assertVenueAllowed(cfg, call.facts.venue);
      return undefined;
    },
  };
}
