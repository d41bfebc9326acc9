import { createHash } from "node:crypto";
import { TwError, type ErrorPayload } from "../errors.js";
import { type Db, prefixEnd } from "../store/db.js";
import type { GateCall, GateOutcome, GateStep } from "./gate.js";

/**
 * Idempotency (DESIGN.md §3 step 5) over the `idempotency_keys` table (scope = operation, key =
 * client_order_id / idempotency_key).
 *
 * Row status: `reserved` (the call is in flight, or its outcome is ambiguous: a timeout or a crash
 * between reservation and recording — it stays reserved until reconciled by an order-status query),
 * `done` (result stored; `result` is the JSON result or `{ error: ErrorPayload }`), `released` (the
 * call was refused or failed before any side effect; the key may be used again).
 *
 * Same key + same payload → the stored result (nothing re-executed); same key + different payload →
 * IDEMPOTENCY_CONFLICT. Operations whose handler writes its own reservation in the same transaction as
 * its record (order_submit) set `facts.idempotencyManaged`; the step then only checks.
 *
 * Keys are scoped by operation AND caller (`<caller id>:<key>`): one caller's key never answers,
 * blocks or conflicts with another's. The exception is order_submit's managed key
 * `<venue>:<client_order_id>`: a client order id is unique per venue account whoever sends it.
 */

/** sha256 of the canonical JSON (keys sorted recursively) of a payload. */
export function payloadHash(v: unknown): string {
  return createHash("sha256").update(canonicalJson(v)).digest("hex");
}

/** JSON with object keys sorted at every level (undefined members dropped). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}

/** One stored key. */
export interface IdemRow {
  scope: string;
  key: string;
  payload_hash: string;
  status: "reserved" | "done" | "released";
  result: string | null;
  created_at: number;
  updated_at: number;
}

/** Reads a key. */
export function getKey(db: Db, scope: string, key: string): IdemRow | undefined {
  return db.prepare("SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?").get(scope, key) as
    | IdemRow
    | undefined;
}

/**
 * Reserves a key atomically (call inside the caller's transaction when the reservation must be
 * written together with a record). Returns false when the key is already held (reserved or done).
 */
export function reserveKey(
  db: Db,
  scope: string,
  key: string,
  hash: string,
  now: number,
  provisional: unknown = null,
): boolean {
  const r = db
    .prepare(
      `INSERT INTO idempotency_keys (scope, key, payload_hash, status, result, created_at, updated_at)
       VALUES (@scope, @key, @hash, 'reserved', @result, @now, @now)
       ON CONFLICT(scope, key) DO UPDATE SET payload_hash = @hash, status = 'reserved', result = @result, updated_at = @now
       WHERE idempotency_keys.status = 'released'`,
    )
    .run({ scope, key, hash, now, result: provisional === null ? null : JSON.stringify(provisional) });
  return r.changes === 1;
}

/** Stores the final result (or error payload) of a key. */
export function completeKey(db: Db, scope: string, key: string, result: unknown, now: number): void {
  db.prepare(
    "UPDATE idempotency_keys SET status = 'done', result = ?, updated_at = ? WHERE scope = ? AND key = ?",
  ).run(JSON.stringify(result ?? null), now, scope, key);
}

/** Frees a key whose call had no side effect. */
export function releaseKey(db: Db, scope: string, key: string, now: number): void {
  db.prepare(
    "UPDATE idempotency_keys SET status = 'released', updated_at = ? WHERE scope = ? AND key = ? AND status = 'reserved'",
  ).run(now, scope, key);
}

/** Replays a stored `done` result: returns it, or rethrows the stored refusal. */
export function replayDone(row: IdemRow): unknown {
  const v: unknown = row.result === null ? null : JSON.parse(row.result);
  if (v !== null && typeof v === "object" && "error" in v) {
    const e = (v as { error: ErrorPayload }).error;
    throw new TwError(e.code, e.message, { hint: e.hint, details: { ...e.details, replayed: true } });
  }
  return v;
}

/**
 * Views of in-flight/ambiguous keys per scope: for order_submit, the current order record (status
 * `pending` or `unknown`), returned instead of re-sending.
 */
export type PendingView = (row: IdemRow) => unknown;

/** The idempotency gate step (order 50). */
export function idempotencyStep(views: Record<string, PendingView> = {}): GateStep {
  const keyOf = (call: GateCall) => {
    const k = call.facts.idempotencyKey;
    if (typeof k !== "string") return undefined;
    return call.facts.idempotencyManaged === true ? k : `${call.caller.id}:${k}`;
  };
  const hashOf = (call: GateCall) =>
    typeof call.facts.payloadHash === "string" ? call.facts.payloadHash : payloadHash(call.args);
  return {
    name: "idempotency",
    order: 50,
    lane: true,
    check(call, env) {
      const key = keyOf(call);
      if (key === undefined) return undefined;
      const scope = call.op.name;
      const hash = hashOf(call);
      const row = getKey(env.db, scope, key);
      if (row && row.status !== "released") {
        if (row.payload_hash !== hash) {
          throw new TwError(
            "IDEMPOTENCY_CONFLICT",
            `Key "${String(call.facts.idempotencyKey)}" was already used by ${scope} with a different payload.`,
            {
              hint: "Use a new client_order_id / idempotency_key for a different request, or repeat the original one exactly.",
              details: { scope, key: call.facts.idempotencyKey },
            },
          );
        }
        if (row.status === "done") return { result: replayDone(row) };
        const view = views[scope];
        if (view) return { result: view(row) };
        throw new TwError(
          "IDEMPOTENCY_CONFLICT",
          `A ${scope} call with key "${String(call.facts.idempotencyKey)}" is still in progress.`,
          {
            retryable: true,
            hint: "Retry in a moment with the same key; it will return that call's result.",
            details: { scope, key: call.facts.idempotencyKey, in_progress: true },
          },
        );
      }
      if (call.facts.idempotencyManaged === true) return undefined;
      if (!reserveKey(env.db, scope, key, hash, env.clock.now())) {
        throw new TwError(
          "IDEMPOTENCY_CONFLICT",
          `A ${scope} call with key "${String(call.facts.idempotencyKey)}" is still in progress.`,
          {
            retryable: true,
            hint: "Retry in a moment with the same key.",
            details: { scope, key: call.facts.idempotencyKey, in_progress: true },
          },
        );
      }
      call.state.idemReserved = { scope, key };
      return undefined;
    },
    after(call, outcome: GateOutcome, env) {
      const r = call.state.idemReserved as { scope: string; key: string } | undefined;
      if (!r) return;
      if (outcome.ok) completeKey(env.db, r.scope, r.key, outcome.result, env.clock.now());
      else if (outcome.error.code === "EXCHANGE_REJECTED") {
        completeKey(env.db, r.scope, r.key, { error: outcome.error.toJSON() }, env.clock.now());
      } else releaseKey(env.db, r.scope, r.key, env.clock.now());
    },
  };
}

/** Members of a stored result a compacted key keeps (see {@link compactKeyResults}). */
const COMPACT_KEEP = ["intent_id", "order_id", "status"] as const;

/**
 * Shrinks the stored results of the `done` keys of `scope` whose key starts with `prefix`, for a
 * replay's own database (src/engine/replay.ts, issue 15: an order_propose result repeats the whole
 * proposal with every check, ≈ 1.9 KB, an order_submit result the whole order, ≈ 0.5 KB). The result
 * keeps `intent_id`, `order_id` and `status` where it had them, plus `compacted: true`; a stored
 * refusal (`{error}`) stays whole. The key, its payload hash and its status are untouched, so the key
 * still blocks a second use and a different payload is still IDEMPOTENCY_CONFLICT; a retry of the
 * same call is answered with the compacted result. A replay calls this only for the orders of a
 * cycle that has finished, whose retry can no longer arrive (the cycle resumes only while
 * `planned`); the whole result is in the order's audit row. Idempotent; run it inside the caller's
 * transaction.
 */
export function compactKeyResults(db: Db, scope: string, prefix: string): void {
  const rows = db
    .prepare(
      "SELECT key, result FROM idempotency_keys WHERE scope = ? AND key >= ? AND key < ? AND status = 'done'",
    )
    .all(scope, prefix, prefixEnd(prefix)) as Array<{ key: string; result: string | null }>;
  // A new rowid (the table's end), not an update in place: a row shrunk in place keeps its page,
  // which then holds little more than it (the next whole result does not fit beside it); moving it
  // lets the emptied page be merged and the small row join the others at the end. Nothing refers
  // to a key's rowid.
  const update = db.prepare(
    `UPDATE idempotency_keys SET result = ?, rowid = (SELECT MAX(rowid) + 1 FROM idempotency_keys)
     WHERE scope = ? AND key = ?`,
  );
  for (const r of rows) {
    const small = compactResult(r.result);
    if (small !== r.result) update.run(small, scope, r.key);
  }
}

/** The compact form of a stored result (see {@link compactKeyResults}); unchanged when nothing can go. */
function compactResult(result: string | null): string | null {
  if (result === null) return null;
  const v = JSON.parse(result) as unknown;
  if (v === null || typeof v !== "object" || Array.isArray(v) || "error" in v || "compacted" in v)
    return result;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of COMPACT_KEEP) if (k in o) out[k] = o[k];
  out.compacted = true;
  return JSON.stringify(out);
}
