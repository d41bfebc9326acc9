import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { RawCycle } from "./cycles.js";
import type { Db } from "./db.js";

/**
 * Cycle blocks (migration 015): a replay's older compacted cycles moved out of `cycles`, 60 at a
 * time, into one deflated row of `cycle_blocks`. Issue 15 asks a replay file to grow ≤ 1 KB a cycle;
 * a compacted row with its two index entries and page slack took ≈ 460 bytes of a 7-day file, the
 * same row in a block ≈ 130 (its 14–17 doubles are most of that: they do not compress). Every
 * reader of src/store/cycles.ts reads blocks and rows as one history, so a blocked cycle reads back
 * exactly as its compacted row did (same strings, same doubles bit for bit, same BLOB).
 *
 * Only a replay's own database blocks cycles (src/engine/replay.ts), and only the oldest compacted
 * ones: a block always holds cycles older (by `ts` and by id) than every cycle left in `cycles` and
 * newer than every earlier block, so history stays in one order and an id maps to at most one block.
 */

/** Cycles per block: an hour of 1-minute cycles (a block per 60 or per 1,440 rows deflates alike). */
export const CYCLE_BLOCK_ROWS = 60;

/** Text columns of a cycle row, stored column by column in a block's JSON head. */
const TEXT = [
  "id",
  "venue",
  "status",
  "mode",
  "equity",
  "features",
  "target",
  "approved",
  "plan",
  "report",
] as const;

/** A block's JSON head: times as deltas (1-minute cycles deflate to almost nothing), text by column. */
interface Head {
  /** `ts` of the first cycle, then each cycle's `ts` minus the previous one's (ms). */
  ts: number[];
  /** `finished_at - ts` (ms), or null for a cycle without a finish time. */
  fin: Array<number | null>;
  /** Per text column, one value per cycle. */
  text: Array<Array<string | null>>;
  /** `current_weights`: a BLOB's byte length (its bytes are in the binary part), or the JSON text. */
  w: Array<number | string>;
  /** True when the binary part is byte-shuffled (every row's part has the same length). */
  shuffled?: boolean;
}

/**
 * The block bytes of `rows` (oldest first): deflate-raw of a u32 LE head length, the JSON {@link Head},
 * then the binary part: per row gross, net and turnover as Float64 LE followed by its
 * `current_weights` BLOB. Doubles go in binary because their shortest decimals (≈ 19 characters)
 * deflate worse than their 8 bytes. When every row's binary part has the same length (the usual
 * case: the same symbols each cycle) it is stored byte-shuffled (`Head.shuffled`): byte j of every
 * row's word i together, as HDF5's and Blosc's shuffle filter does, so the sign and exponent bytes,
 * nearly the same from one cycle to the next, sit side by side and deflate well (−12 bytes a cycle).
 */
export function encodeBlock(rows: RawCycle[]): Buffer {
  const head: Head = { ts: [], fin: [], text: TEXT.map(() => []), w: [] };
  const parts: Buffer[] = [];
  let prev = 0;
  for (const r of rows) {
    head.ts.push(head.ts.length === 0 ? r.ts : r.ts - prev);
    prev = r.ts;
    head.fin.push(r.finished_at === null ? null : r.finished_at - r.ts);
    TEXT.forEach((c, i) => {
      head.text[i].push(r[c]);
    });
    const figures = Buffer.alloc(24);
    figures.writeDoubleLE(r.gross, 0);
    figures.writeDoubleLE(r.net, 8);
    figures.writeDoubleLE(r.turnover, 16);
    if (typeof r.current_weights === "string") {
      head.w.push(r.current_weights);
      parts.push(figures);
    } else {
      head.w.push(r.current_weights.length);
      parts.push(Buffer.concat([figures, r.current_weights]));
    }
  }
  const width = parts[0]?.length ?? 0;
  if (parts.every((p) => p.length === width)) head.shuffled = true;
  const binary = head.shuffled ? shuffle(parts, width) : Buffer.concat(parts);
  const json = Buffer.from(JSON.stringify(head));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return deflateRawSync(Buffer.concat([length, json, binary]), { level: 9 });
}

/** `n` rows of `width` bytes each, byte k of every row together (k = 0 … width − 1). */
function shuffle(rows: Buffer[], width: number): Buffer {
  const out = Buffer.alloc(rows.length * width);
  rows.forEach((row, r) => {
    for (let k = 0; k < width; k++) out[k * rows.length + r] = row[k];
  });
  return out;
}

/** The inverse of {@link shuffle}: `n` rows of `width` bytes each, one after the other. */
function unshuffle(shuffled: Buffer, n: number, width: number): Buffer {
  const out = Buffer.allocUnsafe(n * width);
  for (let r = 0; r < n; r++) for (let k = 0; k < width; k++) out[r * width + k] = shuffled[k * n + r];
  return out;
}

/** A block's inflated bytes and its JSON head. @throws on a corrupt block. */
function readHead(block: Buffer): { bytes: Buffer; head: Head; headLength: number } {
  const bytes = inflateRawSync(block);
  const headLength = bytes.readUInt32LE(0);
  return { bytes, head: JSON.parse(bytes.subarray(4, 4 + headLength).toString()) as Head, headLength };
}

/** The cycles' `ts` (ms UTC) from a head's first time and deltas. */
function times(head: Head): number[] {
  let ts = 0;
  return head.ts.map((d, i) => (ts = i === 0 ? d : ts + d));
}

/** The blocks that may hold a cycle with `from <= ts <= to` (ms UTC), oldest first. */
function blocksBetween(db: Db, from: number, to: number): IterableIterator<{ rows: Buffer }> {
  return db
    .prepare("SELECT rows FROM cycle_blocks WHERE last_ts >= ? AND first_ts <= ? ORDER BY first_ts")
    .iterate(from, to) as IterableIterator<{ rows: Buffer }>;
}

/** The rows of a block written by {@link encodeBlock}, oldest first. @throws on a corrupt block. */
export function decodeBlock(block: Buffer): RawCycle[] {
  const { bytes, head, headLength } = readHead(block);
  const n = head.ts.length;
  const tail = bytes.subarray(4 + headLength);
  // One buffer for the block's binary part; each row's BLOB is a view of it (one allocation a
  // block instead of one a row; the rows are read and dropped together).
  const binary = head.shuffled ? unshuffle(tail, n, tail.length / n) : tail;
  let at = 0;
  return times(head).map((ts, i) => {
    const w = head.w[i];
    const blob = typeof w === "string" ? 0 : w;
    const row = Object.fromEntries(TEXT.map((c, k) => [c, head.text[k][i]])) as Pick<
      RawCycle,
      (typeof TEXT)[number]
    >;
    const fin = head.fin[i];
    const out: RawCycle = {
      ...row,
      ts,
      gross: binary.readDoubleLE(at),
      net: binary.readDoubleLE(at + 8),
      turnover: binary.readDoubleLE(at + 16),
      current_weights: typeof w === "string" ? w : binary.subarray(at + 24, at + 24 + blob),
      finished_at: fin === null ? null : ts + fin,
    };
    at += 24 + blob;
    return out;
  });
}

/** True for a row {@link blockCycles} may move: finished and compacted (`plan` `{}`). */
const isCompacted = (r: RawCycle) => r.status !== "planned" && r.plan === "{}";

/**
 * Moves the oldest cycles with `ts < before` (ms UTC) into blocks of {@link CYCLE_BLOCK_ROWS} while
 * more than that many are there, so the newest such cycle always stays a row (the next cycle's
 * fallback event reads its predecessor's row, src/store/cycles.ts `appendFallbackEvent`). Stops at
 * a block that is not all compacted or whose ids do not ascend with `ts` past the previous block's
 * (history order and the id lookup rely on both); those cycles simply stay rows. The caller passes
 * the bound below which every finished cycle is compacted and runs this inside its transaction.
 * @returns the number of cycles moved.
 */
export function blockCycles(db: Db, before: number): number {
  const count = db.prepare("SELECT COUNT(*) AS n FROM cycles WHERE ts < ?");
  const oldest = db.prepare("SELECT * FROM cycles WHERE ts < ? ORDER BY ts LIMIT ?");
  const last = db.prepare("SELECT last_ts, last_id FROM cycle_blocks ORDER BY first_ts DESC LIMIT 1");
  const insert = db.prepare(
    "INSERT INTO cycle_blocks (first_ts, last_ts, first_id, last_id, n, finished, rows) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const del = db.prepare("DELETE FROM cycles WHERE id = ?");
  let moved = 0;
  while ((count.get(before) as { n: number }).n > CYCLE_BLOCK_ROWS) {
    const rows = oldest.all(before, CYCLE_BLOCK_ROWS) as RawCycle[];
    const prev = last.get() as { last_ts: number; last_id: string } | undefined;
    let ordered = prev === undefined || (rows[0].ts > prev.last_ts && rows[0].id > prev.last_id);
    for (let i = 1; i < rows.length && ordered; i++)
      ordered = rows[i].ts > rows[i - 1].ts && rows[i].id > rows[i - 1].id;
    if (!ordered || !rows.every(isCompacted)) return moved;
    const first = rows[0];
    const end = rows[rows.length - 1];
    const finished = rows.filter((r) => r.finished_at !== null).length;
    insert.run(first.ts, end.ts, first.id, end.id, rows.length, finished, encodeBlock(rows));
    for (const r of rows) del.run(r.id);
    moved += rows.length;
  }
  return moved;
}

/** The blocked cycle with this id, if a block holds it. */
export function blockedCycle(db: Db, id: string): RawCycle | undefined {
  const b = db
    .prepare("SELECT rows FROM cycle_blocks WHERE last_id >= ? AND first_id <= ? ORDER BY last_id LIMIT 1")
    .get(id, id) as { rows: Buffer } | undefined;
  return b ? decodeBlock(b.rows).find((r) => r.id === id) : undefined;
}

/** Every blocked cycle with `from <= ts <= to` (ms UTC), oldest first. */
export function* blockedCycles(db: Db, from = 0, to = Number.MAX_SAFE_INTEGER): Generator<RawCycle> {
  for (const b of blocksBetween(db, from, to))
    for (const r of decodeBlock(b.rows)) if (r.ts >= from && r.ts <= to) yield r;
}

/** Up to `limit` blocked cycles with `ts >= since` (ms UTC), newest first. */
export function newestBlockedCycles(db: Db, limit: number, since = 0): RawCycle[] {
  const out: RawCycle[] = [];
  const blocks = db
    .prepare("SELECT rows FROM cycle_blocks WHERE last_ts >= ? ORDER BY first_ts DESC")
    .iterate(since) as IterableIterator<{ rows: Buffer }>;
  for (const b of blocks) {
    const rows = decodeBlock(b.rows);
    for (let i = rows.length - 1; i >= 0 && out.length < limit; i--)
      if (rows[i].ts >= since) out.push(rows[i]);
    // Leaving the loop ends the statement (for-of calls the iterator's return).
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Id, `ts` and `target` JSON of every blocked cycle with `from <= ts <= to` (ms UTC), oldest first:
 * what the decision counts read, without building whole rows.
 */
export function* blockedTargets(
  db: Db,
  from: number,
  to: number,
): Generator<{ id: string; ts: number; target: string }> {
  const idAt = TEXT.indexOf("id");
  const targetAt = TEXT.indexOf("target");
  for (const b of blocksBetween(db, from, to)) {
    const { head } = readHead(b.rows);
    for (const [i, ts] of times(head).entries())
      if (ts >= from && ts <= to)
        yield { id: head.text[idAt][i] as string, ts, target: head.text[targetAt][i] as string };
  }
}
