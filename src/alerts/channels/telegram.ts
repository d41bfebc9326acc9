import type { Secret } from "../../secrets.js";
import type { AlertEvent, Severity } from "../types.js";
import { telegramText } from "./format.js";
import { postJson } from "./http.js";
import type { Channel } from "./types.js";

/**
 * Telegram Bot API `sendMessage` (https://core.telegram.org/bots/api#sendmessage) to one chat, HTML
 * parse mode. Delivered when the API answers 200 with `ok: true`; a 429's
 * `parameters.retry_after` (seconds) sets the next attempt. The token is part of the request path,
 * so it is scrubbed from every error and never logged.
 */
export function telegramChannel(o: {
  apiUrl: string;
  token: Secret;
  chatId: string;
  minSeverity: Severity;
  timeoutMs: number;
  userAgent: string;
}): Channel {
  return {
    id: "telegram",
    kind: "telegram",
    minSeverity: o.minSeverity,
    async send(ev: AlertEvent) {
      const token = o.token.reveal();
      const url = `${o.apiUrl.replace(/\/+$/, "")}/bot${token}/sendMessage`;
      const body = JSON.stringify({
        chat_id: o.chatId,
        text: telegramText(ev),
        parse_mode: "HTML",
        disable_web_page_preview: true,
      });
      const { result, text } = await postJson(
        url,
        body,
        { "user-agent": o.userAgent },
        {
          timeoutMs: o.timeoutMs,
          scrub: [token, url],
        },
      );
      let answer: { ok?: boolean; description?: string; parameters?: { retry_after?: number } } | null = null;
      try {
        answer = text ? JSON.parse(text) : null;
      } catch {
        answer = null;
      }
      if (result.ok) {
        if (answer?.ok === true) return result;
        return {
          ok: false,
          status: result.status,
          error: "Telegram answered without ok: true",
          retryable: true,
          retryAfterMs: null,
        };
      }
      const ra = answer?.parameters?.retry_after;
      return typeof ra === "number" ? { ...result, retryAfterMs: ra * 1000 } : result;
    },
  };
}
