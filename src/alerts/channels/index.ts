import type { Config } from "../../config.js";
import type { AlertSecrets } from "../../secrets.js";
import { telegramChannel } from "./telegram.js";
import type { Channel } from "./types.js";
import { webhookChannel } from "./webhook.js";

/**
 * The configured channels: the `TW_ALERT_WEBHOOK_URL` hook (`webhook:env`), each `alerts.webhooks[]`
 * entry (`webhook:<name>`; its own secret from `secretEnv`, else `TW_ALERT_WEBHOOK_SECRET`), and
 * Telegram when both the bot token and the chat id are set. Half-configured channels are reported in
 * `problems` (and left out) instead of failing start-up: a missing alert channel must not stop an
 * operator from halting or approving.
 */
export function buildChannels(
  cfg: Config["alerts"],
  secrets: AlertSecrets,
  userAgent: string,
): { channels: Channel[]; problems: string[] } {
  const channels: Channel[] = [];
  const problems: string[] = [];
  const timeoutMs = cfg.delivery.timeoutMs;
  const names = new Set<string>();
  if (cfg.webhookUrl) {
    names.add("env");
    channels.push(
      webhookChannel({
        name: "env",
        url: cfg.webhookUrl,
        minSeverity: cfg.minSeverity,
        secret: secrets.webhookSecret,
        timeoutMs,
        userAgent,
      }),
    );
  }
  for (const h of cfg.webhooks) {
    if (names.has(h.name)) {
      problems.push(
        `alerts.webhooks: the name "${h.name}" is used twice (or is "env"); the second is ignored.`,
      );
      continue;
    }
    names.add(h.name);
    if (h.secretEnv && !secrets.webhookSecrets.has(h.name)) {
      problems.push(
        `alerts.webhooks "${h.name}": ${h.secretEnv} is not set; its bodies are signed with TW_ALERT_WEBHOOK_SECRET, if any.`,
      );
    }
    channels.push(
      webhookChannel({
        name: h.name,
        url: h.url,
        minSeverity: h.minSeverity,
        secret: secrets.webhookSecrets.get(h.name) ?? secrets.webhookSecret,
        timeoutMs,
        userAgent,
      }),
    );
  }
  const { telegramBotToken: token } = secrets;
  const chatId = cfg.telegram.chatId;
  if (token && chatId) {
    channels.push(
      telegramChannel({
        apiUrl: cfg.telegram.apiUrl,
        token,
        chatId,
        minSeverity: cfg.telegram.minSeverity ?? cfg.minSeverity,
        timeoutMs,
        userAgent,
      }),
    );
  } else if (token || chatId) {
    problems.push(
      token
        ? "TW_TELEGRAM_BOT_TOKEN is set but TW_TELEGRAM_CHAT_ID is not: Telegram alerts are off."
        : "TW_TELEGRAM_CHAT_ID is set but TW_TELEGRAM_BOT_TOKEN is not: Telegram alerts are off.",
    );
  }
  return { channels, problems };
}
