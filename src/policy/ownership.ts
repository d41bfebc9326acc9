import { TwError } from "../errors.js";
import type { Caller } from "./scopes.js";

/**
 * Per-caller isolation (DESIGN.md §10): intents, orders, fills and audit rows carry the caller that
 * made them; agent and readonly callers see and act only on their own, operators on everything. A
 * record of someone else's is answered exactly like a record that does not exist (NOT_FOUND), so ids
 * cannot be probed. A caller is its audit id (`token:<name>`, `stdio:<name>`, `cli:<user>`, ...).
 */

/** Whether a caller sees every caller's records. */
export function seesAll(caller: Caller): boolean {
  return caller.profile === "operator";
}

/** The owner filter for list queries: undefined (all) for operators, else the caller's own id. */
export function ownerFilter(caller: Caller): string | undefined {
  return seesAll(caller) ? undefined : caller.id;
}

/** Whether a record owned by `owner` is visible to `caller`. */
export function visibleTo(caller: Caller, owner: string): boolean {
  return seesAll(caller) || owner === caller.id;
}

/**
 * Returns the record when the caller may see it.
 * @throws TwError NOT_FOUND (with the caller's hint) when it is missing or another caller's.
 */
export function ownedOrNotFound<T extends { caller: string }>(
  caller: Caller,
  record: T | undefined,
  what: string,
  hint: string,
): T {
  if (!record || !visibleTo(caller, record.caller)) throw new TwError("NOT_FOUND", `No ${what}.`, { hint });
  return record;
}
