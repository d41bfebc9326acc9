import { isAbsolute, join, resolve } from "node:path";
import type { App } from "../app.js";
import type { Component } from "../components.js";
import { packageRoot } from "../packageRoot.js";
import { OpenAiEmbeddings } from "./embeddings.js";
import { KnowledgeService } from "./service.js";

declare module "../app.js" {
  interface App {
    /** RAG index, memory store and optional embeddings (src/knowledge). */
    knowledge: KnowledgeService;
  }
}

/**
 * The shipped corpus, docs/knowledge/ at the package root (src/packageRoot.ts): the same folder from
 * src/ (vitest), dist/ and the bundled CLI.
 */
export function defaultKnowledgeDir(): string {
  return join(packageRoot(), "docs", "knowledge");
}

/** Knowledge dir of a config value: absolute as is, relative to the working directory, or the default. */
export function knowledgeDir(configured: string | undefined): string {
  if (configured === undefined || configured.trim() === "") return defaultKnowledgeDir();
  return isAbsolute(configured) ? configured : resolve(process.cwd(), configured);
}

/** Optional embeddings settings; read loosely so the config schema can add them without a code change here. */
interface EmbeddingsConfig {
  url?: string;
  model?: string;
}

/**
 * Installs `app.knowledge`, runs the incremental reindex at start-up (a missing directory is logged
 * and shown in status, not fatal: memory keeps working), and adds the `knowledge` status section.
 * One-shot CLI commands (`app.role === "command"`) skip the reindex: they never search.
 */
export const knowledgeComponent: Component = {
  name: "knowledge",
  async install(app: App) {
    const svc = new KnowledgeService(knowledgeDir(app.config.knowledge.dir), app.db, app.clock, app.log);
    const emb = (app.config.knowledge as { embeddings?: EmbeddingsConfig }).embeddings;
    if (emb?.url && emb.model) {
      svc.useEmbeddings(
        new OpenAiEmbeddings({ url: emb.url, model: emb.model, apiKey: process.env.TW_EMBEDDINGS_API_KEY }),
      );
    }
    app.knowledge = svc;
    app.statusProviders.set("knowledge", () => svc.status());
    if (app.role === "command") return;
    try {
      // Vectors (network) are computed in the background so start-up never waits on a provider.
      const r = await svc.reindex({ embed: false });
      if (svc.embeddings) {
        const ac = new AbortController();
        app.onClose(() => ac.abort());
        void svc.embedPending(ac.signal);
      }
      app.log.info(
        { dir: r.dir, indexed: r.files_indexed, unchanged: r.files_unchanged, removed: r.files_removed },
        "knowledge index up to date",
      );
    } catch (err) {
      app.log.error(
        { err, dir: svc.dir },
        "knowledge reindex failed at start-up; rag_search answers from the old index",
      );
    }
  },
};
