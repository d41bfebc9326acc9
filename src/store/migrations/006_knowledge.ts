import type { Migration } from "./index.js";

/**
 * Knowledge (DESIGN.md §7): RAG files/chunks with a contentless FTS5 index, optional chunk
 * embeddings, and audited memory items with their own FTS5 index.
 *
 * FTS tables are contentless (`content=''`): the raw text lives once, in rag_chunks / memory_items,
 * and the index holds a transformed copy (CJK spaced into single-character tokens, identifier parts in
 * `aux`), see src/knowledge/text.ts. `contentless_delete=1` (SQLite ≥ 3.43) lets a changed file's
 * chunks be removed by rowid. Tokenizer: unicode61 with `_` as a token character (identifiers stay
 * whole); justification in docs/knowledge-and-memory.md.
 */
export const m006Knowledge: Migration = {
  version: 6,
  name: "knowledge",
  up: `
CREATE TABLE rag_files (
  path TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  indexed_at INTEGER NOT NULL
);
CREATE TABLE rag_chunks (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  ord INTEGER NOT NULL,
  heading TEXT NOT NULL,
  line_start INTEGER NOT NULL,
  line_end INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX rag_chunks_path ON rag_chunks(path, ord);
CREATE VIRTUAL TABLE rag_fts USING fts5(
  title, body, aux,
  content='', contentless_delete=1,
  tokenize="unicode61 remove_diacritics 2 tokenchars '_'"
);
CREATE VIRTUAL TABLE rag_vocab USING fts5vocab(rag_fts, 'row');
CREATE TABLE rag_embeddings (
  chunk_id INTEGER PRIMARY KEY REFERENCES rag_chunks(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  vec BLOB NOT NULL
);

CREATE TABLE memory_items (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('observation','strategy_evidence','decision','note')),
  text TEXT NOT NULL,
  tags TEXT NOT NULL,
  confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
  importance INTEGER NOT NULL CHECK (importance BETWEEN 1 AND 5),
  source TEXT,
  author TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  usage_count INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  disabled INTEGER NOT NULL DEFAULT 0,
  disabled_reason TEXT,
  disabled_by TEXT,
  disabled_at INTEGER,
  idempotency_key TEXT,
  payload_hash TEXT NOT NULL,
  UNIQUE (author, idempotency_key)
);
CREATE INDEX memory_items_created ON memory_items(created_at);
CREATE VIRTUAL TABLE memory_fts USING fts5(
  text, tags, aux,
  content='',
  tokenize="unicode61 remove_diacritics 2 tokenchars '_'"
);
`,
};
