import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import type { Db } from "../store/db.js";
import { auxText, matchExpression, parseQuery, spaceCjk } from "./text.js";

/**
 * Agent memory (DESIGN.md §7): items an agent (or the backtester) records and finds again. Items are
 * never deleted; a wrong item is disabled with a reason and stays in the table for the record. Tool
 * calls that write or disable are audited by the gate; domain writers outside a tool call (evidence
 * cards) audit themselves (src/knowledge/evidence.ts).
 */

export const MEMORY_KINDS = ["observation", "strategy_evidence", "decision", "note"] as const;
/** What an item records. */
export type MemoryKind = (typeof MEMORY_KINDS)[number];

/** Input of {@link MemoryStore.write}. */
export interface MemoryInput {
  kind: MemoryKind;
  /** 1..8000 characters. */
  text: string;
  /** Lower-cased on write; ≤ 20 tags. */
  tags: string[];
  /** How sure the author is, 0..1. */
  confidence: number;
  /** 1 (trivia) .. 5 (must not be forgotten). */
  importance: number;
  /** Where it comes from: a tool call, `backtest:<id>`, `experiment:<id>`, `cycle:<id>`; null when unknown. */
  source: string | null;
  /** Caller id (audit identity), e.g. `stdio:agent`. */
  author: string;
  /** Same author + key + payload → the same item; same key, other payload → IDEMPOTENCY_CONFLICT. */
  idempotencyKey?: string | null;
}

/** A stored item as returned by tools (snake_case). Times are ms UTC. */
export interface MemoryItem {
  id: number;
  kind: MemoryKind;
  text: string;
  tags: string[];
  confidence: number;
  importance: number;
  source: string | null;
  author: string;
  created_at: number;
  usage_count: number;
  last_used_at: number | null;
  disabled: boolean;
  disabled_reason: string | null;
  disabled_by: string | null;
  disabled_at: number | null;
}

/** Filters of {@link MemoryStore.search}. */
export interface MemoryQuery {
  /** Free text (FTS5 syntax neutralised); omitted = newest items matching the filters. */
  query?: string;
  kind?: MemoryKind;
  /** Items must carry every one of these tags (case-insensitive). */
  tags?: string[];
  minConfidence?: number;
  /** created_at ≥ since (ms UTC). */
  since?: number;
  /** Include disabled items (operators only; the tool checks the profile). */
  includeDisabled?: boolean;
  /** 1..50. */
  limit: number;
}

/** One search hit: the item (usage_count already incremented) and its −bm25 score (null without query). */
export interface MemoryHit extends MemoryItem {
  score: number | null;
}

interface Row {
  id: number;
  kind: MemoryKind;
  text: string;
  tags: string;
  confidence: number;
  importance: number;
  source: string | null;
  author: string;
  created_at: number;
  usage_count: number;
  last_used_at: number | null;
  disabled: number;
  disabled_reason: string | null;
  disabled_by: string | null;
  disabled_at: number | null;
  payload_hash: string;
}

function toItem(r: Row): MemoryItem {
  return {
    id: r.id,
    kind: r.kind,
    text: r.text,
    tags: JSON.parse(r.tags) as string[],
    confidence: r.confidence,
    importance: r.importance,
    source: r.source,
    author: r.author,
    created_at: r.created_at,
    usage_count: r.usage_count,
    last_used_at: r.last_used_at,
    disabled: r.disabled === 1,
    disabled_reason: r.disabled_reason,
    disabled_by: r.disabled_by,
    disabled_at: r.disabled_at,
  };
}

/** Normalised tags: trimmed, lower-cased, de-duplicated, in first-seen order. */
export function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim().toLowerCase()).filter((t) => t !== ""))];
}

const COLS =
  "m.id, m.kind, m.text, m.tags, m.confidence, m.importance, m.source, m.author, m.created_at, m.usage_count, " +
  "m.last_used_at, m.disabled, m.disabled_reason, m.disabled_by, m.disabled_at, m.payload_hash";

/** The memory store. One per App; synchronous (better-sqlite3). */
export class MemoryStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /**
   * Records an item, idempotently when a key is given.
   * @returns the item id and whether this call created it (`false` = replay of an earlier write).
   * @throws TwError IDEMPOTENCY_CONFLICT when the author already used the key for a different payload;
   *   INVALID_INPUT for out-of-range confidence/importance or empty text.
   */
  write(input: MemoryInput): { id: number; created: boolean } {
    const text = input.text.trim();
    if (text === "") throw new TwError("INVALID_INPUT", "text must not be empty.");
    if (!(input.confidence >= 0 && input.confidence <= 1)) {
      throw new TwError("INVALID_INPUT", "confidence must be between 0 and 1.");
    }
    if (!Number.isInteger(input.importance) || input.importance < 1 || input.importance > 5) {
      throw new TwError("INVALID_INPUT", "importance must be an integer from 1 to 5.");
    }
    const tags = normaliseTags(input.tags);
    const payload = JSON.stringify([
      input.kind,
      text,
      tags,
      input.confidence,
      input.importance,
      input.source,
    ]);
    const payloadHash = createHash("sha256").update(payload).digest("hex");
    const key = input.idempotencyKey ?? null;
    return this.db.transaction(() => {
      if (key !== null) {
        const prev = this.db
          .prepare("SELECT id, payload_hash FROM memory_items WHERE author = ? AND idempotency_key = ?")
          .get(input.author, key) as { id: number; payload_hash: string } | undefined;
        if (prev) {
          if (prev.payload_hash === payloadHash) return { id: prev.id, created: false };
          throw new TwError(
            "IDEMPOTENCY_CONFLICT",
            `idempotency_key "${key}" was already used for a different memory item (id ${prev.id}).`,
            {
              hint: "Use a new idempotency_key for new content, or resend the exact original payload.",
              details: { existing_id: prev.id },
            },
          );
        }
      }
      const id = Number(
        this.db
          .prepare(
            `INSERT INTO memory_items (kind, text, tags, confidence, importance, source, author, created_at,
               idempotency_key, payload_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            input.kind,
            text,
            JSON.stringify(tags),
            input.confidence,
            input.importance,
            input.source,
            input.author,
            this.clock.now(),
            key,
            payloadHash,
          ).lastInsertRowid,
      );
      this.db
        .prepare("INSERT INTO memory_fts (rowid, text, tags, aux) VALUES (?, ?, ?, ?)")
        .run(id, spaceCjk(text), spaceCjk(tags.join(" ")), auxText(`${text} ${tags.join(" ")}`));
      return { id, created: true };
    })();
  }

  /** One item by id, disabled or not; undefined when absent. */
  get(id: number): MemoryItem | undefined {
    const r = this.db.prepare(`SELECT ${COLS} FROM memory_items m WHERE m.id = ?`).get(id) as Row | undefined;
    return r ? toItem(r) : undefined;
  }

  /**
   * Disables an item (it stays stored; searches skip it). Disabling a disabled item changes nothing.
   * @returns the item after the call and whether it was already disabled.
   * @throws TwError NOT_FOUND when no item has this id.
   */
  disable(id: number, reason: string, by: string): { item: MemoryItem; alreadyDisabled: boolean } {
    return this.db.transaction(() => {
      const cur = this.get(id);
      if (!cur) {
        throw new TwError("NOT_FOUND", `No memory item with id ${id}.`, {
          hint: "Use memory_search to find the item's id.",
        });
      }
      if (cur.disabled) return { item: cur, alreadyDisabled: true };
      this.db
        .prepare(
          "UPDATE memory_items SET disabled = 1, disabled_reason = ?, disabled_by = ?, disabled_at = ? WHERE id = ?",
        )
        .run(reason, by, this.clock.now(), id);
      return { item: this.get(id) as MemoryItem, alreadyDisabled: false };
    })();
  }

  /**
   * Searches items: FTS5 bm25 over text and tags (every word first, then any word), combined with
   * the filters; without a query, newest first. Returned items have their usage_count incremented
   * (in the same transaction) and carry the new value.
   * @throws TwError INVALID_INPUT when `query` is given but has no words.
   */
  search(q: MemoryQuery): MemoryHit[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (!q.includeDisabled) where.push("m.disabled = 0");
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (q.kind !== undefined) add("m.kind = ?", q.kind);
    if (q.minConfidence !== undefined) add("m.confidence >= ?", q.minConfidence);
    if (q.since !== undefined) add("m.created_at >= ?", q.since);
    for (const tag of normaliseTags(q.tags ?? [])) {
      add("EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value = ?)", tag);
    }
    const filter = where.length > 0 ? where.join(" AND ") : "1";
    return this.db.transaction((): MemoryHit[] => {
      let hits: Array<{ row: Row; score: number | null }>;
      if (q.query !== undefined && q.query.trim() !== "") {
        const terms = parseQuery(q.query);
        if (terms.length === 0) {
          throw new TwError("INVALID_INPUT", "The query has no words to search for.", {
            hint: 'Use plain words or identifiers, e.g. "ema_cross BTC", or omit query to list recent items.',
          });
        }
        const stmt = this.db.prepare(
          `SELECT ${COLS}, bm25(memory_fts, 1.0, 2.0, 0.5) AS r FROM memory_fts
           JOIN memory_items m ON m.id = memory_fts.rowid
           WHERE memory_fts MATCH ? AND ${filter} ORDER BY r, m.importance DESC, m.id DESC LIMIT ?`,
        );
        hits = [];
        const seen = new Set<number>();
        for (const mode of terms.length > 1 ? (["all", "any"] as const) : (["all"] as const)) {
          if (hits.length >= q.limit) break;
          const rows = stmt.all(matchExpression(terms, mode), ...params, q.limit + hits.length) as Array<
            Row & { r: number }
          >;
          for (const r of rows) {
            if (seen.has(r.id) || hits.length >= q.limit) continue;
            seen.add(r.id);
            hits.push({ row: r, score: Math.round(-r.r * 1e4) / 1e4 });
          }
        }
      } else {
        const rows = this.db
          .prepare(
            `SELECT ${COLS} FROM memory_items m WHERE ${filter} ORDER BY m.created_at DESC, m.id DESC LIMIT ?`,
          )
          .all(...params, q.limit) as Row[];
        hits = rows.map((row) => ({ row, score: null }));
      }
      const now = this.clock.now();
      const bump = this.db.prepare(
        "UPDATE memory_items SET usage_count = usage_count + 1, last_used_at = ? WHERE id = ?",
      );
      return hits.map(({ row, score }) => {
        bump.run(now, row.id);
        return { ...toItem({ ...row, usage_count: row.usage_count + 1, last_used_at: now }), score };
      });
    })();
  }

  /** Counts for the status provider. */
  stats(): { items: number; disabled: number } {
    return this.db
      .prepare("SELECT count(*) AS items, coalesce(sum(disabled), 0) AS disabled FROM memory_items")
      .get() as { items: number; disabled: number };
  }
}
