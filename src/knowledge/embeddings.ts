import type { Db } from "../store/db.js";
import type { Logger } from "../log.js";
import type { RagHit, RagIndex, RagSearchResult } from "./rag.js";
import { parseQuery } from "./text.js";

/**
 * Optional semantic search: an embeddings provider (off by default) and hybrid ranking that fuses
 * the bm25 list with a cosine-similarity list by Reciprocal Rank Fusion (Cormack, Clarke & Büttcher,
 * "Reciprocal Rank Fusion outperforms Condorcet and individual rank learning methods", SIGIR 2009:
 * score(d) = Σ_lists 1 / (k + rank(d)), k = 60). RRF needs no score calibration between bm25 and
 * cosine, and a provider failure falls back to bm25 alone: bm25 always stands on its own.
 */

/** Turns texts into vectors. Implementations: {@link OpenAiEmbeddings}; tests use a local stub. */
export interface EmbeddingsProvider {
  /** Model id stored next to each vector (vectors of another model are ignored and recomputed). */
  readonly model: string;
  /** One vector per text, same order. @throws Error on transport or API failure. */
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

/** Settings of {@link OpenAiEmbeddings}. The API key comes from the environment only. */
export interface OpenAiEmbeddingsOptions {
  /** Base URL of an OpenAI-compatible API, e.g. `http://127.0.0.1:11434/v1`. */
  url: string;
  model: string;
  apiKey?: string;
  /** Per-request timeout, ms. Default 30 000. */
  timeoutMs?: number;
}

/**
 * Client of an OpenAI-compatible `POST {url}/embeddings` endpoint (`{ model, input: string[] }` →
 * `{ data: [{ index, embedding }] }`), as served by OpenAI, Ollama, vLLM, llama.cpp and LiteLLM.
 */
export class OpenAiEmbeddings implements EmbeddingsProvider {
  readonly model: string;
  constructor(private readonly opts: OpenAiEmbeddingsOptions) {
    this.model = opts.model;
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000);
    const res = await fetch(`${this.opts.url.replace(/\/+$/, "")}/embeddings`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
      },
      body: JSON.stringify({ model: this.opts.model, input: texts }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (!res.ok) throw new Error(`embeddings endpoint answered HTTP ${res.status}`);
    const body = (await res.json()) as { data?: Array<{ index: number; embedding: number[] }> };
    if (!Array.isArray(body.data) || body.data.length !== texts.length) {
      throw new Error("embeddings endpoint returned a malformed body");
    }
    return [...body.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
  }
}

/** Cosine similarity of two equal-length vectors; 0 when either is all zeros. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** RRF constant k (Cormack et al. 2009). */
export const RRF_K = 60;

/**
 * Reciprocal Rank Fusion of ranked id lists (best first).
 * @returns ids by fused score, descending (ties: first appearance order), with the score.
 */
export function rrfFuse(
  lists: ReadonlyArray<readonly number[]>,
  k = RRF_K,
): Array<{ id: number; score: number }> {
  const scores = new Map<number, number>();
  for (const list of lists) {
    list.forEach((id, rank) => {
      scores.set(id, (scores.get(id) ?? 0) + 1 / (k + rank + 1));
    });
  }
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

/**
 * Embeds every chunk that has no vector for the provider's model, in batches of 64.
 * @returns number of chunks embedded.
 * @throws whatever the provider throws (the caller logs it; bm25 keeps working).
 */
export async function embedMissing(
  db: Db,
  provider: EmbeddingsProvider,
  signal?: AbortSignal,
): Promise<number> {
  const todo = db
    .prepare(
      `SELECT c.id, c.heading, c.text FROM rag_chunks c LEFT JOIN rag_embeddings e
         ON e.chunk_id = c.id AND e.model = ? WHERE e.chunk_id IS NULL ORDER BY c.id`,
    )
    .all(provider.model) as Array<{ id: number; heading: string; text: string }>;
  const put = db.prepare(
    "INSERT INTO rag_embeddings (chunk_id, model, vec) VALUES (?, ?, ?) ON CONFLICT(chunk_id) DO UPDATE SET model = excluded.model, vec = excluded.vec",
  );
  let done = 0;
  for (let i = 0; i < todo.length; i += 64) {
    signal?.throwIfAborted();
    const batch = todo.slice(i, i + 64);
    const vecs = await provider.embed(
      batch.map((c) => `${c.heading}\n${c.text}`),
      signal,
    );
    db.transaction(() => {
      batch.forEach((c, j) => {
        // A chunk re-indexed while we awaited is gone (FK) or has a new id: skip quietly.
        const exists = db.prepare("SELECT 1 FROM rag_chunks WHERE id = ?").get(c.id);
        if (exists) put.run(c.id, provider.model, Buffer.from(new Float32Array(vecs[j]).buffer));
      });
    })();
    done += batch.length;
  }
  return done;
}

/** Top `n` chunk ids by cosine similarity to `q` among vectors of `model` (brute force); similarity ≤ 0 is no match. */
export function nearest(db: Db, model: string, q: readonly number[], n: number): number[] {
  const scored: Array<{ id: number; s: number }> = [];
  const rows = db
    .prepare("SELECT chunk_id, vec FROM rag_embeddings WHERE model = ?")
    .iterate(model) as Iterable<{
    chunk_id: number;
    vec: Buffer;
  }>;
  for (const r of rows) {
    const v = new Float32Array(r.vec.buffer, r.vec.byteOffset, r.vec.byteLength / 4);
    const s = cosine(q, v);
    if (s > 0) scored.push({ id: r.chunk_id, s });
  }
  return scored
    .sort((a, b) => b.s - a.s)
    .slice(0, n)
    .map((x) => x.id);
}

/**
 * Hybrid search: bm25 list (top 50) fused with the cosine list (top 50) by RRF; `score` is the fused
 * score. On a provider failure the bm25 result is returned with a note in `message`.
 */
export async function hybridSearch(
  rag: RagIndex,
  db: Db,
  provider: EmbeddingsProvider,
  query: string,
  limit: number,
  log?: Logger,
): Promise<RagSearchResult> {
  const lexical = rag.search(query, limit); // validates the query; the fallback answer
  const terms = parseQuery(query);
  let qvec: number[];
  try {
    [qvec] = await provider.embed([query]);
  } catch (err) {
    log?.warn({ err }, "embeddings provider failed; answering with bm25 only");
    return { ...lexical, message: lexical.message ?? "Semantic ranking unavailable; results are bm25 only." };
  }
  const bm = rag.rank(terms, 50);
  const matched = new Map(bm.map((r) => [r.id, r.matched]));
  const fused = rrfFuse([bm.map((r) => r.id), nearest(db, provider.model, qvec, 50)]).slice(0, limit);
  const rows = new Map(rag.chunksById(fused.map((f) => f.id)).map((c) => [c.id, c]));
  const results: RagHit[] = fused.flatMap((f) => {
    const c = rows.get(f.id);
    return c ? [rag.toHit(c, terms, Math.round(f.score * 1e6) / 1e6, matched.get(f.id) ?? "semantic")] : [];
  });
  return { results, terms: lexical.terms, ...rag.emptyMessage(results.length, query) };
}
