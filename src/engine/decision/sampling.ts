import type { ModelClient, ModelReply, Prompt } from "./types.js";

/**
 * MCP sampling without MCP: the server (src/server/mcp.ts) registers every connected client session
 * that declared the `sampling` capability and whose caller may set portfolio targets
 * (`portfolio:target`) — answering a sampling request decides the portfolio just as
 * `portfolio_set_target` does. {@link SamplingModelClient} asks the most recently registered one.
 *
 * The registry is per process, and only the holder of the background lease runs the cycle
 * (src/background.ts): sampling requests go to clients connected to that process. A client connected
 * to another `serve` process on the same home is never asked; with no eligible client the cycle uses
 * the baseline (`used: baseline_fallback`, error `no sampling client ...`).
 */

/** One sampling request: the MCP `sampling/createMessage` params this server sends. */
export interface SamplingRequest {
  systemPrompt: string;
  /** The user message (text). */
  text: string;
  maxTokens: number;
  /** MCP ModelPreferences (hints, cost/speed/intelligence priorities 0..1), from config. */
  modelPreferences?: {
    hints?: Array<{ name?: string }>;
    costPriority?: number;
    speedPriority?: number;
    intelligencePriority?: number;
  };
  timeoutMs: number;
}

/** What a client answered: its model and the text (non-text content is an error). */
export interface SamplingAnswer {
  model: string;
  text: string;
  stopReason?: string;
}

/** A connected client that can sample. `createMessage` rejects on error, refusal or timeout. */
export interface SamplingSession {
  /** The session's caller id (`stdio:agent`, `token:desk`), recorded with each decision. */
  readonly caller: string;
  createMessage(req: SamplingRequest): Promise<SamplingAnswer>;
}

/** The sampling-capable sessions of this process. One per App. */
export class SamplingClients {
  private readonly sessions: SamplingSession[] = [];

  /** Registers a session; it becomes the one asked. @returns the function that unregisters it. */
  register(s: SamplingSession): () => void {
    this.sessions.push(s);
    return () => {
      const i = this.sessions.indexOf(s);
      if (i >= 0) this.sessions.splice(i, 1);
    };
  }

  /** The most recently registered session still connected, if any. */
  current(): SamplingSession | undefined {
    return this.sessions.at(-1);
  }

  /** Number of registered sessions. */
  get size(): number {
    return this.sessions.length;
  }
}

/** Options of {@link SamplingModelClient}. */
export interface SamplingClientOptions {
  clients: SamplingClients;
  maxTokens: number;
  modelPreferences?: SamplingRequest["modelPreferences"];
  timeoutMs: number;
}

/**
 * Asks the current sampling session once (no retry: hosts may show each request to their user, and a
 * declined request is an answer). The SDK's request timeout bounds the wait.
 */
export class SamplingModelClient implements ModelClient {
  readonly source = "sampling";
  readonly model = null;

  constructor(private readonly o: SamplingClientOptions) {}

  async ask(prompt: Prompt): Promise<ModelReply> {
    const session = this.o.clients.current();
    if (!session) {
      return {
        ok: false,
        error:
          "no sampling client: no client with the sampling capability and portfolio:target is connected to the process running the cycle",
        model: null,
        client: null,
        latency_ms: 0,
        unasked: true,
      };
    }
    const t0 = performance.now();
    try {
      const a = await session.createMessage({
        systemPrompt: prompt.system,
        text: prompt.user,
        maxTokens: this.o.maxTokens,
        modelPreferences: this.o.modelPreferences,
        timeoutMs: this.o.timeoutMs,
      });
      return {
        ok: true,
        text: a.text,
        model: a.model,
        client: session.caller,
        latency_ms: performance.now() - t0,
      };
    } catch (e) {
      const err = e as Error & { code?: number };
      const timedOut = err.code === -32001 || /timed? ?out/i.test(err.message);
      return {
        ok: false,
        error: timedOut
          ? `timeout: no answer within ${this.o.timeoutMs} ms`
          : `client error: ${err.message.slice(0, 300)}`,
        model: null,
        client: session.caller,
        latency_ms: performance.now() - t0,
      };
    }
  }
}
