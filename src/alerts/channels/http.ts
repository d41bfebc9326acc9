import type { SendResult } from "./types.js";

/**
 * One HTTP POST for a channel, with a timeout and no redirects. Failures are described without the
 * URL (it may carry a token: Telegram's path, Slack's webhook path), and every string in `scrub` is
 * removed from anything that is returned.
 * Retryable: network errors, timeouts, 408, 425, 429 and 5xx; other statuses are final.
 */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; scrub: readonly string[] },
): Promise<{ result: SendResult; text: string | null }> {
  const clean = (s: string) =>
    opts.scrub.reduce((acc, secret) => (secret ? acc.split(secret).join("[redacted]") : acc), s);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
      redirect: "manual",
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const error =
      err.name === "TimeoutError" || err.name === "AbortError"
        ? `no answer within ${opts.timeoutMs} ms`
        : `network error: ${err.cause?.code ?? err.name}`;
    return {
      result: { ok: false, status: null, error: clean(error), retryable: true, retryAfterMs: null },
      text: null,
    };
  }
  let text: string | null = null;
  try {
    text = await res.text();
  } catch {
    text = null;
  }
  if (res.status >= 200 && res.status < 300) return { result: { ok: true, status: res.status }, text };
  const retryable = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
  const snippet = text ? `: ${clean(text).slice(0, 200)}` : "";
  return {
    result: {
      ok: false,
      status: res.status,
      error: `HTTP ${res.status}${res.status >= 300 && res.status < 400 ? " (redirects are not followed)" : snippet}`,
      retryable,
      retryAfterMs: retryAfter(res.headers.get("retry-after")),
    },
    text,
  };
}

/** Retry-After (seconds or an HTTP date) in ms, or null. */
export function retryAfter(h: string | null): number | null {
  if (!h) return null;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : null;
}
