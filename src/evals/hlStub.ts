import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * A local Hyperliquid API stand-in for evals (127.0.0.1 only, never the network). It records every
 * request it receives — that record is "what the venue received" for live-venue scenarios — and
 * answers with real recorded responses from data/fixtures:
 *   POST /info      by body.type, from the python-sdk cassettes (meta, allMids, l2Book, ...);
 *                   types without a recording get `[]`.
 *   POST /exchange  `order` → ccxt's recorded createOrder reply (filled); `cancel` → success
 *                   statuses; anything else → `{ status: "ok" }`. Modes: `error` answers HTTP 500,
 *                   `hang` never answers, `reject` refuses orders the way Hyperliquid does.
 */

/** One request the stub received. `body` is the parsed JSON (or the raw text when not JSON). */
export interface StubRequest {
  path: string;
  body: unknown;
}

/** A running stub. */
export interface HlStub {
  /** Base URL, e.g. `http://127.0.0.1:40123` (use as TW_HL_API_URL). */
  url: string;
  requests: StubRequest[];
  close(): Promise<void>;
}

function loadInfoResponses(dataDir: string): Map<string, unknown> {
  const dir = join(dataDir, "fixtures", "hyperliquid", "python_sdk_cassettes_json");
  const out = new Map<string, unknown>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".json") || f.startsWith("_")) continue;
    const doc = JSON.parse(readFileSync(join(dir, f), "utf8")) as {
      interactions?: Array<{ request: { body?: { type?: string } }; response: { body: unknown } }>;
    };
    for (const i of doc.interactions ?? []) {
      const type = i.request.body?.type;
      if (type && !out.has(type)) out.set(type, i.response.body);
    }
  }
  return out;
}

function loadOrderReply(dataDir: string): unknown {
  const file = join(dataDir, "fixtures", "ccxt_static", "hyperliquid.response.json");
  if (!existsSync(file)) return { status: "ok", response: { type: "order", data: { statuses: [] } } };
  const doc = JSON.parse(readFileSync(file, "utf8")) as {
    methods: Record<string, Array<{ httpResponse: unknown }>>;
  };
  return doc.methods.createOrder?.[0]?.httpResponse;
}

function exchangeReply(body: unknown, orderReply: unknown): unknown {
  const action = (body as { action?: { type?: string; cancels?: unknown[] } } | null)?.action;
  if (action?.type === "order") return orderReply;
  if (action?.type === "cancel" || action?.type === "cancelByCloid") {
    const n = Array.isArray(action.cancels) ? action.cancels.length : 1;
    return { status: "ok", response: { type: "cancel", data: { statuses: Array(n).fill("success") } } };
  }
  return { status: "ok", response: { type: "default" } };
}

/** How the stub answers /exchange: recorded replies, HTTP 500 (request arrived, outcome unknown), or never. */
export type StubMode = "ok" | "error" | "hang" | "reject";

/** Hyperliquid's reply shape for an order the exchange refuses (status ok, per-order error). */
const REJECT_REPLY = {
  status: "ok",
  response: { type: "order", data: { statuses: [{ error: "Order must have minimum value of $10." }] } },
};

/**
 * Starts the stub on 127.0.0.1 with a free port.
 * @param dataDir the data folder (fixtures are read from it).
 */
export async function startHlStub(dataDir: string, mode: StubMode = "ok"): Promise<HlStub> {
  const info = loadInfoResponses(dataDir);
  const orderReply = loadOrderReply(dataDir);
  const requests: StubRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = text === "" ? null : JSON.parse(text);
      } catch {
        // keep the raw text: the record must show exactly what arrived
      }
      const path = (req.url ?? "/").split("?")[0];
      requests.push({ path, body });
      let reply: unknown;
      if (path === "/info") reply = info.get((body as { type?: string } | null)?.type ?? "") ?? [];
      else if (path === "/exchange") {
        if (mode === "hang") return; // held open until close(): the client's timeout decides
        if (mode === "error") {
          res.writeHead(500, { "content-type": "application/json" }).end('{"error":"internal"}');
          return;
        }
        reply = exchangeReply(body, mode === "reject" ? REJECT_REPLY : orderReply);
      } else {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
    });
  });
  // Never close an idle keep-alive socket from this side: a client reusing it at that instant gets
  // ECONNRESET (a race that a loaded machine hits). close() ends every connection itself.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
