import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import express, { type NextFunction, type Request, type Response } from "express";
import type { App } from "../app.js";
import { callerFor, type Caller } from "../policy/scopes.js";
import { consoleRouter } from "../console/index.js";
import { authenticateToken } from "../store/tokens.js";
import { createMcpServer } from "./mcp.js";
import { createMetrics } from "./metrics.js";

/**
 * Streamable HTTP transport (DESIGN.md §8): `/mcp` (bearer token → profile), `/healthz`, `/metrics`.
 * Stateful by default (one McpServer per session, bound to the token that opened it); `stateless`
 * builds a server per request and answers GET/DELETE with 405. Host and Origin allow-lists refuse
 * DNS-rebinding and cross-site requests with 403 before anything else runs; the bearer token is
 * checked before the body is read, so an unauthenticated caller cannot make the server parse
 * anything. Every error is a JSON-RPC error object — malformed JSON → -32700, a body over
 * `maxBodyBytes` → 413 — never an HTML page, a stack trace or a path.
 *
 * Sessions: at most `maxSessionsPerToken` per token (429 beyond), closed after `sessionIdleMs`
 * without a request, and re-authenticated on every request, so revoking a token ends its sessions at
 * their next request (401). Token lookups are cached for {@link TOKEN_CACHE_MS}, so a revocation
 * from another process (the CLI) takes effect within a second.
 */

/** How long a token lookup (valid or not) is reused before the database is asked again (ms). */
export const TOKEN_CACHE_MS = 1_000;

const LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"];

/** Options of {@link startHttp}; defaults come from config.http. */
export interface HttpOptions {
  host: string;
  port: number;
  stateless: boolean;
  allowedOrigins: string[];
  allowedHosts: string[];
  /** Default 16. */
  maxSessionsPerToken?: number;
  /** Default 30 min (ms). */
  sessionIdleMs?: number;
  /** Default 4 MiB. */
  maxBodyBytes?: number;
}

/** A running HTTP server. */
export interface HttpHandle {
  server: Server;
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  tokenName: string;
  /** Wall-clock ms of the last request. */
  lastSeen: number;
}

function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.split(":")[0];
}

function jsonRpcError(
  res: Response,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  code = -32000,
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });
}

/**
 * Starts the HTTP server. Port 0 picks a free port (tests).
 * @throws Error from `listen` when the port cannot be bound (`code` EADDRINUSE, EACCES, ...).
 */
export async function startHttp(app: App, opts: HttpOptions): Promise<HttpHandle> {
  const maxSessions = opts.maxSessionsPerToken ?? 16;
  const idleMs = opts.sessionIdleMs ?? 1_800_000;
  const maxBody = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const metrics = createMetrics(app);
  const allowedHosts = new Set(
    opts.allowedHosts.length > 0
      ? opts.allowedHosts
      : LOCAL_HOSTS.includes(opts.host)
        ? LOCAL_HOSTS
        : [opts.host, ...LOCAL_HOSTS],
  );
  const sessions = new Map<string, Session>();
  const web = express();
  web.disable("x-powered-by");

  // 1. Host allow-list (DNS rebinding), 2. Origin allow-list (cross-site), both before auth.
  web.use((req: Request, res: Response, next: NextFunction) => {
    const host = hostName(req.headers.host);
    if (!host || !allowedHosts.has(host)) {
      jsonRpcError(res, 403, `Host ${req.headers.host ?? "(none)"} is not allowed`);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let ok = opts.allowedOrigins.includes(origin);
      if (!ok && opts.allowedOrigins.length === 0) {
        // Without an explicit list only same-machine origins are accepted.
        try {
          ok =
            LOCAL_HOSTS.includes(new URL(origin).hostname) ||
            LOCAL_HOSTS.includes(`[${new URL(origin).hostname}]`);
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        jsonRpcError(res, 403, `Origin ${origin} is not allowed`);
        return;
      }
    }
    next();
  });

  web.use("/console", consoleRouter(app, { boundHost: opts.host }));

  web.get("/healthz", (_req, res) => {
    res.json({ status: "ok", version: app.version, uptime_ms: app.clock.now() - app.startedAt });
  });
  web.get("/metrics", async (_req, res) => {
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  const tokens = new Map<string, { who: ReturnType<typeof authenticateToken>; until: number }>();
  const lookup = (token: string) => {
    const key = createHash("sha256").update(token).digest("hex");
    const hit = tokens.get(key);
    if (hit && hit.until > Date.now()) return hit.who;
    const who = authenticateToken(app.db, token, app.clock.now());
    if (tokens.size > 10_000) tokens.clear();
    tokens.set(key, { who, until: Date.now() + TOKEN_CACHE_MS });
    return who;
  };

  // Bearer auth for /mcp: 401 + WWW-Authenticate without a valid, unrevoked token.
  const auth = (req: Request, res: Response, next: NextFunction) => {
    const h = req.headers.authorization;
    const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
    if (!m) {
      jsonRpcError(res, 401, "Missing bearer token", { "WWW-Authenticate": 'Bearer realm="tradewarden"' });
      return;
    }
    const who = lookup(m[1]);
    if (!who) {
      // A revoked token's sessions end here, at their next request.
      const sid = req.headers["mcp-session-id"];
      if (typeof sid === "string") void closeSession(sid);
      jsonRpcError(res, 401, "Invalid or revoked token", {
        "WWW-Authenticate": 'Bearer realm="tradewarden", error="invalid_token"',
      });
      return;
    }
    res.locals.caller = callerFor(`token:${who.name}`, who.profile, "http");
    res.locals.tokenName = who.name;
    next();
  };

  const closeSession = async (sid: string) => {
    const s = sessions.get(sid);
    if (!s) return;
    sessions.delete(sid);
    await s.transport.close().catch(() => {});
    await s.server.close().catch(() => {});
  };
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [sid, s] of sessions) if (now - s.lastSeen > idleMs) void closeSession(sid);
    },
    Math.min(60_000, Math.max(1_000, Math.floor(idleMs / 4))),
  );
  sweep.unref();

  // Auth first, then the body: nothing is parsed for a caller without a valid token.
  web.all("/mcp", auth, express.json({ limit: maxBody }), async (req: Request, res: Response) => {
    const caller = res.locals.caller as Caller;
    try {
      if (opts.stateless) {
        if (req.method !== "POST") {
          res.setHeader("Allow", "POST");
          jsonRpcError(res, 405, "Method not allowed in stateless mode");
          return;
        }
        const server = createMcpServer(app, caller, { alerts: false });
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        res.on("close", () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, req.body);
        return;
      }
      const sid = req.headers["mcp-session-id"];
      if (typeof sid === "string") {
        const s = sessions.get(sid);
        if (!s) {
          jsonRpcError(res, 404, "Unknown or expired session; initialize a new one");
          return;
        }
        if (s.tokenName !== res.locals.tokenName) {
          jsonRpcError(res, 403, "Session belongs to another token");
          return;
        }
        s.lastSeen = Date.now();
        await s.transport.handleRequest(req, res, req.body);
        return;
      }
      if (req.method !== "POST" || !isInitializeRequest(req.body)) {
        jsonRpcError(res, 400, "No session: send an initialize request first");
        return;
      }
      const tokenName = res.locals.tokenName as string;
      const open = [...sessions.values()].filter((x) => x.tokenName === tokenName).length;
      if (open >= maxSessions) {
        jsonRpcError(
          res,
          429,
          `Token ${tokenName} already holds ${open} sessions (the limit is ${maxSessions}); close one (HTTP DELETE with its mcp-session-id) or wait for idle ones to expire`,
        );
        return;
      }
      const server = createMcpServer(app, caller);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server, tokenName, lastSeen: Date.now() });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      app.log.error({ err }, "HTTP /mcp request failed");
      if (!res.headersSent) jsonRpcError(res, 500, "Internal error");
    }
  });

  // Body errors (malformed JSON, too large) and anything else thrown by a middleware: JSON, no stack.
  web.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (res.headersSent) return;
    if (e.type === "entity.too.large" || e.status === 413) {
      jsonRpcError(res, 413, `Request body too large (limit ${maxBody} bytes)`, {}, -32600);
    } else if (e.type === "entity.parse.failed") {
      jsonRpcError(res, 400, "Parse error (the body is not valid JSON)", {}, -32700);
    } else if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
      jsonRpcError(res, e.status, "Invalid request", {}, -32600);
    } else {
      app.log.error({ err }, "HTTP request failed");
      jsonRpcError(res, 500, "Internal error", {}, -32603);
    }
  });

  // node:http directly: express 5's listen() hands bind errors to the callback as if it had bound.
  const server = createServer(web);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}`;
  app.log.info({ url, stateless: opts.stateless }, "serving MCP over streamable HTTP");
  return {
    server,
    url,
    close: async () => {
      clearInterval(sweep);
      for (const s of sessions.values()) {
        await s.transport.close();
        await s.server.close();
      }
      sessions.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
