import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a stand-in endpoint received. `at` is wall-clock ms when the body was complete. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A local HTTP endpoint on 127.0.0.1 (port 0) standing in for a webhook receiver or the Telegram API. */
export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
  /** Resolves when `n` requests arrived (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<Received[]>;
}

/**
 * Starts a receiver. `answer(i, req)` gives the status and JSON body of the i-th request (0-based);
 * default 200 `{ ok: true }` — the Telegram Bot API's shape, which webhooks ignore.
 */
export async function startReceiver(
  answer: (
    i: number,
    r: Received,
  ) => { status: number; body?: unknown; headers?: Record<string, string> } = () => ({
    status: 200,
  }),
): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const r: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        at: Date.now(),
      };
      const i = received.length;
      received.push(r);
      const a = answer(i, r);
      res.writeHead(a.status, { "content-type": "application/json", ...(a.headers ?? {}) });
      res.end(JSON.stringify(a.body ?? { ok: a.status < 300, result: { message_id: i + 1 } }));
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    waitFor: (n, ms = 10_000) =>
      new Promise<Received[]>((resolve, reject) => {
        const deadline = setTimeout(
          () => reject(new Error(`expected ${n} requests within ${ms} ms, got ${received.length}`)),
          ms,
        );
        const check = () => {
          if (received.length >= n) {
            clearTimeout(deadline);
            resolve(received.slice(0, n));
          } else waiters.push(check);
        };
        check();
      }),
  };
}
