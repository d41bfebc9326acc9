import type { Clock } from "../../clock.js";
import { scrubSecrets } from "../../secrets.js";
import type { Db } from "../../store/db.js";
import { getCachedReply, putCachedReply } from "../../store/decisions.js";
import type { ModelClient, ModelReply, Prompt } from "./types.js";

/**
 * The replay's answer cache (docs/cycle.md "Replay with a model"): replies by prompt hash in a
 * database's `decision_cache`, failures included (a timeout replays as a timeout), so a rerun of the
 * same replay is deterministic and asks no model. `refresh` (`--no-decision-cache`) asks the model
 * every time and replaces what was stored. Replies are stored scrubbed of every loaded secret.
 */
export class CachedModelClient implements ModelClient {
  readonly source: ModelClient["source"];
  readonly model: string | null;
  /** Replies taken from the cache, and calls made to the model, by this instance. */
  readonly stats = { hits: 0, calls: 0 };

  constructor(
    private readonly inner: ModelClient,
    private readonly o: { db: Db; clock: Clock; refresh: boolean },
  ) {
    this.source = inner.source;
    this.model = inner.model;
  }

  async ask(prompt: Prompt): Promise<ModelReply & { cached?: boolean }> {
    if (!this.o.refresh) {
      const hit = getCachedReply(this.o.db, prompt.hash);
      if (hit) {
        this.stats.hits++;
        return { ...hit, cached: true };
      }
    }
    this.stats.calls++;
    const reply = await this.inner.ask(prompt);
    const clean: ModelReply = reply.ok
      ? { ...reply, text: scrubSecrets(reply.text) }
      : { ...reply, error: scrubSecrets(reply.error) };
    putCachedReply(this.o.db, prompt.hash, this.source, clean, this.o.clock.now());
    return clean;
  }
}
