import jsep from "jsep";
import { TwError } from "../errors.js";
import * as ind from "./indicators.js";
import type { Bars, IndicatorCache } from "./types.js";

/**
 * The rules DSL: boolean/arithmetic expressions over named price series and indicators, e.g.
 * `ema(close,5) > ema(close,20) and adx(14) > 25`. Parsed by jsep (a small, maintained expression
 * parser) into an AST that is checked against an allow-list and evaluated vectorised over a whole
 * symbol — never `eval`, never property access, so names like `constructor` or `process` can reach
 * nothing. Every indicator is causal, so a rule's value at bar i uses bars ≤ i only.
 *
 * Semantics: comparisons and logic yield 1/0; a comparison with NaN (warm-up) is false; `and`/`or`/
 * `not` (also `&&`/`||`/`!`) treat non-zero, non-NaN values as true. Period arguments must be
 * integer literals.
 */

// jsep is configured once per process; word operators are additions, not replacements.
jsep.addBinaryOp("or", 1);
jsep.addBinaryOp("and", 2);
jsep.addUnaryOp("not");

type Val = number | Float64Array;

const SERIES = ["open", "high", "low", "close", "volume"] as const;
const MAX_LEN = 1000;
const MAX_NODES = 200;
const MAX_PERIOD = 100_000;

interface Ctx {
  bars: Bars;
  n: number;
  cache: IndicatorCache;
  /** Cache key prefix (symbol) so one cache can serve several symbols. */
  prefix: string;
}

/** A function of the DSL: `[min, max]` arguments and an evaluator. */
interface Fn {
  args: [number, number];
  doc: string;
  eval(c: Ctx, a: Val[], key: string): Val;
}

function int(v: Val, fn: string, what = "period"): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_PERIOD) {
    throw invalid(`${fn}: ${what} must be an integer literal between 1 and ${MAX_PERIOD}`);
  }
  return v;
}

function num(v: Val, fn: string, what: string): number {
  if (typeof v !== "number") throw invalid(`${fn}: ${what} must be a number literal`);
  return v;
}

function series(v: Val, fn: string): Float64Array {
  if (typeof v === "number") throw invalid(`${fn}: first argument must be a series such as close`);
  return v;
}

/** `f(series, n)` or `f(n)` on close. */
function seriesAndPeriod(c: Ctx, a: Val[], fn: string): [Float64Array, number] {
  return a.length === 1 ? [c.bars.close, int(a[0], fn)] : [series(a[0], fn), int(a[1], fn)];
}

function cached(c: Ctx, key: string, make: () => Float64Array): Float64Array {
  const k = `${c.prefix}|${key}`;
  let v = c.cache.get(k);
  if (!v) {
    v = make();
    c.cache.set(k, v);
  }
  return v;
}

const FNS: Record<string, Fn> = {
  sma: {
    args: [1, 2],
    doc: "sma(series, n)",
    eval: (c, a, k) => cached(c, k, () => ind.sma(...seriesAndPeriod(c, a, "sma"))),
  },
  ema: {
    args: [1, 2],
    doc: "ema(series, n)",
    eval: (c, a, k) => cached(c, k, () => ind.ema(...seriesAndPeriod(c, a, "ema"))),
  },
  rsi: {
    args: [1, 2],
    doc: "rsi(series, n)",
    eval: (c, a, k) => cached(c, k, () => ind.rsi(...seriesAndPeriod(c, a, "rsi"))),
  },
  zscore: {
    args: [1, 2],
    doc: "zscore(series, n)",
    eval: (c, a, k) => cached(c, k, () => ind.zscore(...seriesAndPeriod(c, a, "zscore"))),
  },
  vol: {
    args: [1, 1],
    doc: "vol(n) realised vol of close",
    eval: (c, a, k) => cached(c, k, () => ind.realizedVol(c.bars.close, int(a[0], "vol"))),
  },
  atr: {
    args: [1, 1],
    doc: "atr(n)",
    eval: (c, a, k) => cached(c, k, () => ind.atr(c.bars.high, c.bars.low, c.bars.close, int(a[0], "atr"))),
  },
  adx: {
    args: [1, 1],
    doc: "adx(n)",
    eval: (c, a, k) =>
      cached(c, k, () => ind.adx(c.bars.high, c.bars.low, c.bars.close, int(a[0], "adx")).adx),
  },
  plus_di: {
    args: [1, 1],
    doc: "plus_di(n)",
    eval: (c, a, k) =>
      cached(c, k, () => ind.adx(c.bars.high, c.bars.low, c.bars.close, int(a[0], "plus_di")).plusDi),
  },
  minus_di: {
    args: [1, 1],
    doc: "minus_di(n)",
    eval: (c, a, k) =>
      cached(c, k, () => ind.adx(c.bars.high, c.bars.low, c.bars.close, int(a[0], "minus_di")).minusDi),
  },
  donchian_high: {
    args: [1, 1],
    doc: "donchian_high(n)",
    eval: (c, a, k) =>
      cached(c, k, () => ind.donchian(c.bars.high, c.bars.low, int(a[0], "donchian_high")).upper),
  },
  donchian_low: {
    args: [1, 1],
    doc: "donchian_low(n)",
    eval: (c, a, k) =>
      cached(c, k, () => ind.donchian(c.bars.high, c.bars.low, int(a[0], "donchian_low")).lower),
  },
  bb_upper: {
    args: [2, 2],
    doc: "bb_upper(n, k)",
    eval: (c, a, k) =>
      cached(
        c,
        k,
        () => ind.bollinger(c.bars.close, int(a[0], "bb_upper"), num(a[1], "bb_upper", "k")).upper,
      ),
  },
  bb_lower: {
    args: [2, 2],
    doc: "bb_lower(n, k)",
    eval: (c, a, k) =>
      cached(
        c,
        k,
        () => ind.bollinger(c.bars.close, int(a[0], "bb_lower"), num(a[1], "bb_lower", "k")).lower,
      ),
  },
  macd: {
    args: [3, 3],
    doc: "macd(fast, slow, signal) line",
    eval: (c, a, k) =>
      cached(
        c,
        k,
        () => ind.macd(c.bars.close, int(a[0], "macd"), int(a[1], "macd"), int(a[2], "macd")).macd,
      ),
  },
  macd_signal: {
    args: [3, 3],
    doc: "macd_signal(fast, slow, signal)",
    eval: (c, a, k) =>
      cached(
        c,
        k,
        () =>
          ind.macd(c.bars.close, int(a[0], "macd_signal"), int(a[1], "macd_signal"), int(a[2], "macd_signal"))
            .signal,
      ),
  },
  macd_hist: {
    args: [3, 3],
    doc: "macd_hist(fast, slow, signal)",
    eval: (c, a, k) =>
      cached(
        c,
        k,
        () =>
          ind.macd(c.bars.close, int(a[0], "macd_hist"), int(a[1], "macd_hist"), int(a[2], "macd_hist")).hist,
      ),
  },
  prev: {
    args: [1, 2],
    doc: "prev(series, k=1) value k bars ago",
    eval: (c, a) => {
      const s = series(a[0], "prev");
      const lag = a.length > 1 ? int(a[1], "prev", "lag") : 1;
      const out = new Float64Array(c.n).fill(Number.NaN);
      for (let i = lag; i < c.n; i++) out[i] = s[i - lag];
      return out;
    },
  },
  cross_above: { args: [2, 2], doc: "cross_above(a, b)", eval: (c, a) => cross(c, a[0], a[1], 1) },
  cross_below: { args: [2, 2], doc: "cross_below(a, b)", eval: (c, a) => cross(c, a[0], a[1], -1) },
  abs: { args: [1, 1], doc: "abs(x)", eval: (c, a) => map1(c, a[0], Math.abs) },
  min: { args: [2, 2], doc: "min(a, b)", eval: (c, a) => map2(c, a[0], a[1], Math.min) },
  max: { args: [2, 2], doc: "max(a, b)", eval: (c, a) => map2(c, a[0], a[1], Math.max) },
};

function at(v: Val, i: number): number {
  return typeof v === "number" ? v : v[i];
}

function map1(c: Ctx, x: Val, f: (a: number) => number): Val {
  if (typeof x === "number") return f(x);
  const out = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) out[i] = f(x[i]);
  return out;
}

function map2(c: Ctx, x: Val, y: Val, f: (a: number, b: number) => number): Val {
  if (typeof x === "number" && typeof y === "number") return f(x, y);
  const out = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) out[i] = f(at(x, i), at(y, i));
  return out;
}

function cross(c: Ctx, x: Val, y: Val, dir: 1 | -1): Float64Array {
  const out = new Float64Array(c.n);
  for (let i = 1; i < c.n; i++) {
    const d0 = dir * (at(x, i - 1) - at(y, i - 1));
    const d1 = dir * (at(x, i) - at(y, i));
    out[i] = d0 <= 0 && d1 > 0 ? 1 : 0;
  }
  return out;
}

const truthy = (v: number): boolean => v !== 0 && !Number.isNaN(v);

const BINARY: Record<string, (a: number, b: number) => number> = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => a / b,
  ">": (a, b) => (a > b ? 1 : 0),
  "<": (a, b) => (a < b ? 1 : 0),
  ">=": (a, b) => (a >= b ? 1 : 0),
  "<=": (a, b) => (a <= b ? 1 : 0),
  "==": (a, b) => (a === b ? 1 : 0),
  "!=": (a, b) => (a !== b && !Number.isNaN(a) && !Number.isNaN(b) ? 1 : 0),
  and: (a, b) => (truthy(a) && truthy(b) ? 1 : 0),
  or: (a, b) => (truthy(a) || truthy(b) ? 1 : 0),
};
BINARY["&&"] = BINARY.and;
BINARY["||"] = BINARY.or;

function invalid(msg: string): TwError {
  return new TwError("INVALID_INPUT", `rules: ${msg}.`, {
    hint: `Use the series ${SERIES.join(", ")}, numbers, operators + - * / > < >= <= == != and or not, and the functions ${Object.keys(FNS).join(", ")}.`,
  });
}

/** A parsed, validated rule; evaluate it per symbol with {@link evaluateRule}. */
export interface CompiledRule {
  source: string;
  ast: jsep.Expression;
}

/**
 * Parses and validates an expression.
 * @throws TwError INVALID_INPUT for syntax errors (with the character position), unknown names or
 *   functions, property access, wrong argument counts, strings, and over-long expressions.
 */
export function compileRule(source: string, label = "expression"): CompiledRule {
  if (source.length > MAX_LEN) throw invalid(`${label} is longer than ${MAX_LEN} characters`);
  let ast: jsep.Expression;
  try {
    ast = jsep(source);
  } catch (e) {
    const err = e as { description?: string; index?: number; message: string };
    throw invalid(
      `syntax error in ${label} at character ${err.index ?? "?"}: ${err.description ?? err.message}`,
    );
  }
  let nodes = 0;
  const check = (node: jsep.Expression): void => {
    if (++nodes > MAX_NODES) throw invalid(`${label} has more than ${MAX_NODES} terms`);
    switch (node.type) {
      case "Literal": {
        const v = (node as jsep.Literal).value;
        if (typeof v !== "number" && typeof v !== "boolean") {
          throw invalid(
            `${label}: only number and true/false literals are allowed (got ${(node as jsep.Literal).raw})`,
          );
        }
        return;
      }
      case "Identifier": {
        const name = (node as jsep.Identifier).name;
        if (!(SERIES as readonly string[]).includes(name)) {
          const hint = Object.hasOwn(FNS, name)
            ? ` (${name} is a function: call it, e.g. ${FNS[name].doc})`
            : "";
          throw invalid(`unknown name "${name}" in ${label}${hint}; series are ${SERIES.join(", ")}`);
        }
        return;
      }
      case "BinaryExpression": {
        const b = node as jsep.BinaryExpression;
        if (!Object.hasOwn(BINARY, b.operator))
          throw invalid(`operator "${b.operator}" is not allowed in ${label}`);
        check(b.left);
        check(b.right);
        return;
      }
      case "UnaryExpression": {
        const u = node as jsep.UnaryExpression;
        if (!["-", "+", "!", "not"].includes(u.operator))
          throw invalid(`operator "${u.operator}" is not allowed in ${label}`);
        check(u.argument);
        return;
      }
      case "CallExpression": {
        const c = node as jsep.CallExpression;
        if (c.callee.type !== "Identifier") {
          check(c.callee);
          throw invalid(`${label}: only plain function calls such as ema(close, 20) are allowed`);
        }
        const name = (c.callee as jsep.Identifier).name;
        if (!Object.hasOwn(FNS, name)) {
          throw invalid(
            `unknown function "${name}" in ${label}; known functions are ${Object.keys(FNS).join(", ")}`,
          );
        }
        const [lo, hi] = FNS[name].args;
        if (c.arguments.length < lo || c.arguments.length > hi) {
          throw invalid(`${name} takes ${lo === hi ? lo : `${lo} to ${hi}`} argument(s): ${FNS[name].doc}`);
        }
        c.arguments.forEach(check);
        return;
      }
      case "MemberExpression": {
        check((node as jsep.MemberExpression).object);
        throw invalid(`${label}: property access (a.b, a[b]) is not allowed`);
      }
      default:
        throw invalid(`${label}: ${node.type} is not allowed`);
    }
  };
  check(ast);
  return { source, ast };
}

function keyOf(node: jsep.Expression): string {
  switch (node.type) {
    case "Literal":
      return String((node as jsep.Literal).value);
    case "Identifier":
      return (node as jsep.Identifier).name;
    case "CallExpression": {
      const c = node as jsep.CallExpression;
      return `${(c.callee as jsep.Identifier).name}(${c.arguments.map(keyOf).join(",")})`;
    }
    case "UnaryExpression": {
      const u = node as jsep.UnaryExpression;
      return `(${u.operator} ${keyOf(u.argument)})`;
    }
    default: {
      const b = node as jsep.BinaryExpression;
      return `(${keyOf(b.left)} ${b.operator} ${keyOf(b.right)})`;
    }
  }
}

function evalNode(node: jsep.Expression, c: Ctx): Val {
  switch (node.type) {
    case "Literal": {
      const v = (node as jsep.Literal).value;
      return typeof v === "boolean" ? (v ? 1 : 0) : (v as number);
    }
    case "Identifier":
      return c.bars[(node as jsep.Identifier).name as (typeof SERIES)[number]];
    case "UnaryExpression": {
      const u = node as jsep.UnaryExpression;
      const v = evalNode(u.argument, c);
      if (u.operator === "-") return map1(c, v, (a) => -a);
      if (u.operator === "+") return v;
      return map1(c, v, (a) => (truthy(a) ? 0 : 1));
    }
    case "BinaryExpression": {
      const b = node as jsep.BinaryExpression;
      return map2(c, evalNode(b.left, c), evalNode(b.right, c), BINARY[b.operator]);
    }
    default: {
      const call = node as jsep.CallExpression;
      const fn = FNS[(call.callee as jsep.Identifier).name];
      return fn.eval(
        c,
        call.arguments.map((a) => evalNode(a, c)),
        keyOf(node),
      );
    }
  }
}

/**
 * Evaluates a compiled rule over one symbol's bars: a 0/1 array (1 where the rule holds).
 * @param cache indicator memo shared across rules/variants; `prefix` separates symbols in it.
 * @throws TwError INVALID_INPUT for bad literal arguments (e.g. a non-integer period).
 */
export function evaluateRule(
  rule: CompiledRule,
  bars: Bars,
  cache: IndicatorCache,
  prefix: string,
): Float64Array {
  const c: Ctx = { bars, n: bars.close.length, cache, prefix };
  const v = evalNode(rule.ast, c);
  const out = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) out[i] = truthy(at(v, i)) ? 1 : 0;
  return out;
}

/** Names the DSL knows (for strategy_list and docs). */
export const RULE_VOCABULARY = {
  series: [...SERIES],
  functions: Object.values(FNS).map((f) => f.doc),
  operators: ["+", "-", "*", "/", ">", "<", ">=", "<=", "==", "!=", "and", "or", "not", "&&", "||", "!"],
};
