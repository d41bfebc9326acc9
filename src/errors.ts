/**
 * Errors as values with a stable code (DESIGN.md §3). Every refusal and failure that can reach a
 * caller is a {@link TwError}; the registry turns it into a tool error whose structured content is
 * `{ code, message, retryable, hint?, details? }`. Like ccxt's error classes, codes split into
 * retryable (network, rate limit, ambiguous outcome) and non-retryable (policy, validation, exchange
 * rejection).
 */

/** Every code a caller can see. Adding one is an API change: document it in docs/knowledge/. */
export const ERROR_CODES = [
  "FORBIDDEN_SCOPE",
  "INVALID_INPUT",
  "HALTED",
  "REDUCE_ONLY",
  "RATE_LIMITED",
  "IDEMPOTENCY_CONFLICT",
  "MAINNET_BLOCKED",
  "RISK_REJECTED",
  "APPROVAL_REQUIRED",
  "NOT_FOUND",
  "EXCHANGE_UNAVAILABLE",
  "EXCHANGE_REJECTED",
  "STALE_DATA",
  "CONFIG_INVALID",
  "CANCELLED",
  "BUSY",
  "INTERNAL",
] as const;

/** A stable error code (see {@link ERROR_CODES}). */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes that are retryable by default: the same call may succeed later without any change. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  "RATE_LIMITED",
  "EXCHANGE_UNAVAILABLE",
  "STALE_DATA",
  "BUSY",
]);

/** Options of a {@link TwError}. `details` must never hold a secret: it is returned to the caller. */
export interface TwErrorOptions {
  /** Overrides the code's default retryability. */
  retryable?: boolean;
  /** What the caller should do next, e.g. "call order_propose first". */
  hint?: string;
  /** Machine-readable detail (snake_case keys), e.g. `{ retry_after_ms: 1200 }` or failed risk checks. */
  details?: Record<string, unknown>;
  /** The underlying error, kept for logs only (never serialised to callers). */
  cause?: unknown;
}

/**
 * The one error type of tradewarden. Message: one sentence a model can act on, no stack trace, no
 * secret. Thrown by domain code and policy steps; caught by the gate.
 */
export class TwError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: TwErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TwError";
    this.code = code;
    this.retryable = opts.retryable ?? RETRYABLE.has(code);
    this.hint = opts.hint;
    this.details = opts.details;
  }

  /** The JSON shape returned to callers: `{ code, message, retryable, hint?, details? }`. */
  toJSON(): ErrorPayload {
    const out: ErrorPayload = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

/** Structured content of every tool error. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  hint?: string;
  details?: Record<string, unknown>;
}

/** Whether an error is SQLite's "database is locked/busy" (another connection holds the write lock). */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"));
}

/**
 * Normalises anything thrown into a {@link TwError}. Unknown errors become `INTERNAL` with a generic
 * message: their text may carry a stack, a path or a secret, so it goes to the log, not the caller.
 */
export function toTwError(err: unknown): TwError {
  if (err instanceof TwError) return err;
  if (isBusyError(err)) {
    // Nothing was written (SQLite rolls the statement back), so the same call may simply be retried.
    return new TwError("BUSY", "The store is busy with another tradewarden process; nothing was changed.", {
      cause: err,
      hint: "Retry the same call in a moment (with the same idempotency key, if it has one).",
    });
  }
  return new TwError("INTERNAL", "Internal error; the incident was logged. Retry once, then report it.", {
    cause: err,
    retryable: false,
  });
}
