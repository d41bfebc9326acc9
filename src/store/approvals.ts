import type { Db } from "./db.js";

/**
 * Approval decisions on intents (DESIGN.md §3 step 8), append-only. The current decision is the
 * newest row; an approval is valid only for the intent's exact `payload_hash` and until `expires_at`.
 */

/** approved · rejected · dismissed (an elicitation closed without an answer; not a decision). */
export type ApprovalDecision = "approved" | "rejected" | "dismissed";
/** Who recorded it: an `orders:approve` tool caller, the human via MCP elicitation, the CLI, or operator config. */
export type ApprovalVia = "tool" | "elicitation" | "cli" | "config";

/** One stored decision. Times ms UTC. */
export interface ApprovalRow {
  id: number;
  intent_id: string;
  decision: ApprovalDecision;
  actor: string;
  via: ApprovalVia;
  reason: string | null;
  payload_hash: string;
  ts: number;
  expires_at: number | null;
}

/** Appends a decision; returns the stored row. */
export function recordApproval(db: Db, a: Omit<ApprovalRow, "id">): ApprovalRow {
  const info = db
    .prepare(
      `INSERT INTO approvals (intent_id, decision, actor, via, reason, payload_hash, ts, expires_at)
       VALUES (@intent_id, @decision, @actor, @via, @reason, @payload_hash, @ts, @expires_at)`,
    )
    .run(a);
  return { id: Number(info.lastInsertRowid), ...a };
}

/** The newest approved/rejected decision of an intent (dismissals are not decisions). */
export function latestDecision(db: Db, intentId: string): ApprovalRow | undefined {
  return db
    .prepare(
      "SELECT * FROM approvals WHERE intent_id = ? AND decision != 'dismissed' ORDER BY id DESC LIMIT 1",
    )
    .get(intentId) as ApprovalRow | undefined;
}

/** Every recorded answer on an intent, oldest first (decisions and dismissals). */
export function approvalsOf(db: Db, intentId: string): ApprovalRow[] {
  return db.prepare("SELECT * FROM approvals WHERE intent_id = ? ORDER BY id").all(intentId) as ApprovalRow[];
}

/** The newest decisions on any intent (dismissals excluded), newest first. */
export function recentDecisions(db: Db, limit: number): ApprovalRow[] {
  return db
    .prepare("SELECT * FROM approvals WHERE decision != 'dismissed' ORDER BY id DESC LIMIT ?")
    .all(limit) as ApprovalRow[];
}
