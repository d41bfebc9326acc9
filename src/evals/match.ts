import { JSONPath } from "jsonpath-plus";
import type { JsonPathAssert } from "./schema.js";

/**
 * Expectation matching for scenario steps: JSON subsets, JSONPath assertions with numeric tolerance,
 * and `${var}` substitution in arguments. Every function returns problems as strings (empty = pass)
 * so a step reports all its failures at once.
 */

/** Renders a value briefly for a failure message (deterministic: JSON, truncated at 160 chars). */
export function brief(v: unknown): string {
  const s = v === undefined ? "undefined" : JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

const NUMERIC = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

/**
 * A number, or a decimal string (money fields cross the venue boundary as exact decimal strings,
 * e.g. `"104570.5"`), as a number; undefined otherwise.
 */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && NUMERIC.test(v)) return Number(v);
  return undefined;
}

/**
 * Deep equality; numbers within `tol` absolute or `rel` × |expected| when given (both 0 = exact).
 * An expected number also matches a decimal string of that value.
 */
export function deepEqual(actual: unknown, expected: unknown, tol = 0, rel = 0): boolean {
  if (typeof expected === "number") {
    const a = asNumber(actual);
    if (a === undefined) return false;
    const bound = Math.max(tol, rel * Math.abs(expected));
    return bound === 0 ? a === expected : Math.abs(a - expected) <= bound;
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => deepEqual(actual[i], e, tol, rel))
    );
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
    for (const k of keys) if (!deepEqual(a[k], e[k], tol, rel)) return false;
    return true;
  }
  return actual === expected;
}

/**
 * Checks that `actual` contains `expected`: objects by key (extra keys allowed), arrays element by
 * element at the same index (extra elements allowed), scalars by equality.
 * @returns problems, each naming the JSON path (`$.a.b[0]`).
 */
export function subsetProblems(actual: unknown, expected: unknown, path = "$"): string[] {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${brief(actual)}`];
    return expected.flatMap((e, i) => subsetProblems(actual[i], e, `${path}[${i}]`));
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return [`${path}: expected an object, got ${brief(actual)}`];
    }
    const a = actual as Record<string, unknown>;
    return Object.entries(expected as Record<string, unknown>).flatMap(([k, e]) =>
      k in a ? subsetProblems(a[k], e, `${path}.${k}`) : [`${path}.${k}: missing (expected ${brief(e)})`],
    );
  }
  return deepEqual(actual, expected) ? [] : [`${path}: expected ${brief(expected)}, got ${brief(actual)}`];
}

/** All values a JSONPath selects (empty when none). @throws Error on a malformed path. */
export function select(json: unknown, path: string): unknown[] {
  return JSONPath({ path, json: json as object, wrap: true, eval: "safe" }) as unknown[];
}

/** Evaluates one JSONPath assertion. @returns problems (empty = pass). */
export function jsonPathProblems(json: unknown, a: JsonPathAssert): string[] {
  let hits: unknown[];
  try {
    hits = select(json, a.path);
  } catch (e) {
    return [`${a.path}: invalid JSONPath (${(e as Error).message})`];
  }
  const out: string[] = [];
  if (a.count !== undefined && hits.length !== a.count) {
    out.push(`${a.path}: expected ${a.count} match(es), got ${hits.length}`);
  }
  if (a.exists !== undefined && hits.length > 0 !== a.exists) {
    out.push(`${a.path}: expected ${a.exists ? "a match" : "no match"}, got ${hits.length}`);
  }
  const needsValue =
    a.equals !== undefined ||
    a.gt !== undefined ||
    a.gte !== undefined ||
    a.lt !== undefined ||
    a.lte !== undefined ||
    a.contains !== undefined;
  if (!needsValue) return out;
  if (hits.length === 0) return [...out, `${a.path}: no match`];
  const v = hits[0];
  if (a.equals !== undefined && !deepEqual(v, a.equals, a.tolerance ?? 0, a.rel_tolerance ?? 0)) {
    const tol =
      a.tolerance || a.rel_tolerance ? ` (tolerance ${a.tolerance ?? 0}, rel ${a.rel_tolerance ?? 0})` : "";
    out.push(`${a.path}: expected ${brief(a.equals)}${tol}, got ${brief(v)}`);
  }
  const bounds: Array<[keyof JsonPathAssert, (x: number, b: number) => boolean, string]> = [
    ["gt", (x, b) => x > b, ">"],
    ["gte", (x, b) => x >= b, "≥"],
    ["lt", (x, b) => x < b, "<"],
    ["lte", (x, b) => x <= b, "≤"],
  ];
  for (const [key, ok, sym] of bounds) {
    const b = a[key] as number | undefined;
    if (b === undefined) continue;
    const x = asNumber(v);
    if (x === undefined || !ok(x, b)) out.push(`${a.path}: expected ${sym} ${b}, got ${brief(v)}`);
  }
  if (a.contains !== undefined) {
    const found =
      typeof v === "string"
        ? typeof a.contains === "string" && v.includes(a.contains)
        : Array.isArray(v) && v.some((x) => deepEqual(x, a.contains));
    if (!found) out.push(`${a.path}: expected to contain ${brief(a.contains)}, got ${brief(v)}`);
  }
  return out;
}

const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_.]*)\}$/;
const PART = /\$\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;

/**
 * Substitutes `${name}` references in every string of `v`. A string that is exactly one reference
 * takes the variable's value with its type (numbers stay numbers); references inside longer strings
 * are interpolated as text. Dotted names read nested fields (`${env.HL_PRIVATE_KEY}`).
 * @throws Error naming an unknown variable.
 */
export function substitute(v: unknown, vars: Record<string, unknown>): unknown {
  if (typeof v === "string") {
    const whole = WHOLE.exec(v);
    if (whole) return lookup(vars, whole[1]);
    return v.replace(PART, (_m, name: string) => {
      const x = lookup(vars, name);
      return typeof x === "string" ? x : JSON.stringify(x);
    });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)]));
  }
  return v;
}

function lookup(vars: Record<string, unknown>, name: string): unknown {
  let cur: unknown = vars;
  for (const part of name.split(".")) {
    if (cur === null || typeof cur !== "object" || !(part in (cur as object))) {
      throw new Error(`unknown variable \${${name}} (save it in an earlier step)`);
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
