import type { Clock } from "../clock.js";
import type { Logger } from "../log.js";
import type { Db } from "../store/db.js";
import { type EmbeddingsProvider, embedMissing, hybridSearch } from "./embeddings.js";
import { MemoryStore } from "./memory.js";
import { RagIndex, type RagSearchResult, type ReindexReport } from "./rag.js";

/** A reindex report plus how many chunks got vectors (null when embeddings are off). */
export interface KnowledgeReindexReport extends ReindexReport {
  embedded: number | null;
}

/**
 * What the knowledge component hangs off the App (`app.knowledge`): the RAG index over one
 * directory, the memory store, and the optional embeddings provider.
 */
export class KnowledgeService {
  readonly rag: RagIndex;
  readonly memory: MemoryStore;
  /** Last completed reindex (start-up or rag_reindex); null before the first. */
  lastReindex: KnowledgeReindexReport | null = null;
  /** Why the last reindex failed, if it did (e.g. the directory is missing). */
  lastError: string | null = null;
  private provider: EmbeddingsProvider | null = null;

  /** @param dir absolute knowledge directory. */
  constructor(
    readonly dir: string,
    private readonly db: Db,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.rag = new RagIndex(db, clock);
    this.memory = new MemoryStore(db, clock);
  }

  /** The embeddings provider in use, or null (bm25 only, the default). */
  get embeddings(): EmbeddingsProvider | null {
    return this.provider;
  }

  /** Turns hybrid ranking on (a provider) or off (null). Vectors are computed on the next reindex. */
  useEmbeddings(provider: EmbeddingsProvider | null): void {
    this.provider = provider;
  }

  /**
   * Incremental reindex of {@link dir}, then embeddings of new chunks when a provider is set (a
   * provider failure is logged and reported as `embedded: 0`; bm25 is already up to date).
   * @throws TwError CONFIG_INVALID (missing dir), CANCELLED (signal).
   */
  async reindex(
    opts: { signal?: AbortSignal; onFile?: (done: number, total: number) => void; embed?: boolean } = {},
  ): Promise<KnowledgeReindexReport> {
    let report: ReindexReport;
    try {
      report = this.rag.reindex(this.dir, opts);
      this.lastError = null;
    } catch (e) {
      this.lastError = (e as Error).message;
      throw e;
    }
    const embedded = opts.embed === false ? null : await this.embedPending(opts.signal);
    this.lastReindex = { ...report, embedded };
    return this.lastReindex;
  }

  /**
   * Computes vectors for chunks that have none (no-op without a provider). Never throws: a provider
   * failure is logged and counts as 0, since bm25 answers without vectors.
   * @returns chunks embedded, or null when embeddings are off.
   */
  async embedPending(signal?: AbortSignal): Promise<number | null> {
    if (!this.provider) return null;
    try {
      return await embedMissing(this.db, this.provider, signal);
    } catch (err) {
      this.log.warn({ err }, "embedding chunks failed; rag_search stays bm25-only for them");
      return 0;
    }
  }

  /** rag_search: bm25, or hybrid bm25 + cosine (RRF) when a provider is set. */
  async search(query: string, limit: number): Promise<RagSearchResult> {
    if (!this.provider) return this.rag.search(query, limit);
    return hybridSearch(this.rag, this.db, this.provider, query, limit, this.log);
  }

  /** Status section for system_get_status. */
  status(): Record<string, unknown> {
    const r = this.rag.stats();
    const m = this.memory.stats();
    return {
      dir: this.dir,
      files: r.files,
      chunks: r.chunks,
      last_reindex_at: this.lastReindex?.finished_at ?? null,
      last_error: this.lastError,
      memory_items: m.items,
      memory_disabled: m.disabled,
      embeddings: this.provider ? this.provider.model : "off",
    };
  }
}
