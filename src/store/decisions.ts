import type { Clipped, DecisionRecord, ModelReply } from "../engine/decision/types.js";
import type { TargetPortfolio } from "../engine/types.js";
import { blockedTargets } from "./cycleBlocks.js";
import type { Db } from "./db.js";

/**
 * Persistence of decision sources (migration 011): one `cycle_decisions` row per cycle, written in
 * the same transaction as the cycle row, and the replay's `decision_cache` of model replies by prompt
 * hash. Rows are never updated, except a cache entry replaced by `replay --no-decision-cache` and,
 * in a replay's own database, {@link compactDecisions}.
 */

interface RawDecision {
  cycle_id: string;
  ts: number;
  source: DecisionRecord["source"];
  used: DecisionRecord["used"];
  mode: DecisionRecord["mode"];
  asked: number;
  held_from: string | null;
  model: string | null;
  client: string | null;
  latency_ms: number | null;
  error: string | null;
  raw: string | null;
  prompt_hash: string | null;
  cached: number;
  answer: string | null;
  target: string;
  clipped: string;
}

function parse(r: RawDecision): DecisionRecord {
  return {
    cycle_id: r.cycle_id,
    ts: r.ts,
    source: r.source,
    used: r.used,
    mode: r.mode,
    asked: r.asked === 1,
    held_from: r.held_from,
    model: r.model,
    client: r.client,
    latency_ms: r.latency_ms,
    error: r.error,
    raw: r.raw,
    prompt_hash: r.prompt_hash,
    cached: r.cached === 1,
    answer: r.answer === null ? null : JSON.parse(r.answer),
    // JSON `null` in a compacted row (see compactDecisions).
    target: JSON.parse(r.target),
    clipped: JSON.parse(r.clipped),
  };
}

const INSERT_DECISION = `INSERT INTO cycle_decisions (cycle_id, ts, source, used, mode, asked, held_from, model,
   client, latency_ms, error, raw, prompt_hash, cached, answer, target, clipped)
 VALUES (@cycle_id, @ts, @source, @used, @mode, @asked, @held_from, @model, @client, @latency_ms,
   @error, @raw, @prompt_hash, @cached, @answer, @target, @clipped)`;

/** Records the decision of a cycle. */
export function insertDecision(db: Db, d: DecisionRecord): void {
  db.prepare(INSERT_DECISION).run({
    ...d,
    asked: d.asked ? 1 : 0,
    cached: d.cached ? 1 : 0,
    answer: d.answer === null || d.answer === undefined ? null : JSON.stringify(d.answer),
    target: JSON.stringify(d.target),
    clipped: JSON.stringify(d.clipped),
  });
}

/** The decision of a cycle. */
export function getDecision(db: Db, cycleId: string): DecisionRecord | undefined {
  const r = db.prepare("SELECT * FROM cycle_decisions WHERE cycle_id = ?").get(cycleId) as
    | RawDecision
    | undefined;
  return r ? parse(r) : undefined;
}

/** The newest decisions before `before` (ms UTC, exclusive), newest first. */
export function recentDecisions(db: Db, limit: number, before = Number.MAX_SAFE_INTEGER): DecisionRecord[] {
  return (
    db
      .prepare("SELECT * FROM cycle_decisions WHERE ts < ? ORDER BY ts DESC LIMIT ?")
      .all(before, limit) as RawDecision[]
  ).map(parse);
}

/** A decision a model answered: never compacted, so its target and clip are always there. */
export type AnsweredDecision = DecisionRecord & { target: TargetPortfolio; clipped: Clipped };

/**
 * The newest decision before `before` in which a model was asked and answered validly (its answer
 * may still be in force), and how many cycles have been decided after it and before `before`.
 */
export function lastAnswered(
  db: Db,
  before: number,
): { decision: AnsweredDecision; since: number } | undefined {
  const r = db
    .prepare(
      "SELECT * FROM cycle_decisions WHERE ts < ? AND asked = 1 AND used IN ('llm','sampling') ORDER BY ts DESC LIMIT 1",
    )
    .get(before) as RawDecision | undefined;
  if (!r) return undefined;
  const { n } = db
    .prepare("SELECT COUNT(*) AS n FROM cycle_decisions WHERE ts > ? AND ts < ?")
    .get(r.ts, before) as { n: number };
  return { decision: parse(r) as AnsweredDecision, since: n };
}

/**
 * Decisions per `used` between two cycle starts (inclusive). A compacted cycle whose decision
 * {@link dropDecisions} removed counts by its own `target.used`, which is the decision's `used`
 * (both are the cycle's stage-2 choice, stored in one transaction: src/engine/cycle.ts); every
 * stored cycle has a decision row until then, so nothing is counted twice or missed. Cycles moved
 * into blocks (src/store/cycleBlocks.ts) count the same way.
 */
export function countDecisions(db: Db, from: number, to: number): Record<DecisionRecord["used"], number> {
  const out = { agent: 0, sampling: 0, llm: 0, baseline: 0, baseline_fallback: 0 };
  const rows = db
    .prepare("SELECT used, COUNT(*) AS n FROM cycle_decisions WHERE ts BETWEEN ? AND ? GROUP BY used")
    .all(from, to) as Array<{ used: DecisionRecord["used"]; n: number }>;
  const dropped = db
    .prepare(
      `SELECT json_extract(c.target, '$.used') AS used, COUNT(*) AS n FROM cycles c
        WHERE c.ts BETWEEN ? AND ? AND c.plan = '{}'
          AND NOT EXISTS (SELECT 1 FROM cycle_decisions d WHERE d.cycle_id = c.id)
        GROUP BY used`,
    )
    .all(from, to) as Array<{ used: DecisionRecord["used"]; n: number }>;
  for (const r of [...rows, ...dropped]) out[r.used] += r.n;
  const kept = db.prepare("SELECT 1 FROM cycle_decisions WHERE cycle_id = ?").pluck();
  for (const c of blockedTargets(db, from, to)) {
    if (kept.get(c.id) === undefined)
      out[(JSON.parse(c.target) as { used: DecisionRecord["used"] }).used] += 1;
  }
  return out;
}

/**
 * Deletes the decisions with `from <= ts < before` (ms UTC) that no model answered, for a replay's
 * own database whose decision source is not a model (issue 15: ≈ 190 bytes a cycle with its index
 * entries). Call it only for cycles already compacted (`compactCycles`): their row keeps what such
 * a decision said that is not configuration — `used` and `reason` (the decision's `error`) — and
 * {@link countDecisions} counts them from it. Nothing else reads them: no prompt is built without a
 * model, `portfolio_get_status` shows the newest `LAST_DECISIONS` (5), and a replay keeps its
 * newest `REPLAY_DETAIL_CYCLES` cycles' decisions. Not for a model source: there `lastAnswered`
 * counts the fallback rows since the last answer. Idempotent; run it inside the caller's transaction.
 */
export function dropDecisions(db: Db, from: number, before: number): void {
  db.prepare("DELETE FROM cycle_decisions WHERE ts >= ? AND ts < ? AND used NOT IN ('llm', 'sampling')").run(
    from,
    before,
  );
}

/**
 * Compacts the decisions with `from <= ts < before` (ms UTC) that no model answered (agent, baseline
 * and baseline fallbacks), for a replay's own database (see `compactCycles`): `target` and `clipped`
 * become JSON `null` (read back as null). Both repeat the cycle row (`target`, `approved`), and the
 * target follows from `portfolio_targets` (agent) or the candles (baseline); every other field
 * (source, used, asked, model, error, raw, prompt hash, ...) is kept. Model answers (`used` llm or
 * sampling) stay whole: a later cycle may still hold one (`lastAnswered`). The caller keeps at least
 * the newest `PROMPT_LAST_DECISIONS` whole (a model prompt shows their targets and clips). Each row
 * is deleted and inserted again so the smaller rows are packed together at the table's end (a row
 * shrunk in place keeps its page). Idempotent; run it inside the caller's transaction.
 */
export function compactDecisions(db: Db, from: number, before: number): void {
  const rows = db
    .prepare(
      `SELECT * FROM cycle_decisions WHERE ts >= ? AND ts < ? AND used NOT IN ('llm', 'sampling')
         AND target <> 'null' ORDER BY ts`,
    )
    .all(from, before) as RawDecision[];
  const del = db.prepare("DELETE FROM cycle_decisions WHERE cycle_id = ?");
  const ins = db.prepare(INSERT_DECISION);
  for (const r of rows) {
    del.run(r.cycle_id);
    ins.run({ ...r, target: "null", clipped: "null" });
  }
}

/** A cached model reply by prompt hash. */
export function getCachedReply(db: Db, promptHash: string): ModelReply | undefined {
  const r = db.prepare("SELECT reply FROM decision_cache WHERE prompt_hash = ?").get(promptHash) as
    | { reply: string }
    | undefined;
  return r ? (JSON.parse(r.reply) as ModelReply) : undefined;
}

/** Stores (or replaces) the reply to a prompt. The reply must already be scrubbed of secrets. */
export function putCachedReply(
  db: Db,
  promptHash: string,
  source: string,
  reply: ModelReply,
  at: number,
): void {
  db.prepare(
    `INSERT INTO decision_cache (prompt_hash, source, reply, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(prompt_hash) DO UPDATE SET source = excluded.source, reply = excluded.reply, created_at = excluded.created_at`,
  ).run(promptHash, source, JSON.stringify(reply), at);
}
