import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { SimClock } from "../clock.js";
import { dataDir } from "../exchange/replay/embedded.js";
import { defaultKnowledgeDir } from "../knowledge/component.js";
import { INDEXED_EXTENSIONS, RagIndex } from "../knowledge/rag.js";
import { openDb } from "../store/db.js";

/**
 * Benchmark of rag_search (issue 7): latency percentiles of RagIndex.search over the knowledge corpus
 * replicated until the index holds ≥ 50 000 chunks, against a baseline measured in the same run on
 * one copy of the corpus. Target: p99 < 10 ms at ≥ 50 000 chunks. The corpus is data/knowledge
 * when present (the workspace's real docs), else the shipped docs/knowledge.
 */

/** Queries timed (a mix of single words, phrases, identifiers and misses). */
const QUERIES = [
  "funding rate",
  "stop loss take profit",
  "Monte Carlo",
  "szDecimals",
  "rate limit",
  "overfitting",
  "agent wallet",
  "risk_to_qty",
  "sharpe ratio",
  "websocket transport",
  "market order slippage",
  "how do I size a position with leverage",
  "order",
  "the",
  "zzqqxx nothing",
];

/** Options of {@link run}. */
export interface RagBenchOptions {
  /** Minimum chunks in the replicated index. Default 50 000. */
  minChunks?: number;
  /** Timed rounds over all queries per index. Default 40. */
  rounds?: number;
  /** Corpus folder. Default: data/knowledge if it exists, else docs/knowledge. */
  corpus?: string;
}

function corpusDir(): string {
  const shipped = join(dataDir(), "knowledge");
  return existsSync(shipped) ? shipped : defaultKnowledgeDir();
}

function readCorpus(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (INDEXED_EXTENSIONS.has(extname(name).toLowerCase())) {
        out.push({ path: relative(dir, p).split(sep).join("/"), text: readFileSync(p, "utf8") });
      }
    }
  };
  walk(dir);
  return out;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function time(rag: RagIndex, rounds: number): { p50: number; p99: number; max: number; n: number } {
  for (const q of QUERIES) rag.search(q, 10); // warm-up: statement cache and page cache
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const q of QUERIES) {
      const t0 = performance.now();
      rag.search(q, 10);
      ms.push(performance.now() - t0);
    }
  }
  ms.sort((a, b) => a - b);
  return { p50: pct(ms, 50), p99: pct(ms, 99), max: ms[ms.length - 1], n: ms.length };
}

/**
 * Runs the benchmark.
 * @returns a printable multi-line report (data size, baseline and replicated p50/p99, ratio, verdict).
 */
export async function run(opts: RagBenchOptions = {}): Promise<string> {
  const minChunks = opts.minChunks ?? 50_000;
  const rounds = opts.rounds ?? 40;
  const dir = opts.corpus ?? corpusDir();
  const docs = readCorpus(dir);
  const clock = new SimClock(0);

  const baseDb = openDb(":memory:");
  const base = new RagIndex(baseDb, clock);
  for (const d of docs) base.indexDocument(d.path, d.text);
  const baseChunks = base.stats().chunks;
  if (baseChunks === 0) return `rag_search bench: corpus ${dir} has no indexable files`;
  const baseT = time(base, rounds);
  baseDb.close();

  const db = openDb(":memory:");
  const rag = new RagIndex(db, clock);
  const t0 = performance.now();
  for (let copy = 0; rag.stats().chunks < minChunks; copy++) {
    db.transaction(() => {
      for (const d of docs) rag.indexDocument(`copy${copy}/${d.path}`, `${d.text}\n<!-- copy ${copy} -->\n`);
    })();
  }
  const indexMs = performance.now() - t0;
  const { chunks, files } = rag.stats();
  const big = time(rag, rounds);
  db.close();

  const f = (x: number) => x.toFixed(3);
  return [
    `rag_search (FTS5 bm25, limit 10, ${QUERIES.length} queries × ${rounds} rounds)`,
    `  corpus: ${dir}`,
    `  baseline  ${baseChunks} chunks: p50 ${f(baseT.p50)} ms  p99 ${f(baseT.p99)} ms  max ${f(baseT.max)} ms`,
    `  replicated ${chunks} chunks (${files} files, indexed in ${(indexMs / 1000).toFixed(1)} s): ` +
      `p50 ${f(big.p50)} ms  p99 ${f(big.p99)} ms  max ${f(big.max)} ms`,
    `  ratio p99 replicated/baseline: ${(big.p99 / baseT.p99).toFixed(1)}× for ${(chunks / baseChunks).toFixed(0)}× the chunks`,
    `  target p99 < 10 ms: ${big.p99 < 10 ? "met" : "NOT met"}`,
  ].join("\n");
}
