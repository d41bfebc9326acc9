import { z } from "zod";
import { TwError } from "../errors.js";
import { MEMORY_KINDS } from "../knowledge/memory.js";
import { defineTool } from "./registry.js";

/**
 * knowledge toolset (rag_search, memory_search, rag_reindex) and memory toolset (memory_write,
 * memory_disable): thin adapters over src/knowledge (DESIGN.md §7).
 */

const ragHit = z.object({
  path: z.string(),
  heading: z.string(),
  line_start: z.number().int(),
  line_end: z.number().int(),
  match_line: z.number().int(),
  score: z.number(),
  snippet: z.string(),
  matched: z.enum(["all", "some", "title", "semantic"]),
});

const memoryItem = z.object({
  id: z.number().int(),
  kind: z.enum(MEMORY_KINDS),
  text: z.string(),
  tags: z.array(z.string()),
  confidence: z.number(),
  importance: z.number().int(),
  source: z.string().nullable(),
  author: z.string(),
  created_at: z.number(),
  usage_count: z.number().int(),
  last_used_at: z.number().nullable(),
  disabled: z.boolean(),
  disabled_reason: z.string().nullable(),
  disabled_by: z.string().nullable(),
  disabled_at: z.number().nullable(),
  score: z.number().nullable(),
});

const tag = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}_:.\-/]+$/u, "tags are single words: letters, digits, _ : . - /");

const time = z.union([z.number().int(), z.iso.datetime({ offset: true })]);

/** knowledge + memory tools. */
export const knowledgeTools = [
  defineTool({
    name: "rag_search",
    toolset: "knowledge",
    title: "Search the knowledge docs",
    description:
      "Full-text search (bm25) over the knowledge folder (by default tradewarden's own guide: gate, error codes, limits, cycle, precision). Hits best first, each a citation (path, heading, lines) with a snippet; a trailing * matches a prefix.",
    scope: "knowledge:read",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        query: z.string().min(1).max(2000),
        limit: z.number().int().min(1).max(20).default(5),
      })
      .strict(),
    output: z.object({
      query: z.string(),
      terms: z.array(z.string()),
      results: z.array(ragHit),
      indexed_chunks: z.number().int(),
      message: z.string().nullable(),
    }),
    summarize: (r) => ({ hits: r.results.length, top: r.results[0]?.path ?? null }),
    handler: async (args, { app }) => ({
      query: args.query,
      ...(await app.knowledge.search(args.query, args.limit)),
    }),
  }),
  defineTool({
    name: "rag_reindex",
    toolset: "knowledge",
    title: "Re-index the knowledge folder",
    description:
      "Operator only. Brings the search index in line with the knowledge folder (TW_KNOWLEDGE_DIR): new and changed " +
      "files (by content hash) are re-chunked, unchanged files skipped, deleted files removed. Indexes .md, " +
      ".markdown, .mdx and .txt files (≤ 5 MB each). Reports counts and skipped files. Idempotent: a second run " +
      "with no file changes changes nothing. Reports progress per file; cancellable (files done stay indexed).",
    scope: "knowledge:admin",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: z.object({}).strict(),
    output: z.object({
      dir: z.string(),
      files_seen: z.number().int(),
      files_indexed: z.number().int(),
      files_unchanged: z.number().int(),
      files_removed: z.number().int(),
      chunks_added: z.number().int(),
      chunks_removed: z.number().int(),
      skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
      embedded: z.number().int().nullable(),
      duration_ms: z.number(),
      finished_at: z.number(),
    }),
    facts: () => ({ mutating: true, exposure: "none" }),
    handler: async (_args, { app, signal, progress }) => {
      return app.knowledge.reindex({
        signal,
        onFile: (done, total) => void progress(done, total, `indexed ${done}/${total} files`).catch(() => {}),
      });
    },
  }),
  defineTool({
    name: "memory_search",
    toolset: "knowledge",
    title: "Search agent memory",
    description:
      "Finds memory items (observations, strategy_evidence cards from every backtest, decisions, notes) by text (bm25) and filters: kind, tags (all must match), min_confidence, since. Without query: newest first. Disabled items are not returned.",
    scope: "knowledge:read",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        query: z.string().max(2000).optional(),
        kind: z.enum(MEMORY_KINDS).optional(),
        tags: z.array(tag).max(20).optional(),
        min_confidence: z.number().min(0).max(1).optional(),
        since: time.optional(),
        include_disabled: z.boolean().default(false),
        limit: z.number().int().min(1).max(50).default(10),
      })
      .strict(),
    output: z.object({ items: z.array(memoryItem), message: z.string().nullable() }),
    summarize: (r) => ({ ids: r.items.map((i) => i.id) }),
    handler: async (args, { app, caller }) => {
      if (args.include_disabled && caller.profile !== "operator") {
        throw new TwError("FORBIDDEN_SCOPE", "include_disabled is for operators only.", {
          hint: "Search without include_disabled; disabled items were withdrawn on purpose.",
          details: { profile: caller.profile },
        });
      }
      const items = app.knowledge.memory.search({
        query: args.query,
        kind: args.kind,
        tags: args.tags,
        minConfidence: args.min_confidence,
        since:
          args.since === undefined
            ? undefined
            : typeof args.since === "number"
              ? args.since
              : Date.parse(args.since),
        includeDisabled: args.include_disabled,
        limit: args.limit,
      });
      return {
        items,
        message:
          items.length > 0
            ? null
            : "No memory items match; relax the filters or record one with memory_write.",
      };
    },
  }),
  defineTool({
    name: "memory_write",
    toolset: "memory",
    title: "Record a memory item",
    description:
      "Records an item for memory_search (kind, text, tags, confidence, importance, source); you are the author; audited. Idempotent by idempotency_key. Items are never deleted: use memory_disable.",
    scope: "memory:write",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: z
      .object({
        kind: z.enum(MEMORY_KINDS),
        text: z.string().min(1).max(8000),
        tags: z.array(tag).max(20).default([]),
        confidence: z.number().min(0).max(1).default(0.5),
        importance: z.number().int().min(1).max(5).default(3),
        source: z.string().min(1).max(200).optional(),
        idempotency_key: z.string().min(1).max(200).optional(),
      })
      .strict(),
    output: z.object({ id: z.number().int(), replayed: z.boolean() }),
    facts: () => ({ mutating: true, exposure: "none" }),
    handler: async (args, { app, caller }) => {
      const r = app.knowledge.memory.write({
        kind: args.kind,
        text: args.text,
        tags: args.tags,
        confidence: args.confidence,
        importance: args.importance,
        source: args.source ?? null,
        author: caller.id,
        idempotencyKey: args.idempotency_key ?? null,
      });
      return { id: r.id, replayed: !r.created };
    },
  }),
  defineTool({
    name: "memory_disable",
    toolset: "memory",
    title: "Disable a memory item",
    description:
      "Withdraws a wrong or outdated memory item: it stays stored with the reason (audit trail) but memory_search no longer returns it. Idempotent.",
    scope: "memory:write",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: z
      .object({
        id: z.number().int().positive(),
        reason: z.string().min(1).max(500),
      })
      .strict(),
    output: z.object({
      id: z.number().int(),
      disabled: z.boolean(),
      already_disabled: z.boolean(),
      reason: z.string().nullable(),
      disabled_by: z.string().nullable(),
      disabled_at: z.number().nullable(),
    }),
    facts: () => ({ mutating: true, exposure: "none" }),
    handler: async (args, { app, caller }) => {
      const { item, alreadyDisabled } = app.knowledge.memory.disable(args.id, args.reason, caller.id);
      return {
        id: item.id,
        disabled: item.disabled,
        already_disabled: alreadyDisabled,
        reason: item.disabled_reason,
        disabled_by: item.disabled_by,
        disabled_at: item.disabled_at,
      };
    },
  }),
];
