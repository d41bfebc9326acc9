import { createHmac } from "node:crypto";
import type { Secret } from "../../secrets.js";
import type { AlertEvent, Severity } from "../types.js";
import { alertPayload } from "./format.js";
import { postJson } from "./http.js";
import type { Channel } from "./types.js";

/**
 * `X-Tradewarden-Signature` of a body: `sha256=` + hex HMAC-SHA256 of the exact body bytes under the
 * shared secret (the GitHub `X-Hub-Signature-256` convention). Receivers recompute it over the raw
 * body and compare in constant time.
 */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * A signed JSON webhook: POST {@link alertPayload} with `X-Tradewarden-Event` (kind),
 * `X-Tradewarden-Delivery` (event id, the same on every retry, for receivers that dedupe) and, when a
 * secret is set, `X-Tradewarden-Signature`. 2xx is delivered.
 */
export function webhookChannel(o: {
  name: string;
  url: string;
  minSeverity: Severity;
  secret: Secret | null;
  timeoutMs: number;
  userAgent: string;
}): Channel {
  return {
    id: `webhook:${o.name}`,
    kind: "webhook",
    minSeverity: o.minSeverity,
    async send(ev: AlertEvent) {
      const body = JSON.stringify(alertPayload(ev));
      const headers: Record<string, string> = {
        "user-agent": o.userAgent,
        "x-tradewarden-event": ev.alert.kind,
        "x-tradewarden-delivery": String(ev.event_id),
      };
      if (o.secret) headers["x-tradewarden-signature"] = signBody(o.secret.reveal(), body);
      const scrub = [o.url, ...(o.secret ? [o.secret.reveal()] : [])];
      return (await postJson(o.url, body, headers, { timeoutMs: o.timeoutMs, scrub })).result;
    },
  };
}
