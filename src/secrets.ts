import { readFileSync } from "node:fs";
import type { Config } from "./config.js";
import { TwError } from "./errors.js";

/**
 * Exchange secrets (DESIGN.md §8): only from the environment or the JSON file named by
 * `config.secretsFile` (environment wins). Never from a tool argument, never logged, returned or
 * audited: values are wrapped in {@link Secret}, whose JSON/string forms are `[redacted]`.
 *
 * Environment: `HL_PRIVATE_KEY` (agent-wallet key, 0x + 64 hex), `HL_ACCOUNT_ADDRESS` (master account,
 * 0x + 40 hex; defaults to the key's address); per ccxt exchange `<ID>_API_KEY`, `<ID>_API_SECRET`,
 * `<ID>_API_PASSWORD` (e.g. `OKX_API_KEY`). File: `{ "hyperliquid": { "privateKey", "accountAddress" },
 * "ccxt": { "okx": { "apiKey", "secret", "password" } } }`.
 */

/** Every secret value this process has loaded (for {@link scrubSecrets}). */
const loaded = new Set<string>();

/**
 * The text with every loaded secret value replaced by `[redacted]` — in the forms a library may
 * print it: as given, hex without `0x`, and (for hex keys) the decimal of its integer value (viem
 * reports an out-of-range private key as a bigint). Used on error messages before they are logged.
 */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const v of loaded) {
    const forms = [v, v.replace(/^0x/i, "")];
    if (/^0x[0-9a-fA-F]+$/.test(v)) forms.push(BigInt(v).toString(10));
    for (const f of forms)
      if (f.length >= 8) out = out.split(f).join("[redacted]").split(f.toLowerCase()).join("[redacted]");
  }
  return out;
}

/** A secret value: `reveal()` to use it; every other conversion prints `[redacted]`. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    loaded.add(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "[redacted]";
  }
}

/** Hyperliquid credentials. */
export interface HlSecrets {
  privateKey: Secret;
  /** Master account address (public); null = the key's own address. */
  accountAddress: `0x${string}` | null;
}

/** ccxt credentials of one exchange. */
export interface CcxtSecrets {
  apiKey: Secret;
  secret: Secret;
  password: Secret | null;
}

interface SecretsFile {
  hyperliquid?: { privateKey?: string; accountAddress?: string };
  ccxt?: Record<string, { apiKey?: string; secret?: string; password?: string }>;
  alerts?: { webhookSecret?: string; telegramBotToken?: string; webhookSecrets?: Record<string, string> };
  llm?: { apiKey?: string };
}

function readFile(cfg: Config): SecretsFile {
  if (!cfg.secretsFile) return {};
  try {
    return JSON.parse(readFileSync(cfg.secretsFile, "utf8")) as SecretsFile;
  } catch {
    // The message must not echo file content: it may hold a key.
    throw new TwError("CONFIG_INVALID", `Secrets file ${cfg.secretsFile} cannot be read as JSON.`, {
      hint: "Fix the file named by secretsFile (TW_SECRETS_FILE).",
    });
  }
}

/** secp256k1 group order n: a private key k must satisfy 0 < k < n (SEC 2, §2.4.1). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function onCurve(hexKey: string): boolean {
  const k = BigInt(hexKey);
  return k > 0n && k < SECP256K1_N;
}

/**
 * Checks at start-up whatever exchange secrets the environment or secrets file holds, so a bad key
 * stops the server with CONFIG_INVALID naming the variable (never its value) instead of failing
 * later inside a tool call. Absent secrets are fine (paper and public data need none).
 * @throws TwError CONFIG_INVALID.
 */
export function checkSecrets(cfg: Config, env: NodeJS.ProcessEnv = process.env): void {
  const file = readFile(cfg);
  if (env.HL_PRIVATE_KEY !== undefined || file.hyperliquid?.privateKey !== undefined)
    hyperliquidSecrets(cfg, env);
}

/**
 * Hyperliquid credentials.
 * @throws TwError CONFIG_INVALID when no key is configured or it is malformed or out of range.
 */
export function hyperliquidSecrets(cfg: Config, env: NodeJS.ProcessEnv = process.env): HlSecrets {
  const file = readFile(cfg).hyperliquid ?? {};
  const key = env.HL_PRIVATE_KEY ?? file.privateKey;
  if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key) || !onCurve(key)) {
    throw new TwError(
      "CONFIG_INVALID",
      "HL_PRIVATE_KEY is missing or not a valid secp256k1 private key (0x + 64 hex, between 1 and the curve order).",
      {
        hint: "The operator sets HL_PRIVATE_KEY in the environment or in the secrets file; it is never passed to a tool.",
      },
    );
  }
  const addr = env.HL_ACCOUNT_ADDRESS ?? file.accountAddress ?? null;
  if (addr !== null && !/^0x[0-9a-fA-F]{40}$/.test(addr)) {
    throw new TwError("CONFIG_INVALID", "HL_ACCOUNT_ADDRESS must be 0x + 40 hex.");
  }
  return { privateKey: new Secret(key), accountAddress: addr as `0x${string}` | null };
}

/**
 * ccxt credentials of an exchange id (`okx`, `bitget`, `binanceusdm`).
 * @throws TwError CONFIG_INVALID when key or secret is missing.
 */
export function ccxtSecrets(
  cfg: Config,
  exchangeId: string,
  env: NodeJS.ProcessEnv = process.env,
): CcxtSecrets {
  const file = readFile(cfg).ccxt?.[exchangeId] ?? {};
  const p = exchangeId.toUpperCase();
  const apiKey = env[`${p}_API_KEY`] ?? file.apiKey;
  const secret = env[`${p}_API_SECRET`] ?? file.secret;
  const password = env[`${p}_API_PASSWORD`] ?? file.password;
  if (!apiKey || !secret) {
    throw new TwError("CONFIG_INVALID", `${exchangeId} trading needs ${p}_API_KEY and ${p}_API_SECRET.`, {
      hint: "The operator sets them in the environment or the secrets file; they are never passed to a tool.",
    });
  }
  return {
    apiKey: new Secret(apiKey),
    secret: new Secret(secret),
    password: password ? new Secret(password) : null,
  };
}

/** Secrets of the alert channels (docs/alerts.md). Each is null when not configured. */
export interface AlertSecrets {
  /** HMAC-SHA256 key signing every webhook body (`X-Tradewarden-Signature`). */
  webhookSecret: Secret | null;
  /** Per-webhook signing keys by hook name (from each hook's `secretEnv`, or the file's `webhookSecrets`). */
  webhookSecrets: Map<string, Secret>;
  /** Telegram Bot API token. */
  telegramBotToken: Secret | null;
}

/**
 * Alert-channel secrets: `TW_ALERT_WEBHOOK_SECRET`, `TW_TELEGRAM_BOT_TOKEN`, each hook's `secretEnv`
 * variable; else the secrets file's `{ "alerts": { "webhookSecret", "telegramBotToken",
 * "webhookSecrets": { "<hook name>": "..." } } }`. The environment wins.
 * @throws TwError CONFIG_INVALID when the secrets file cannot be read.
 */
export function alertSecrets(cfg: Config, env: NodeJS.ProcessEnv = process.env): AlertSecrets {
  const file = readFile(cfg).alerts ?? {};
  const wrap = (v: string | undefined) => (v ? new Secret(v) : null);
  const perHook = new Map<string, Secret>();
  for (const h of cfg.alerts.webhooks) {
    const v = (h.secretEnv ? env[h.secretEnv] : undefined) ?? file.webhookSecrets?.[h.name];
    if (v) perHook.set(h.name, new Secret(v));
  }
  return {
    webhookSecret: wrap(env.TW_ALERT_WEBHOOK_SECRET || file.webhookSecret),
    webhookSecrets: perHook,
    telegramBotToken: wrap(env.TW_TELEGRAM_BOT_TOKEN || file.telegramBotToken),
  };
}

/**
 * The API key of the cycle's OpenAI-compatible decision endpoint (docs/cycle.md "Who decides"):
 * `TW_LLM_API_KEY`, else the secrets file's `{ "llm": { "apiKey": "..." } }`; null when neither is set
 * (local endpoints need none). Never in config, a tool, a log line, the audit or the database.
 * @throws TwError CONFIG_INVALID when the secrets file cannot be read.
 */
export function llmApiKey(cfg: Config, env: NodeJS.ProcessEnv = process.env): Secret | null {
  const v = env.TW_LLM_API_KEY || readFile(cfg).llm?.apiKey;
  return v ? new Secret(v) : null;
}
