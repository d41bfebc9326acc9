import { type AuditEntry, appendAudit } from "../store/audit.js";
import type { Db } from "../store/db.js";

/**
 * A replay's `cycle.run` audit rows, one per group of cycles instead of one per cycle (issue 15:
 * with its two hashes and four index entries a row a cycle was ≈ 400 bytes of a replay's file).
 * Only for a replay's own database, where the cycles of a commit batch are committed — or rolled
 * back by a kill -9 — together anyway. Each grouped row is tool `cycle.run`, caller and decision as
 * the cycle's own, `ts` the first cycle's start, args `{venue, first, last, count}` (cycle ids) and
 * result `{columns, rows}`: one row per cycle, `[cycle_id, ...]` in {@link RUN_COLUMNS} order, with
 * what src/engine/cycle.ts `cycleRunResult` records (a member it leaves out is 0). Live cycles
 * still write one row each.
 */

/** The members of a cycle's `cycle.run` result, in the order a grouped row stores them. */
export const RUN_COLUMNS = [
  "used",
  "reason",
  "clips",
  "slices",
  "sent",
  "refused",
  "rate_limited",
  "corrections",
] as const;

/**
 * Bytes of rows after which a group is written at the next tick's start: well under the audit's
 * 16 KB field cap (`AUDIT_FIELD_MAX`), so a group is never truncated to a hash (a cycle's row is
 * ≈ 55 bytes; a model's error as `reason` can be a few hundred).
 */
const GROUP_BYTES = 8_192;

/** Collects the `cycle.run` entries of a replay's ticks and appends them as grouped rows. */
export class RunAuditGroup {
  private entries: AuditEntry[] = [];
  private rows: unknown[][] = [];
  private bytes = 0;
  private tickStart = 0;

  constructor(
    private readonly db: Db,
    private readonly venue: string,
  ) {}

  /** Takes one cycle's `cycle.run` entry (set as `MinuteCycle.recordRun`). */
  add(e: AuditEntry): void {
    const args = e.args as { cycle_id: string };
    const result = (e.result ?? {}) as Record<string, unknown>;
    const row = [args.cycle_id, ...RUN_COLUMNS.map((k) => result[k] ?? (k === "reason" ? null : 0))];
    this.entries.push(e);
    this.rows.push(row);
    this.bytes += JSON.stringify(row).length + 1;
  }

  /**
   * Marks a tick's start (before its savepoint): writes the group if it is full, so a group row is
   * never written inside a tick that may still be rolled back.
   */
  beginTick(): void {
    if (this.bytes >= GROUP_BYTES) this.flush();
    this.tickStart = this.entries.length;
  }

  /** Forgets the entries of a tick that was rolled back (its cycle rows are gone too). */
  dropTick(): void {
    this.entries.length = this.tickStart;
    this.rows.length = this.tickStart;
    this.bytes = this.rows.reduce((a, r) => a + JSON.stringify(r).length + 1, 0);
  }

  /** Forgets every collected entry (the whole batch was rolled back). */
  clear(): void {
    this.entries = [];
    this.rows = [];
    this.bytes = 0;
    this.tickStart = 0;
  }

  /** Appends the collected entries as one row (inside the caller's transaction), if any. */
  flush(): void {
    if (this.entries.length === 0) return;
    const first = this.entries[0];
    const ids = this.rows.map((r) => r[0] as string);
    appendAudit(this.db, {
      ts: first.ts,
      caller: first.caller,
      tool: "cycle.run",
      args: { venue: this.venue, first: ids[0], last: ids[ids.length - 1], count: ids.length },
      decision: "allowed",
      result: { columns: ["cycle_id", ...RUN_COLUMNS], rows: this.rows },
      durationMs: this.entries.reduce((a, e) => a + e.durationMs, 0),
      keys: null,
    });
    this.clear();
  }
}
