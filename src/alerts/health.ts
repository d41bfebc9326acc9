import type { Clock } from "../clock.js";
import type { Db } from "../store/db.js";
import { getMeta, metaWithPrefix, setMeta } from "../store/meta.js";

/**
 * Venue health for `venue_unavailable`: consecutive EXCHANGE_UNAVAILABLE outcomes per venue or
 * market-data source, kept in `meta` (`alerts.venue_health.<id>`) so every process sharing the home
 * feeds one counter. Fed by the gate's call observations (tool calls and cycle slices that name a
 * venue) and by the stale-data monitor's market-data probe. Any success resets the count; other
 * refusals (risk, approval, ...) say nothing about the venue and are ignored.
 */

const PREFIX = "alerts.venue_health.";

/** Health of one venue or source. Times ms UTC. */
export interface VenueHealth {
  failures: number;
  /** First failure of the current streak. */
  since: number | null;
  last_error: string | null;
  last_failure_at: number | null;
  last_ok_at: number | null;
}

/** Reads and updates venue health. */
export class VenueHealthStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Records one outcome. A success writes only when it ends a failure streak. */
  record(venue: string, ok: boolean, error?: string): void {
    const key = PREFIX + venue;
    // The common case (a success with no streak) reads only: no write lock per tool call.
    if (ok && (getMeta<VenueHealth>(this.db, key)?.failures ?? 0) === 0) return;
    const now = this.clock.now();
    this.db
      .transaction(() => {
        const cur = getMeta<VenueHealth>(this.db, key);
        if (ok) {
          if (cur && cur.failures > 0)
            setMeta(this.db, key, { ...cur, failures: 0, since: null, last_ok_at: now });
          return;
        }
        setMeta(this.db, key, {
          failures: (cur?.failures ?? 0) + 1,
          since: cur?.since ?? now,
          last_error: error ?? null,
          last_failure_at: now,
          last_ok_at: cur?.last_ok_at ?? null,
        } satisfies VenueHealth);
      })
      .immediate();
  }

  /** Every venue with a record, by id. */
  all(): Map<string, VenueHealth> {
    const out = new Map<string, VenueHealth>();
    for (const [k, v] of metaWithPrefix<VenueHealth>(this.db, PREFIX)) out.set(k.slice(PREFIX.length), v);
    return out;
  }
}
