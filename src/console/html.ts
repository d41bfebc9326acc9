/**
 * Server-side HTML for the console: a tagged template that escapes every interpolated value unless
 * it is already {@link Html} (so markup is built only from literals and escaped data), plus small
 * formatting helpers. Numbers arrive as decimal strings or floats and are shown, never computed.
 */

/** Markup that is safe to embed as is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (v === null || v === undefined || v === false) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

/**
 * `html\`<p>${text}</p>\`` → Html with `text` escaped. Arrays are concatenated; null, undefined and
 * false render as nothing.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** ISO-8601 UTC of a ms timestamp, without milliseconds ("—" for null/0). */
export function fmtTime(ms: number | null | undefined): string {
  if (!ms) return "—";
  return new Date(ms).toISOString().replace(".000Z", "Z").replace("T", " ");
}

/** A ms UTC time as a `<time>` element (machine-readable datetime, readable text). */
export function time(ms: number | null | undefined): Html {
  if (!ms) return html`—`;
  return html`<time datetime="${new Date(ms).toISOString()}">${fmtTime(ms)}</time>`;
}

/** A number (or decimal string) with fixed decimals; "—" when absent or not finite. */
export function num(v: number | string | null | undefined, decimals = 2): string {
  if (v === null || v === undefined || v === "") return "—";
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n)
    ? n.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : String(v);
}

/** A fraction as a percentage, e.g. 0.0213 → "2.13%". */
export function pct(v: number | null | undefined, decimals = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : `${(v * 100).toFixed(decimals)}%`;
}

/** Compact JSON for detail cells (truncated to `max` characters). */
export function json(v: unknown, max = 400): string {
  const s = JSON.stringify(v ?? null);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
