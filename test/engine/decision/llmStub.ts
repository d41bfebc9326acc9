import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for an OpenAI-compatible chat-completions endpoint on 127.0.0.1 (port 0). Each
 * request is recorded (headers, parsed body) and answered by `behave(request number, body)`, which
 * the test scripts: a valid answer, garbage, a refusal, a delay past the client's timeout, an HTTP
 * status.
 */

/** One recorded request. */
export interface StubRequest {
  path: string;
  authorization: string | undefined;
  body: {
    model: string;
    messages: Array<{ role: string; content: string }>;
    response_format: { type: string; json_schema?: { name: string; strict: boolean; schema: unknown } };
    temperature?: number;
  };
}

/** What the stub does with one request. */
export type StubAction =
  | { content: string; model?: string }
  | { refusal: string }
  | { status: number; body?: string }
  | { delayMs: number; after: StubAction };

export interface LlmStub {
  url: string;
  requests: StubRequest[];
  behave: (n: number, req: StubRequest) => StubAction;
  close(): Promise<void>;
}

/** The JSON text of a weights-mode answer. */
export function weightsAnswer(
  weights: Record<string, number>,
  extra: Partial<{ cash_weight: number; confidence: number; rationale: string }> = {},
): string {
  return JSON.stringify({
    targets: Object.entries(weights).map(([symbol, weight]) => ({ symbol, weight })),
    cash_weight: extra.cash_weight ?? 0.5,
    confidence: extra.confidence ?? 0.9,
    rationale: extra.rationale ?? "stub: momentum looks fine",
  });
}

async function respond(res: ServerResponse, a: StubAction): Promise<void> {
  if ("delayMs" in a) {
    await new Promise((r) => setTimeout(r, a.delayMs));
    if (res.destroyed || res.writableEnded) return;
    return respond(res, a.after);
  }
  if ("status" in a) {
    res.writeHead(a.status, { "content-type": "application/json" });
    res.end(a.body ?? JSON.stringify({ error: { message: "stub error" } }));
    return;
  }
  const message =
    "refusal" in a
      ? { role: "assistant", content: null, refusal: a.refusal }
      : { role: "assistant", content: a.content, refusal: null };
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      id: "chatcmpl-stub",
      object: "chat.completion",
      model: "model" in a && a.model ? a.model : "stub-model-2025-01",
      choices: [{ index: 0, message, finish_reason: "stop" }],
    }),
  );
}

/** Starts the stub. `behave` may be replaced later (`stub.behave = ...`). */
export async function startLlmStub(behave: LlmStub["behave"]): Promise<LlmStub> {
  const stub: LlmStub = { url: "", requests: [], behave, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (d) => {
      raw += d;
    });
    req.on("end", () => {
      const r: StubRequest = {
        path: req.url ?? "",
        authorization: req.headers.authorization,
        body: JSON.parse(raw),
      };
      stub.requests.push(r);
      void respond(res, stub.behave(stub.requests.length - 1, r));
    });
  });
  // Idle keep-alive sockets stay open longer than any test pause: a client that reuses a socket the
  // server is closing sees a network error, which would add a retry the test did not script.
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}
