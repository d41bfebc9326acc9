import type { Clock } from "../../clock.js";
import type { Config } from "../../config.js";
import { TwError } from "../../errors.js";
import type { Logger } from "../../log.js";
import type { Secret } from "../../secrets.js";
import { appendAudit } from "../../store/audit.js";
import type { Db } from "../../store/db.js";
import { type AnsweredDecision, insertDecision, recentDecisions } from "../../store/decisions.js";
import type { ApprovedTarget } from "../types.js";
import { AgentSource, BaselineSource } from "./agent.js";
import { CachedModelClient } from "./cache.js";
import { OpenAiChatClient } from "./llm.js";
import { ModelSource } from "./model.js";
import { SamplingClients, SamplingModelClient } from "./sampling.js";
import type { Decision, DecisionContext, DecisionRecord, DecisionSource, ModelClient } from "./types.js";

/**
 * Who decides the minute cycle's target (docs/cycle.md "Who decides"), by operator config only:
 * `cycle.decision` = `agent` (default) | `sampling` | `llm` | `baseline`, `cycle.decisionMode`,
 * `cycle.decisionEveryCycles`, `cycle.decisionTimeoutMs`, `cycle.sampling.*`, `cycle.llm.*` and the
 * secret `TW_LLM_API_KEY`. The cycle calls {@link DecisionService.decide} where it chooses its
 * target and {@link DecisionService.record} in the transaction that stores the cycle, so every cycle
 * has exactly one decision row. A model source (llm, sampling) also writes one audit row per cycle
 * (`cycle.decision`, or `cycle.decision_fallback` when the baseline stood in for it) with what the
 * model was asked and answered. The agent and baseline sources write none (issue 15: one audit row a
 * cycle): the cycle's `cycle.run` row already says which target was used and why, the agent's target
 * has its own `portfolio_set_target` row, and the baseline follows from the candles.
 */

/** Longest raw answer `portfolio_get_status` shows per decision, characters. */
export const STATUS_RAW_CHARS = 1000;

/** Dependencies of {@link DecisionService}. */
export interface DecisionServiceDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  cycle: Config["cycle"];
  universe: readonly string[];
  /** `TW_LLM_API_KEY` (or the secrets file's `llm.apiKey`); null for endpoints without a key. */
  llmApiKey: Secret | null;
}

/** See the module comment. One per App. */
export class DecisionService {
  /** Sampling-capable client sessions of this process (the server registers into it). */
  readonly sampling = new SamplingClients();
  private source: DecisionSource;
  private client: ModelClient | null = null;
  private cache: CachedModelClient | null = null;

  /** @throws TwError CONFIG_INVALID when `llm` is chosen without an endpoint URL and model. */
  constructor(private readonly deps: DecisionServiceDeps) {
    const c = deps.cycle;
    switch (c.decision) {
      case "agent":
        this.source = new AgentSource(deps.db);
        break;
      case "baseline":
        this.source = new BaselineSource();
        break;
      case "sampling":
        this.client = new SamplingModelClient({
          clients: this.sampling,
          maxTokens: c.sampling.maxTokens,
          modelPreferences: c.sampling.modelPreferences,
          timeoutMs: c.decisionTimeoutMs,
        });
        this.source = this.modelSource(this.client);
        break;
      case "llm": {
        if (!c.llm.url || !c.llm.model) {
          throw new TwError(
            "CONFIG_INVALID",
            "cycle.decision is llm but no endpoint is configured: set TW_LLM_URL and TW_LLM_MODEL (cycle.llm.url, cycle.llm.model).",
            {
              hint: "TW_LLM_URL is an OpenAI-compatible base URL such as http://127.0.0.1:11434/v1; the key goes in TW_LLM_API_KEY.",
            },
          );
        }
        this.client = new OpenAiChatClient({
          url: c.llm.url,
          model: c.llm.model,
          apiKey: deps.llmApiKey,
          mode: c.decisionMode,
          universe: deps.universe,
          timeoutMs: c.decisionTimeoutMs,
          log: deps.log,
        });
        this.source = this.modelSource(this.client);
        break;
      }
    }
  }

  private modelSource(client: ModelClient): ModelSource {
    const c = this.deps.cycle;
    return new ModelSource({
      db: this.deps.db,
      client,
      mode: c.decisionMode,
      everyCycles: c.decisionEveryCycles,
    });
  }

  /** The configured source. */
  get kind(): DecisionSource["kind"] {
    return this.source.kind;
  }

  /**
   * Replay only: keep the endpoint's replies in `db`'s `decision_cache` by prompt hash and answer
   * from it (`refresh`: ask anyway and replace). No effect for sources that ask no endpoint.
   */
  useReplayCache(o: { db: Db; refresh: boolean }): void {
    if (this.client?.source !== "llm") return;
    this.cache = new CachedModelClient(this.client, { db: o.db, clock: this.deps.clock, refresh: o.refresh });
    this.source = this.modelSource(this.cache);
  }

  /** Replies taken from the replay cache and calls made to the endpoint in this process (replay). */
  cacheStats(): { hits: number; calls: number } {
    return { ...(this.cache?.stats ?? { hits: 0, calls: 0 }) };
  }

  /** The target of one tick (see {@link DecisionSource.decide}). */
  decide(ctx: DecisionContext): Promise<Decision> {
    return this.source.decide(ctx);
  }

  /**
   * Records a cycle's decision with the risk layer's answer to it: one `cycle_decisions` row (unless
   * `row` is false: a replay's cycle whose row it would delete in the same tick, see
   * `MinuteCycle.storage`), and for a model source one audit row. Call inside the transaction that
   * stores the cycle.
   */
  record(cycleId: string, t: number, d: Decision, approved: ApprovedTarget, row = true): DecisionRecord {
    const rec: AnsweredDecision = {
      ...d.record,
      cycle_id: cycleId,
      ts: t,
      used: d.choice.used,
      target: d.choice.target,
      clipped: {
        weights: approved.weights,
        rejections: approved.rejections,
        gross: approved.gross,
        net: approved.net,
        turnover: approved.turnover,
      },
    };
    if (row) insertDecision(this.deps.db, rec);
    this.deps.log.debug(
      {
        cycle_id: cycleId,
        source: rec.source,
        used: rec.used,
        model: rec.model,
        latency_ms: rec.latency_ms,
        error: rec.error,
      },
      "cycle decision",
    );
    if (rec.source !== "llm" && rec.source !== "sampling") return rec;
    appendAudit(this.deps.db, {
      ts: t,
      caller: "system:cycle",
      tool: rec.used === "baseline_fallback" ? "cycle.decision_fallback" : "cycle.decision",
      args: { cycle_id: cycleId, source: rec.source, mode: rec.mode },
      decision: "allowed",
      result: {
        used: rec.used,
        model: rec.model,
        client: rec.client,
        asked: rec.asked,
        held_from: rec.held_from,
        cached: rec.cached,
        latency_ms: rec.latency_ms,
        error: rec.error,
        prompt_hash: rec.prompt_hash,
        raw: rec.raw,
        target: Object.fromEntries(rec.target.targets.map((x) => [x.symbol, x.weight])),
        approved: rec.clipped.weights,
        clips: rec.clipped.rejections.length,
      },
      durationMs: rec.latency_ms ?? 0,
      keys: null,
    });
    return rec;
  }

  /** The newest decisions, newest first. */
  recent(limit: number): DecisionRecord[] {
    return recentDecisions(this.deps.db, limit);
  }

  /**
   * The newest decisions as `portfolio_get_status` shows them: everything but `answer` (the raw text
   * and the target say it), with `raw` cut to {@link STATUS_RAW_CHARS} characters (`raw_truncated`);
   * the full record is in `cycle_decisions` and the audit.
   */
  recentView(limit: number): Array<Record<string, unknown>> {
    return this.recent(limit).map(({ answer: _a, raw, ...d }) => ({
      ...d,
      raw: raw === null ? null : raw.slice(0, STATUS_RAW_CHARS),
      raw_truncated: raw !== null && raw.length > STATUS_RAW_CHARS,
    }));
  }

  /** Configuration as `portfolio_get_status` shows it (snake_case; never the key). */
  settings(): Record<string, unknown> {
    const c = this.deps.cycle;
    return {
      source: c.decision,
      mode: c.decisionMode,
      every_cycles: c.decisionEveryCycles,
      timeout_ms: c.decisionTimeoutMs,
      ...(c.decision === "llm" ? { model: c.llm.model ?? null } : {}),
      ...(c.decision === "sampling" ? { sampling_clients: this.sampling.size } : {}),
    };
  }
}
