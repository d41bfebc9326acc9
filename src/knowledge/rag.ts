import { createHash } from "node:crypto";
import { type Dirent, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import type { Clock } from "../clock.js";
import { TwError } from "../errors.js";
import type { Db } from "../store/db.js";
import { type ChunkOptions, chunkDocument, DEFAULT_CHUNK_OPTIONS } from "./chunker.js";
import {
  auxText,
  isCommonOnly,
  makeSnippet,
  matchExpression,
  parseQuery,
  type QueryTerm,
  spaceCjk,
} from "./text.js";

/**
 * The RAG index (DESIGN.md §7): markdown/text files under a knowledge directory, chunked by heading
 * (src/knowledge/chunker.ts), indexed in FTS5 and ranked by bm25, returned with citations.
 * Re-indexing is incremental by content hash: unchanged files are skipped (their chunk ids stay),
 * changed files are re-chunked, files gone from the directory are removed.
 */

/** File extensions indexed; `.md`, `.markdown` and `.mdx` are split by heading. */
export const INDEXED_EXTENSIONS: ReadonlySet<string> = new Set([".md", ".markdown", ".mdx", ".txt"]);
const MARKDOWN = new Set([".md", ".markdown", ".mdx"]);
/** Files above this size (bytes) are skipped and reported, not indexed. */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;
/** Bumped when chunking or index text changes, so every file is re-chunked once. */
const INDEX_VERSION = "rag-v1";
/**
 * bm25 column weights (title, body, aux). The title (path words + heading path) is short and says
 * what a section is about, so a hit there counts 4×; identifier parts in aux are a recall aid only.
 */
const BM25 = "bm25(rag_fts, 4.0, 1.0, 1.0)";
/**
 * A query of common words only is ranked among its first this-many matches (index order), so a lone
 * "the" costs the same as a specific query instead of scoring most of the index.
 */
export const COMMON_CANDIDATES = 2_000;
/**
 * In the any-word fallback, words found in more than this fraction of chunks are left out (when
 * other words remain): a chunk sharing only "order" with the query is no answer, and scoring every
 * such chunk is what makes the fallback slow on a large index.
 */
export const FALLBACK_MAX_DF = 0.2;

/** One search hit with its citation. Lines are 1-based and inclusive. */
export interface RagHit {
  /** Path relative to the knowledge dir, `/`-separated. */
  path: string;
  /** Heading path of the chunk ("" before the first heading). */
  heading: string;
  line_start: number;
  line_end: number;
  /** Line (within line_start..line_end) where the snippet starts: the line with most query words. */
  match_line: number;
  /** Relevance, higher is better: −bm25 (or the fused score in hybrid mode). */
  score: number;
  /** ≤ 280 characters around the best-matching line. */
  snippet: string;
  /**
   * How the chunk matched: every query word (`all`), only some (`some`), only through its title —
   * file name or heading path, none of the words is in the cited lines (`title`) — or by meaning
   * alone (`semantic`, hybrid mode).
   */
  matched: "all" | "some" | "title" | "semantic";
}

/** Result of {@link RagIndex.search}. `message` explains an empty result. */
export interface RagSearchResult {
  results: RagHit[];
  /** Words actually searched for (after dropping punctuation, syntax and stop words). */
  terms: string[];
  indexed_chunks: number;
  message: string | null;
}

/** What one (re)index run did. */
export interface ReindexReport {
  dir: string;
  files_seen: number;
  files_indexed: number;
  files_unchanged: number;
  files_removed: number;
  chunks_added: number;
  chunks_removed: number;
  /** Files not indexed, with the reason (too large, unreadable). */
  skipped: Array<{ path: string; reason: string }>;
  duration_ms: number;
  /** ms UTC. */
  finished_at: number;
}

/** A stored chunk as read back for hybrid ranking and snippets. */
export interface ChunkRow {
  id: number;
  path: string;
  heading: string;
  line_start: number;
  line_end: number;
  text: string;
}

/** Turns a relative path into title words: `jesse-docs/monte-carlo_index.md` → `jesse docs monte carlo index`. */
function pathWords(path: string): string {
  return path.replace(/\.[a-z]+$/i, "").replace(/[-_/.\\]+/g, " ");
}

function walk(dir: string, out: string[]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile() && INDEXED_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
  }
}

/** The FTS5 + SQLite RAG index. One per App; synchronous (better-sqlite3). */
export class RagIndex {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly chunking: ChunkOptions = DEFAULT_CHUNK_OPTIONS,
  ) {}

  private hashOf(text: string): string {
    return createHash("sha256")
      .update(`${INDEX_VERSION}:${this.chunking.maxChars}:${this.chunking.overlapChars}\n`)
      .update(text)
      .digest("hex");
  }

  /**
   * Indexes one document under `path` unless it is unchanged (same content hash).
   * @param path relative, `/`-separated (the citation path). @param text file content.
   * @returns chunks added and removed; both 0 when unchanged.
   */
  indexDocument(path: string, text: string): { changed: boolean; added: number; removed: number } {
    const hash = this.hashOf(text);
    const prev = this.db.prepare("SELECT hash FROM rag_files WHERE path = ?").get(path) as
      | { hash: string }
      | undefined;
    if (prev?.hash === hash) return { changed: false, added: 0, removed: 0 };
    const chunks = chunkDocument(text, MARKDOWN.has(extname(path).toLowerCase()), this.chunking);
    const title = pathWords(path);
    const tx = this.db.transaction(() => {
      const removed = this.deleteChunks(path);
      const insChunk = this.db.prepare(
        "INSERT INTO rag_chunks (path, ord, heading, line_start, line_end, text) VALUES (?, ?, ?, ?, ?, ?)",
      );
      const insFts = this.db.prepare("INSERT INTO rag_fts (rowid, title, body, aux) VALUES (?, ?, ?, ?)");
      chunks.forEach((c, i) => {
        const id = Number(insChunk.run(path, i, c.heading, c.lineStart, c.lineEnd, c.text).lastInsertRowid);
        insFts.run(
          id,
          spaceCjk(`${title} ${c.heading}`),
          spaceCjk(c.text),
          auxText(`${c.heading}\n${c.text}`),
        );
      });
      this.db
        .prepare(
          `INSERT INTO rag_files (path, hash, bytes, chunk_count, indexed_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(path) DO UPDATE SET hash = excluded.hash, bytes = excluded.bytes,
             chunk_count = excluded.chunk_count, indexed_at = excluded.indexed_at`,
        )
        .run(path, hash, Buffer.byteLength(text), chunks.length, this.clock.now());
      return removed;
    });
    const removed = tx();
    return { changed: true, added: chunks.length, removed };
  }

  private deleteChunks(path: string): number {
    const ids = this.db.prepare("SELECT id FROM rag_chunks WHERE path = ?").pluck().all(path) as number[];
    const delFts = this.db.prepare("DELETE FROM rag_fts WHERE rowid = ?");
    for (const id of ids) delFts.run(id);
    this.db.prepare("DELETE FROM rag_chunks WHERE path = ?").run(path);
    return ids.length;
  }

  /** Removes a document and its chunks. @returns chunks removed. */
  removeDocument(path: string): number {
    return this.db.transaction(() => {
      const n = this.deleteChunks(path);
      this.db.prepare("DELETE FROM rag_files WHERE path = ?").run(path);
      return n;
    })();
  }

  /**
   * Brings the index in line with `dir`: new and changed files (by content hash) are re-chunked,
   * unchanged ones skipped, files no longer present removed. Each file commits on its own, so a
   * cancelled run leaves a consistent (partly updated) index.
   * @param onFile progress callback (files done, total).
   * @throws TwError CONFIG_INVALID when `dir` is not a directory; CANCELLED when `signal` aborts.
   */
  reindex(dir: string, opts: { signal?: AbortSignal; onFile?: (done: number, total: number) => void } = {}) {
    const t0 = performance.now();
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new TwError(
        "CONFIG_INVALID",
        `Knowledge directory ${dir} does not exist or is not a directory.`,
        {
          hint: "Set TW_KNOWLEDGE_DIR (or knowledge.dir in tradewarden.config.json) to a folder of .md/.txt files.",
        },
      );
    }
    const files: string[] = [];
    walk(dir, files);
    files.sort();
    const report: ReindexReport = {
      dir,
      files_seen: files.length,
      files_indexed: 0,
      files_unchanged: 0,
      files_removed: 0,
      chunks_added: 0,
      chunks_removed: 0,
      skipped: [],
      duration_ms: 0,
      finished_at: 0,
    };
    const present = new Set<string>();
    files.forEach((abs, i) => {
      if (opts.signal?.aborted) {
        throw new TwError("CANCELLED", `Reindex cancelled after ${i} of ${files.length} files.`, {
          hint: "Files done so far are indexed; run rag_reindex again to finish.",
        });
      }
      const rel = relative(dir, abs).split(sep).join("/");
      present.add(rel);
      try {
        const size = statSync(abs).size;
        if (size > MAX_FILE_BYTES) {
          report.skipped.push({ path: rel, reason: `larger than ${MAX_FILE_BYTES} bytes` });
          return;
        }
        const r = this.indexDocument(rel, readFileSync(abs, "utf8"));
        if (r.changed) report.files_indexed++;
        else report.files_unchanged++;
        report.chunks_added += r.added;
        report.chunks_removed += r.removed;
      } catch (e) {
        report.skipped.push({ path: rel, reason: (e as NodeJS.ErrnoException).code ?? "unreadable" });
      } finally {
        opts.onFile?.(i + 1, files.length);
      }
    });
    const known = this.db.prepare("SELECT path FROM rag_files").pluck().all() as string[];
    for (const p of known) {
      // A skipped (too large / unreadable) file keeps no stale chunks either.
      if (present.has(p) && !report.skipped.some((s) => s.path === p)) continue;
      report.chunks_removed += this.removeDocument(p);
      report.files_removed++;
    }
    report.duration_ms = Math.round(performance.now() - t0);
    report.finished_at = this.clock.now();
    return report;
  }

  /** Files and chunks currently indexed. */
  stats(): { files: number; chunks: number } {
    const r = this.db
      .prepare(
        "SELECT (SELECT count(*) FROM rag_files) AS files, (SELECT count(*) FROM rag_chunks) AS chunks",
      )
      .get() as { files: number; chunks: number };
    return r;
  }

  /** Chunks by id, in the order given (unknown ids are left out). */
  chunksById(ids: readonly number[]): ChunkRow[] {
    const get = this.db.prepare(
      "SELECT id, path, heading, line_start, line_end, text FROM rag_chunks WHERE id = ?",
    );
    return ids.map((id) => get.get(id) as ChunkRow | undefined).filter((r): r is ChunkRow => r !== undefined);
  }

  /**
   * Chunk ids ranked by bm25: those matching every term first, then (when fewer than `limit`) those
   * matching some. `score` = −bm25 (FTS5's bm25 is negative, more negative = better).
   */
  rank(
    terms: readonly QueryTerm[],
    limit: number,
  ): Array<{ id: number; score: number; matched: "all" | "some" }> {
    const stmt = isCommonOnly(terms)
      ? this.db.prepare(
          `SELECT id, r FROM (SELECT rowid AS id, ${BM25} AS r FROM rag_fts WHERE rag_fts MATCH ?
             LIMIT ${COMMON_CANDIDATES}) ORDER BY r LIMIT ?`,
        )
      : this.db.prepare(
          `SELECT rowid AS id, ${BM25} AS r FROM rag_fts WHERE rag_fts MATCH ? ORDER BY r LIMIT ?`,
        );
    const out: Array<{ id: number; score: number; matched: "all" | "some" }> = [];
    const seen = new Set<number>();
    const modes: Array<"all" | "some"> = terms.length > 1 ? ["all", "some"] : ["all"];
    for (const mode of modes) {
      if (out.length >= limit) break;
      const use = mode === "all" ? terms : this.selective(terms);
      const rows = stmt.all(
        matchExpression(use, mode === "all" ? "all" : "any"),
        limit + out.length,
      ) as Array<{
        id: number;
        r: number;
      }>;
      for (const row of rows) {
        if (seen.has(row.id) || out.length >= limit) continue;
        seen.add(row.id);
        out.push({ id: row.id, score: Math.round(-row.r * 1e4) / 1e4, matched: mode });
      }
    }
    return out;
  }

  /** Terms without the very common single words (document frequency > FALLBACK_MAX_DF), if any remain. */
  private selective(terms: readonly QueryTerm[]): readonly QueryTerm[] {
    const total = this.stats().chunks;
    const df = this.db.prepare("SELECT doc FROM rag_vocab WHERE term = ?").pluck();
    const kept = terms.filter((t) => {
      const m = /^"([^\s"]+)"$/.exec(t.fts);
      if (!m) return true; // phrases and prefixes are selective enough
      return ((df.get(m[1].toLowerCase()) as number | undefined) ?? 0) <= total * FALLBACK_MAX_DF;
    });
    return kept.length > 0 ? kept : terms;
  }

  /**
   * Full-text search with citations.
   * @param query free text; FTS5 syntax in it is neutralised (see parseQuery).
   * @param limit 1..20 hits.
   * @throws TwError INVALID_INPUT when the query has no word characters.
   */
  search(query: string, limit: number): RagSearchResult {
    const terms = parseQuery(query);
    if (terms.length === 0) {
      throw new TwError("INVALID_INPUT", "The query has no words to search for.", {
        hint: 'Use plain words, identifiers or numbers, e.g. "funding rate" or "szDecimals".',
      });
    }
    const ranked = this.rank(terms, limit);
    const rows = new Map(this.chunksById(ranked.map((r) => r.id)).map((c) => [c.id, c]));
    const results = ranked.flatMap((r) => {
      const c = rows.get(r.id);
      return c ? [this.toHit(c, terms, r.score, r.matched)] : [];
    });
    return { results, terms: terms.map((t) => t.raw), ...this.emptyMessage(results.length, query) };
  }

  /** Builds a hit (citation + snippet) for a chunk. */
  toHit(c: ChunkRow, terms: readonly QueryTerm[], score: number, matched: RagHit["matched"]): RagHit {
    const s = makeSnippet(c.text.split("\n"), c.line_start, terms);
    return {
      path: c.path,
      heading: c.heading,
      line_start: c.line_start,
      line_end: c.line_end,
      match_line: Math.min(s.line, c.line_end),
      score,
      snippet: s.snippet,
      matched: s.hits === 0 && matched === "all" ? "title" : matched,
    };
  }

  /** `indexed_chunks` and the explanation of an empty result. */
  emptyMessage(hits: number, query: string): { indexed_chunks: number; message: string | null } {
    const { chunks } = this.stats();
    if (hits > 0) return { indexed_chunks: chunks, message: null };
    if (chunks === 0) {
      return {
        indexed_chunks: 0,
        message:
          "The knowledge index is empty. An operator can run rag_reindex (or restart the server) after pointing " +
          "TW_KNOWLEDGE_DIR at a folder of .md/.txt files.",
      };
    }
    return {
      indexed_chunks: chunks,
      message: `No matches for "${query.slice(0, 80)}" in ${chunks} indexed chunks. Try fewer or other words, or a prefix such as "liquidat*".`,
    };
  }
}
