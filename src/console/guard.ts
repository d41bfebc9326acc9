import type { NextFunction, Request, Response } from "express";
import type { Config } from "../config.js";

/**
 * Host and Origin rules of the console — the same as `/mcp` (DESIGN.md §8): a Host header outside
 * the allow-list (DNS rebinding) or an Origin outside it (cross-site) gets 403 before anything runs.
 * Applied by the console router itself, so `tradewarden console` (its own listener) enforces them
 * too. On top, a state-changing request (POST) must come from the console's own origin when the
 * browser says where it comes from: other local web apps are same-site for cookies (SameSite does
 * not separate ports), so only the CSRF token and this check stop them.
 */

const LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"];

/** Host name of a Host header value (`[::1]:8787` → `[::1]`, `localhost:80` → `localhost`). */
export function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.split(":")[0];
}

/** Allowed Host names and Origins for a config and the address the console is bound to. */
export function consoleAllowList(cfg: Config, boundHost: string): { hosts: Set<string>; origins: string[] } {
  const hosts = new Set(
    cfg.http.allowedHosts.length > 0
      ? cfg.http.allowedHosts
      : LOCAL_HOSTS.includes(boundHost)
        ? LOCAL_HOSTS
        : [boundHost, ...LOCAL_HOSTS],
  );
  const origins = [...cfg.http.allowedOrigins];
  if (cfg.console.publicUrl) {
    const u = new URL(cfg.console.publicUrl);
    hosts.add(u.hostname);
    origins.push(u.origin);
  }
  return { hosts, origins };
}

function originAllowed(origin: string, allowed: readonly string[]): boolean {
  if (allowed.includes(origin)) return true;
  if (allowed.length > 0) return false;
  // Without an explicit list only same-machine origins are accepted (as for /mcp).
  try {
    const h = new URL(origin).hostname;
    return LOCAL_HOSTS.includes(h) || LOCAL_HOSTS.includes(`[${h}]`);
  } catch {
    return false;
  }
}

function refuse(res: Response, message: string): void {
  res.status(403).type("text/plain").send(`${message}\n`);
}

/**
 * Express middleware enforcing the rules above.
 * @param boundHost the address the listener is bound to (config host of serve --http or console).
 */
export function consoleGuard(cfg: Config, boundHost: string) {
  const { hosts, origins } = consoleAllowList(cfg, boundHost);
  const publicOrigin = cfg.console.publicUrl ? new URL(cfg.console.publicUrl).origin : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    const host = hostName(req.headers.host);
    if (!host || !hosts.has(host)) return refuse(res, `Host ${req.headers.host ?? "(none)"} is not allowed`);
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, origins)) {
      return refuse(res, `Origin ${origin} is not allowed`);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      const own = origin ?? refererOrigin(req.headers.referer);
      if (own !== undefined && own !== publicOrigin && !sameOrigin(own, req.headers.host ?? "")) {
        return refuse(res, `Cross-origin ${req.method} from ${own} refused`);
      }
    }
    next();
  };
}

function refererOrigin(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

function sameOrigin(origin: string, hostHeader: string): boolean {
  try {
    return new URL(origin).host === hostHeader.toLowerCase();
  } catch {
    return false;
  }
}
