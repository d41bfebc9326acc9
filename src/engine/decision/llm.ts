import type { Logger } from "../../log.js";
import { type Secret, scrubSecrets } from "../../secrets.js";
import type { ModelClient, ModelReply, Prompt } from "./types.js";
import { answerJsonSchema, type DecisionMode } from "./schema.js";

/**
 * Client of an OpenAI-compatible chat-completions endpoint (`POST {url}/chat/completions`, as served
 * by OpenAI, vLLM, llama.cpp, Ollama, LiteLLM), with plain `fetch`:
 * - structured output first: `response_format: {type: "json_schema", json_schema: {name, strict,
 *   schema}}`; an endpoint that refuses it (HTTP 400/422) is asked again at once in plain JSON mode
 *   (`{type: "json_object"}`, the schema is in the prompt anyway), and JSON mode is kept from then on;
 * - a timeout per attempt (AbortController, `cycle.decisionTimeoutMs`) and one retry after a
 *   timeout, a network error, 408, 409, 425, 429 or 5xx (so at most 2 × timeout plus 250 ms);
 * - `message.refusal` is a refusal; `temperature: 0`.
 * The API key is sent as `Authorization: Bearer …` and never appears in a reply, an error or a log
 * line: every text that leaves this module is scrubbed of every loaded secret.
 */

/** Options of {@link OpenAiChatClient}. */
export interface OpenAiChatOptions {
  /** Base URL (`http://127.0.0.1:11434/v1`) or the full `…/chat/completions` URL. */
  url: string;
  model: string;
  apiKey: Secret | null;
  mode: DecisionMode;
  universe: readonly string[];
  /** Per attempt, ms. */
  timeoutMs: number;
  log?: Logger;
}

type Attempt =
  | { ok: true; text: string; model: string | null }
  | { ok: false; error: string; retry: boolean; status?: number };

const RETRY_STATUS = new Set([408, 409, 425, 429]);

/** See the module comment. */
export class OpenAiChatClient implements ModelClient {
  readonly source = "llm";
  readonly model: string;
  private readonly endpoint: string;
  private jsonMode = false;

  constructor(private readonly o: OpenAiChatOptions) {
    this.model = o.model;
    const base = o.url.replace(/\/+$/, "");
    this.endpoint = base.endsWith("/chat/completions") ? base : `${base}/chat/completions`;
  }

  async ask(prompt: Prompt): Promise<ModelReply> {
    const t0 = performance.now();
    let a = await this.attempt(prompt);
    if (!a.ok && a.retry) {
      await new Promise((r) => setTimeout(r, 250));
      const second = await this.attempt(prompt);
      a = second.ok ? second : { ...second, error: `${second.error} (after 2 attempts; first: ${a.error})` };
    }
    const latency_ms = performance.now() - t0;
    return a.ok
      ? { ok: true, text: a.text, model: a.model ?? this.model, latency_ms }
      : { ok: false, error: scrubSecrets(a.error), model: this.model, latency_ms };
  }

  private async attempt(prompt: Prompt): Promise<Attempt> {
    if (!this.jsonMode) {
      const a = await this.post(prompt, {
        type: "json_schema",
        json_schema: {
          name: this.o.mode === "risk_multiplier" ? "risk_multiplier" : "target_portfolio",
          strict: true,
          schema: answerJsonSchema(this.o.mode, this.o.universe),
        },
      });
      if (a.ok || (a.status !== 400 && a.status !== 422)) return a;
      this.o.log?.info(
        { status: a.status },
        "LLM endpoint refused response_format json_schema; using plain JSON mode from now on",
      );
      this.jsonMode = true;
    }
    return this.post(prompt, { type: "json_object" });
  }

  private async post(prompt: Prompt, responseFormat: Record<string, unknown>): Promise<Attempt> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.o.timeoutMs);
    try {
      const res = await fetch(this.endpoint, {
        method: "POST",
        redirect: "error",
        headers: {
          "content-type": "application/json",
          ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey.reveal()}` } : {}),
        },
        body: JSON.stringify({
          model: this.o.model,
          messages: [
            { role: "system", content: prompt.system },
            { role: "user", content: prompt.user },
          ],
          temperature: 0,
          response_format: responseFormat,
        }),
        signal: ctl.signal,
      });
      const body = await res.text();
      if (!res.ok) {
        return {
          ok: false,
          status: res.status,
          retry: res.status >= 500 || RETRY_STATUS.has(res.status),
          error: `HTTP ${res.status}${body ? `: ${scrubSecrets(body).slice(0, 200)}` : ""}`,
        };
      }
      return readCompletion(body);
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const error =
        ctl.signal.aborted || err.name === "AbortError" || err.name === "TimeoutError"
          ? `timeout: no answer within ${this.o.timeoutMs} ms`
          : `network error: ${err.cause?.code ?? err.name}`;
      return { ok: false, retry: true, error };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Reads an OpenAI chat-completions body: the first choice's content, or why there is none. */
function readCompletion(body: string): Attempt {
  let json: {
    model?: unknown;
    choices?: Array<{ message?: { content?: unknown; refusal?: unknown }; finish_reason?: unknown }>;
  };
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, retry: false, error: "endpoint answered a body that is not JSON" };
  }
  const model = typeof json.model === "string" ? json.model : null;
  const choice = Array.isArray(json.choices) ? json.choices[0] : undefined;
  if (!choice?.message) return { ok: false, retry: false, error: "endpoint answered no choices" };
  if (typeof choice.message.refusal === "string" && choice.message.refusal !== "")
    return {
      ok: false,
      retry: false,
      error: `refusal: ${scrubSecrets(choice.message.refusal).slice(0, 300)}`,
    };
  if (typeof choice.message.content !== "string")
    return {
      ok: false,
      retry: false,
      error: `no text content (finish_reason ${String(choice.finish_reason)})`,
    };
  return { ok: true, text: choice.message.content, model };
}
