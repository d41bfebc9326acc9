import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/**
 * JSON Schemas of tool inputs and outputs as `tools/list` publishes them: portable and small.
 *
 * - Portable: zod writes `{ "type": ["number", "null"] }` for nullable primitives and primitive
 *   unions; clients that accept one `type` per schema (the Inspector's portability check, several
 *   function-calling APIs) reject that. {@link portable} rewrites every type array into `anyOf` of
 *   single-type schemas.
 * - Small: zod's safe-integer bounds and date-time regexes are dropped. Output schemas keep the
 *   type of every field but drop `required`, `description` (units are stated once, in the tool's
 *   description) and `additionalProperties: false`: the server parses
 *   every result with the tool's full zod schema before it answers (a result missing a field is an
 *   INTERNAL error, never sent), and an open result object lets a later release add a field
 *   without breaking a client that cached the schema. Input schemas stay strict by contract.
 * - Shallow: an output schema lists the result's own fields with their types; objects nested in them
 *   (list items, sub-records) are published as plain `{ "type": "object" }` ({@link shallow}), except
 *   the shared order definition. The result itself carries every field, and the tool description
 *   names the ones that matter; the full depth cost ~12 KB of every tools/list (issue 11 §7 caps the
 *   agent's list at 48 KB).
 */

type Json = Record<string, unknown>;

/** Keywords output schemas leave out (see the module comment; units are in the tool description). */
const OUTPUT_DROPS = new Set(["required", "description"]);

/** Keywords that belong to one JSON type, kept with that branch when a type array is split. */
const TYPE_KEYWORDS: Record<string, readonly string[]> = {
  string: ["minLength", "maxLength", "pattern", "format", "enum"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum"],
  integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum"],
  array: ["items", "prefixItems", "minItems", "maxItems", "uniqueItems"],
  object: ["properties", "required", "additionalProperties", "propertyNames"],
  boolean: ["enum"],
  null: [],
};

/**
 * Rewrites a schema tree in place-free fashion: type arrays become `anyOf` of single types (each
 * branch keeps the keywords of its type, the rest stays on the parent), and, for outputs,
 * `additionalProperties: false` is dropped.
 */
export function portable(schema: unknown, io: "input" | "output"): unknown {
  if (Array.isArray(schema)) return schema.map((s) => portable(s, io));
  if (schema === null || typeof schema !== "object") return schema;
  const src = schema as Json;
  const out: Json = {};
  for (const [k, v] of Object.entries(src)) {
    if (io === "output" && (OUTPUT_DROPS.has(k) || (k === "additionalProperties" && v === false))) continue;
    if (isNoise(src, k, v)) continue;
    // `properties` maps names to schemas; every other object/array value is a schema or list of them.
    if (k === "properties" && v && typeof v === "object") {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([n, s]) => [n, portable(s, io)]));
    } else if (k === "enum" || k === "required" || k === "const" || k === "default" || k === "examples") {
      out[k] = v;
    } else out[k] = portable(v, io);
  }
  if (!Array.isArray(out.type)) return out;
  const types = out.type as string[];
  const { type: _t, ...rest } = out;
  const shared: Json = {};
  const branches: Json[] = types.map((t) => ({ type: t }));
  for (const [k, v] of Object.entries(rest)) {
    const owners = types.filter((t) => TYPE_KEYWORDS[t]?.includes(k));
    if (owners.length === 0) shared[k] = v;
    else for (const b of branches) if (owners.includes(b.type as string)) b[k] = v;
  }
  // `enum` listing null too: the null branch needs no enum of its own.
  return { ...shared, anyOf: branches };
}

/**
 * Keywords zod adds that say nothing a client needs: the ±2^53−1 bounds of every `int()`, the
 * 500-character regex behind `format: "date-time"` (the format already says it; the server checks)
 * and `propertyNames: { type: "string" }` of records (JSON property names are strings).
 */
function isNoise(node: Json, k: string, v: unknown): boolean {
  if (k === "propertyNames" && JSON.stringify(v) === '{"type":"string"}') return true;
  if (k === "minimum" && v === Number.MIN_SAFE_INTEGER) return true;
  if (k === "maximum" && v === Number.MAX_SAFE_INTEGER) return true;
  return k === "pattern" && node.format === "date-time";
}

/** JSON Schema of a zod schema for one direction, portable (and shallow for outputs; see above). */
export function toolJsonSchema(schema: z.ZodType, io: "input" | "output"): Tool["inputSchema"] {
  const js = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Json;
  delete js.$schema;
  const p = portable(js, io) as Json;
  return (io === "output" ? shallow(p, 0) : p) as Tool["inputSchema"];
}

/**
 * Replaces object schemas below the result's own fields by `{ type: "object" }` (a field of the result
 * is at depth 2). Shared `$defs` (an order) are kept at the depth of the schema that holds them, so a
 * result that IS an order, or a list of them, still lists the order's fields.
 */
export function shallow(s: unknown, depth: number): unknown {
  if (Array.isArray(s)) return s.map((x) => shallow(x, depth));
  if (s === null || typeof s !== "object") return s;
  const node = s as Json;
  if (node.type === "object" && node.properties && depth >= 2) return { type: "object" };
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "properties") {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([n, x]) => [n, shallow(x, depth + 2)]));
    } else if (k === "$defs") {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([n, x]) => [n, shallow(x, depth)]));
    } else out[k] = k === "enum" || k === "const" ? v : shallow(v, depth);
  }
  return out;
}

/** Type of each field of the error payload `{ code, message, retryable, hint?, details? }`. */
const ERROR_FIELDS: Record<string, string> = {
  code: "string",
  message: "string",
  retryable: "boolean",
  hint: "string",
  details: "object",
};

/**
 * MCP clients (the TypeScript SDK's Client among them) validate `structuredContent` against the
 * output schema even on `isError` results, and our errors carry `{ code, message, retryable, hint?,
 * details? }`. Output schemas are open and list no required fields, so an error payload validates
 * against any of them — unless a result declares one of those names with another type. Returns the
 * first such field (`message: number`), or null.
 */
export function errorFieldClash(schema: unknown): string | null {
  const s = schema as Json;
  for (const part of [s, ...((s.allOf as Json[] | undefined) ?? [])]) {
    const props = (part.properties ?? {}) as Record<string, Json>;
    for (const [name, type] of Object.entries(ERROR_FIELDS)) {
      const p = props[name];
      if (!p) continue;
      const types = [p.type, ...((p.anyOf as Json[] | undefined) ?? []).map((b) => b.type)];
      if (!types.includes(type)) return `${name}: ${JSON.stringify(p)}`;
    }
  }
  return null;
}

/** Whether any node of a schema tree has a `type` array (what {@link portable} removes). */
export function hasTypeArray(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.some(hasTypeArray);
  if (schema === null || typeof schema !== "object") return false;
  const o = schema as Json;
  if (Array.isArray(o.type)) return true;
  return Object.entries(o).some(([k, v]) => k !== "enum" && k !== "required" && hasTypeArray(v));
}
