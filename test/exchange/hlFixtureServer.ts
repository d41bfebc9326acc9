import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { DATA } from "../helpers/app.js";

/**
 * A local Hyperliquid API on 127.0.0.1 that answers with REAL recorded responses:
 * - `POST /info` by the body's `type`, from the python-SDK cassettes
 *   (data/fixtures/hyperliquid/python_sdk_cassettes_json) and the ccxt static responses
 *   (fixtures/ccxt_static/hyperliquid.response.json). Time-range requests (candleSnapshot,
 *   fundingHistory) are filtered to the requested range, like the real API; l2Book answers the
 *   recorded coin (DYDX) and `null` for others (the API's answer for a coin without a book);
 *   unknown types get HTTP 422 like the real API.
 * - other paths (e.g. `POST /exchange`) via {@link HlFixtureServer.route}, for the orders tests.
 * Failure injection: {@link HlFixtureServer.failNext} makes the next n requests answer 429, 500,
 * hang past the client's timeout, or return non-JSON.
 */

const CASSETTES = join(DATA, "fixtures", "hyperliquid", "python_sdk_cassettes_json");
const CCXT_STATIC = join(DATA, "fixtures", "ccxt_static", "hyperliquid.response.json");

/** A recorded request/response pair. */
export interface Interaction {
  request: { body: Record<string, unknown> };
  response: { status: number; body: unknown };
}

/** Every recorded /info interaction by request type (cassettes first, then ccxt static). */
export function loadInfoRecordings(): Map<string, Interaction[]> {
  const byType = new Map<string, Interaction[]>();
  const add = (i: Interaction) => {
    const t = String(i.request.body.type);
    byType.set(t, [...(byType.get(t) ?? []), i]);
  };
  for (const f of readdirSync(CASSETTES).sort()) {
    if (!f.endsWith(".json") || f.startsWith("_")) continue;
    const c = JSON.parse(readFileSync(join(CASSETTES, f), "utf8")) as { interactions: Interaction[] };
    for (const i of c.interactions) add(i);
  }
  // ccxt static: only candleSnapshot answers are /info replies we can key unambiguously.
  const s = JSON.parse(readFileSync(CCXT_STATIC, "utf8")) as {
    methods: Record<string, Array<{ input: unknown[]; httpResponse: unknown }>>;
  };
  for (const e of s.methods.fetchOHLCV ?? []) {
    const rows = e.httpResponse as Array<{ s: string; i: string }>;
    if (!Array.isArray(rows) || rows.length === 0) continue;
    add({
      request: { body: { type: "candleSnapshot", req: { coin: rows[0].s, interval: rows[0].i } } },
      response: { status: 200, body: rows },
    });
  }
  return byType;
}

/** Failure modes for {@link HlFixtureServer.failNext}. */
export type FailMode = 429 | 500 | "timeout" | "garbage";

/** Handler for an extra route; return the JSON body to send (status 200), or use `res` directly. */
export type RouteHandler = (body: Record<string, unknown>, res: ServerResponse) => unknown;

/** The running server. */
export interface HlFixtureServer {
  /** Base URL, e.g. http://127.0.0.1:54321 (use as TW_HL_API_URL). */
  url: string;
  /** Every request received: path and parsed body. */
  requests: Array<{ path: string; body: Record<string, unknown> }>;
  /** Makes the next `n` requests fail with `mode`. */
  failNext(n: number, mode: FailMode): void;
  /** Answers `path` (e.g. "/exchange") with `handler`. */
  route(path: string, handler: RouteHandler): void;
  /**
   * Answers `POST /info` requests of one `type` (e.g. "candleSnapshot") with `handler` instead of
   * the recordings: for tests that need a longer real series than the cassettes hold.
   */
  info(type: string, handler: (body: Record<string, unknown>) => unknown): void;
  /** Caps candleSnapshot answers to `n` rows (to exercise paging). */
  maxCandles: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function inRange(t: unknown, start: unknown, end: unknown): boolean {
  const x = Number(t);
  return x >= Number(start ?? 0) && (end === undefined || end === null || x <= Number(end));
}

/** Answers one /info body from the recordings. */
function answerInfo(
  rec: Map<string, Interaction[]>,
  body: Record<string, unknown>,
  maxCandles: number,
): [number, unknown] {
  const type = String(body.type);
  const all = rec.get(type);
  if (!all)
    return [422, `Failed to deserialize the JSON body into the target type: unknown variant \`${type}\``];
  if (type === "l2Book") {
    const hit = all.find((i) => i.request.body.coin === body.coin);
    return [200, hit ? hit.response.body : null];
  }
  if (type === "candleSnapshot") {
    const req = body.req as Record<string, unknown>;
    const rows = all
      .filter((i) => {
        const r = i.request.body.req as Record<string, unknown>;
        return r.coin === req.coin && r.interval === req.interval;
      })
      .flatMap((i) => i.response.body as Array<{ t: unknown }>)
      .filter((c) => inRange(c.t, req.startTime, req.endTime))
      .sort((a, b) => Number(a.t) - Number(b.t));
    const unique = rows.filter((c, k) => k === 0 || Number(c.t) !== Number(rows[k - 1].t));
    return [200, unique.slice(0, maxCandles)];
  }
  if (type === "fundingHistory") {
    const longest =
      all
        .filter((i) => i.request.body.coin === body.coin)
        .map((i) => i.response.body as Array<{ time: number }>)
        .sort((a, b) => b.length - a.length)[0] ?? [];
    return [200, longest.filter((p) => inRange(p.time, body.startTime, body.endTime)).slice(0, 500)];
  }
  return [200, all[0].response.body];
}

/** Starts the server on 127.0.0.1 (random port). */
export async function startHlFixtureServer(): Promise<HlFixtureServer> {
  const rec = loadInfoRecordings();
  const routes = new Map<string, RouteHandler>();
  const infoOverrides = new Map<string, (body: Record<string, unknown>) => unknown>();
  const failures: FailMode[] = [];
  const hanging = new Set<ServerResponse>();
  const requests: HlFixtureServer["requests"] = [];
  const state = { maxCandles: 5000 };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        return send(res, 400, "invalid JSON");
      }
      const path = (req.url ?? "/").split("?")[0];
      requests.push({ path, body });
      const fail = failures.shift();
      if (fail === "timeout") {
        hanging.add(res);
        return;
      }
      if (fail === "garbage") {
        res.writeHead(200, { "content-type": "text/html" });
        return res.end("<html>maintenance</html>");
      }
      if (fail === 429) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "2" });
        return res.end("null");
      }
      if (fail === 500) return send(res, 500, "internal error");
      const route = routes.get(path);
      if (route) {
        const out = route(body, res);
        if (!res.headersSent) send(res, 200, out);
        return;
      }
      if (path !== "/info") return send(res, 404, "not found");
      const override = infoOverrides.get(String(body.type));
      if (override) return send(res, 200, override(body));
      const [status, out] = answerInfo(rec, body, state.maxCandles);
      send(res, status, out);
    });
  });
  // Never close an idle keep-alive socket from this side: a client reusing it at that instant gets
  // ECONNRESET (a race that a loaded machine hits). close() ends every connection itself.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (n, mode) => {
      for (let i = 0; i < n; i++) failures.push(mode);
    },
    route: (path, handler) => {
      routes.set(path, handler);
    },
    info: (type, handler) => {
      infoOverrides.set(type, handler);
    },
    get maxCandles() {
      return state.maxCandles;
    },
    set maxCandles(n: number) {
      state.maxCandles = n;
    },
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
