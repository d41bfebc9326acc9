import type { App } from "../app.js";
import { TwError } from "../errors.js";
import type { AccountState } from "../exchange/venue.js";
import { approvalState } from "../policy/approval.js";
import { callerFor } from "../policy/scopes.js";
import { getMeta } from "../store/meta.js";
import { type IntentRow, listIntents } from "../store/intents.js";
import { ordersOfIntent, recordedVenues } from "../store/orders.js";

/**
 * Read-side helpers shared by console pages. Reads are not tool calls: they change nothing, so they
 * are not audited (a page view would otherwise write an audit row, which the live stream would turn
 * into another page view). Every change the console makes goes through the gate (src/console/actions.ts).
 */

/** The viewpoint used to evaluate approval states (only `system` callers differ). */
const VIEWER = callerFor("console:view", "readonly", "console");

/** Where an intent stands, for lists and its page. */
export type IntentStatus = "submitted" | "rejected" | "approved" | "expired" | "pending" | "not_needed";

/** Status of an intent now: submitted when it has an order, else its approval state. */
export function intentStatus(app: App, i: IntentRow): IntentStatus {
  if (ordersOfIntent(app.db, i.id).length > 0) return "submitted";
  const s = approvalState(app.approval, i, VIEWER).state;
  if (s === "missing") return "pending";
  if (s === "by_config") return "not_needed";
  return s;
}

/** Intents waiting for a human decision (approval needed, no decision or an expired one, not sent). */
export function pendingIntents(app: App, limit: number): IntentRow[] {
  return listIntents(app.db, { awaitingDecision: true, limit: 1000 })
    .filter((i) => {
      const st = intentStatus(app, i);
      return st === "pending" || st === "expired";
    })
    .slice(0, limit);
}

/** Venues worth showing: the configured ones plus every venue we hold records for. */
export function shownVenues(app: App): string[] {
  return [...new Set([...app.venues.ids(), ...recordedVenues(app.db)])];
}

/** Account of a venue, or why it could not be read (within `timeoutMs`). */
export async function accountOf(
  app: App,
  venue: string,
  timeoutMs = 3_000,
): Promise<{ ok: true; state: AccountState } | { ok: false; error: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const state = await Promise.race([
      app.venues.get(venue).accountState(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, state };
  } catch (e) {
    // Only our own errors carry text meant for people; anything else may hold a URL or a key.
    if (!(e instanceof TwError)) app.log.warn({ err: e, venue }, "console: account read failed");
    return { ok: false, error: e instanceof TwError ? e.message : "unavailable (see the server log)" };
  } finally {
    clearTimeout(timer);
  }
}

/** ms UTC of the last successful reconcile of a venue, or null. */
export function lastReconcileOf(app: App, venue: string): number | null {
  return getMeta<number>(app.db, `reconcile.${venue}.last_at`) ?? null;
}
