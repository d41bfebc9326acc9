import { pino, type Logger } from "pino";
import { scrubSecrets } from "./secrets.js";

/**
 * Paths redacted in every log line: keys, tokens, signatures and authorization headers. pino's
 * redaction works on object paths, so secrets must be logged as fields (never interpolated into
 * messages); the config loader never logs secret values at all.
 */
export const REDACT_PATHS = [
  "*.privateKey",
  "*.private_key",
  "*.secret",
  "*.apiKey",
  "*.api_key",
  "*.password",
  "*.token",
  "*.authorization",
  "*.Authorization",
  "req.headers.authorization",
  "headers.authorization",
  "*.signature",
  "privateKey",
  "secret",
  "token",
  "authorization",
];

/**
 * Creates the process logger: pino JSON to **stderr** (fd 2) only, so stdout stays reserved for MCP
 * messages in stdio mode.
 * @param level pino level name or "silent".
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { name: "tradewarden" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      // Libraries put values into error messages (a malformed key in decimal, a URL with a token):
      // logged errors are scrubbed of every secret this process holds.
      serializers: { err: (e: unknown) => scrubbed(pino.stdSerializers.err(e as Error)) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

function scrubbed<T>(v: T): T {
  return JSON.parse(scrubSecrets(JSON.stringify(v))) as T;
}

export type { Logger };
