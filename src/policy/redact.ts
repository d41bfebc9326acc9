/**
 * Redaction of secrets from anything that is logged, audited or returned. Key names that are secret
 * by convention are replaced wholesale; string values that look like a private key (0x + 64 hex) or
 * one of our bearer tokens are replaced wherever they appear.
 */

const SECRET_KEY =
  /^(api_?key|apikey|secret|api_?secret|private_?key|password|passphrase|token|signature|authorization|mnemonic)$/i;
const SECRET_VALUE = /(0x[0-9a-fA-F]{64})|(tw_[A-Za-z0-9_-]{40,})/g;

/** Replaces secret-looking values inside a string. */
export function redactString(s: string): string {
  return s.replace(SECRET_VALUE, "[redacted]");
}

/** Returns a deep copy of `v` with secret keys and secret-looking strings redacted. */
export function redact(v: unknown, depth = 0): unknown {
  if (depth > 20) return "[depth]";
  if (typeof v === "string") return redactString(v);
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(x, depth + 1);
    }
    return out;
  }
  return v;
}
