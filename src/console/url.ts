import type { Config } from "../config.js";

/**
 * Where the console is reached. One URL for both ways of serving it: `serve --http` mounts it on
 * `http.host:http.port`, and `tradewarden console` binds `console.host ?? http.host` and
 * `console.port ?? http.port` — the same address unless the operator splits them. `console.publicUrl`
 * overrides it (a reverse proxy, a host name other people use).
 */

/** Host and port `tradewarden console` binds. */
export function consoleBind(cfg: Config): { host: string; port: number } {
  return { host: cfg.console.host ?? cfg.http.host, port: cfg.console.port ?? cfg.http.port };
}

/** Absolute base URL of the console, e.g. `http://127.0.0.1:8787/console` (no trailing slash). */
export function consoleBaseUrl(cfg: Config): string {
  if (cfg.console.publicUrl) return `${cfg.console.publicUrl.replace(/\/$/, "")}/console`;
  const { host, port } = consoleBind(cfg);
  // A wildcard bind is not an address a browser can open: point at this machine instead.
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host;
  const h = shown.includes(":") && !shown.startsWith("[") ? `[${shown}]` : shown;
  return `http://${h}:${port}/console`;
}

/**
 * Absolute URL of one intent's approval page (`GET /console/intents/:id`), for URL-mode elicitation
 * and APPROVAL_REQUIRED details. The id is path-encoded.
 */
export function consoleIntentUrl(cfg: Config, intentId: string): string {
  return `${consoleBaseUrl(cfg)}/intents/${encodeURIComponent(intentId)}`;
}
