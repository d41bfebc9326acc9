import { z } from "zod";
import { TwError } from "../../errors.js";
import { donchian, emaCrossSignal, rsi } from "../indicators.js";
import { compileRule, evaluateRule } from "../rules.js";
import type { Bars, Frame, IndicatorCache, SignalScratch, Signals, StrategyDef } from "../types.js";

/**
 * Single-asset strategies. Each computes a signal in {−1, 0, 1} per symbol on each bar's close; with
 * several symbols every symbol gets weight 1/k of equity (shared cash). Signals depend on bars ≤ i
 * only; the engine executes them at the next bar's open.
 */

/**
 * Applies a per-symbol signal function to every symbol with equal weights. `fn` receives the array to
 * fill when the caller passed a scratch (else undefined: it allocates).
 */
function perSymbol(
  frame: Frame,
  fn: (bars: Bars, symbol: string, out: Float64Array | undefined) => Float64Array,
  initial = 0,
  scratch?: SignalScratch,
): Signals {
  const k = frame.assets.length;
  const n = frame.time.length;
  if (scratch && (scratch.targets?.length !== k || scratch.targets.some((t) => t.length !== n))) {
    scratch.targets = frame.assets.map(() => new Float64Array(n));
  }
  const targets = frame.assets.map((b, j) => {
    const s = fn(b, frame.symbols[j], scratch?.targets?.[j]);
    if (k > 1) for (let i = 0; i < s.length; i++) s[i] /= k;
    return s;
  });
  return { targets, initial: new Array(k).fill(initial / k) };
}

function memo(cache: IndicatorCache, key: string, make: () => Float64Array): Float64Array {
  let v = cache.get(key);
  if (!v) {
    v = make();
    cache.set(key, v);
  }
  return v;
}

const period = (d: number) => z.number().int().min(1).max(100_000).default(d);

/** Holds a long position from the first bar's open to the end. */
export const buyAndHold: StrategyDef<Record<string, never>> = {
  name: "buy_and_hold",
  description: "Long from the first bar's open to the end (the benchmark). No parameters.",
  kind: "single",
  params: z.object({}).strict(),
  signals: (frame) => perSymbol(frame, (b) => new Float64Array(b.close.length).fill(1), 1),
};

const emaCrossParams = z
  .object({
    fast: period(12).describe("fast EMA period (bars)"),
    slow: period(26).describe("slow EMA period (bars)"),
    allow_short: z.boolean().default(false).describe("short while fast ≤ slow instead of staying flat"),
  })
  .strict();

/** Long while EMA(fast) > EMA(slow) on the close; otherwise flat, or short when allowed. */
export const emaCross: StrategyDef<z.infer<typeof emaCrossParams>> = {
  name: "ema_cross",
  description:
    "Trend following: long while EMA(close, fast) > EMA(close, slow) at the bar close, otherwise flat " +
    "(short when allow_short). Requires fast < slow. Flat during the EMA warm-up.",
  kind: "single",
  params: emaCrossParams,
  signals: (frame, p, _cache, scratch) => {
    if (p.fast >= p.slow)
      throw new TwError("INVALID_INPUT", `ema_cross: fast (${p.fast}) must be below slow (${p.slow}).`);
    // One fused pass (both EMAs inline): cheaper than reading two memoised EMA arrays even across a
    // grid's variants; it allocates only the targets, and nothing with a scratch.
    return perSymbol(
      frame,
      (b, _sym, out) => emaCrossSignal(b.close, p.fast, p.slow, 1, p.allow_short ? -1 : 0, out),
      0,
      scratch,
    );
  },
};

const rsiParams = z
  .object({
    period: period(14).describe("RSI period (bars)"),
    lower: z.number().min(0).max(100).default(30).describe("enter long when RSI < lower"),
    upper: z.number().min(0).max(100).default(70).describe("enter short when RSI > upper (allow_short)"),
    exit: z
      .number()
      .min(0)
      .max(100)
      .default(50)
      .describe("leave a long when RSI ≥ exit, a short when RSI ≤ exit"),
    allow_short: z.boolean().default(false),
  })
  .strict();

/** Mean reversion on Wilder's RSI with entry and exit levels. */
export const rsiReversion: StrategyDef<z.infer<typeof rsiParams>> = {
  name: "rsi_reversion",
  description:
    "Mean reversion: long when RSI(period) < lower, exit when RSI ≥ exit; with allow_short also short " +
    "when RSI > upper, exit when RSI ≤ exit. Requires lower < exit < upper.",
  kind: "single",
  params: rsiParams,
  signals: (frame, p, cache) => {
    if (!(p.lower < p.exit && p.exit < p.upper)) {
      throw new TwError("INVALID_INPUT", "rsi_reversion: need lower < exit < upper.");
    }
    return perSymbol(frame, (b, sym) => {
      const r = memo(cache, `${sym}|rsi(close,${p.period})`, () => rsi(b.close, p.period));
      const out = new Float64Array(r.length);
      let pos = 0;
      for (let i = 0; i < r.length; i++) {
        const v = r[i];
        if (pos > 0 && v >= p.exit) pos = 0;
        else if (pos < 0 && v <= p.exit) pos = 0;
        if (pos === 0 && v < p.lower) pos = 1;
        else if (pos === 0 && p.allow_short && v > p.upper) pos = -1;
        out[i] = pos;
      }
      return out;
    });
  },
};

const donchianParams = z
  .object({
    entry: period(20).describe("breakout lookback (bars)"),
    exit: period(10).describe("exit lookback (bars)"),
    allow_short: z.boolean().default(false),
  })
  .strict();

/** Turtle-style channel breakout. */
export const donchianBreakout: StrategyDef<z.infer<typeof donchianParams>> = {
  name: "donchian_breakout",
  description:
    "Breakout: long when the close exceeds the highest high of the previous `entry` bars; exit when it falls " +
    "below the lowest low of the previous `exit` bars. Shorts mirror it when allow_short.",
  kind: "single",
  params: donchianParams,
  signals: (frame, p) =>
    perSymbol(frame, (b) => {
      const e = donchian(b.high, b.low, p.entry);
      const x = donchian(b.high, b.low, p.exit);
      const out = new Float64Array(b.close.length);
      let pos = 0;
      for (let i = 1; i < out.length; i++) {
        const c = b.close[i];
        if (pos > 0 && c < x.lower[i - 1]) pos = 0;
        else if (pos < 0 && c > x.upper[i - 1]) pos = 0;
        if (pos === 0 && c > e.upper[i - 1]) pos = 1;
        else if (pos === 0 && p.allow_short && c < e.lower[i - 1]) pos = -1;
        out[i] = pos;
      }
      return out;
    }),
};

const rulesParams = z
  .object({
    entry: z
      .string()
      .min(1)
      .max(1000)
      .describe("enter when true, e.g. ema(close,5) > ema(close,20) and adx(14) > 25"),
    exit: z.string().min(1).max(1000).describe("leave when true"),
    side: z.enum(["long", "short"]).default("long"),
  })
  .strict();

/** Entry/exit expressions of the rules DSL (src/backtest/rules.ts). */
export const rulesStrategy: StrategyDef<z.infer<typeof rulesParams>> = {
  name: "rules",
  description:
    "Expression strategy: enter (side long or short) when `entry` is true at the close, leave when `exit` is " +
    "true. Series: open high low close volume; functions: sma ema rsi atr adx plus_di minus_di donchian_high " +
    "donchian_low bb_upper bb_lower macd macd_signal macd_hist vol zscore prev cross_above cross_below abs min max; " +
    "operators + - * / > < >= <= == != and or not.",
  kind: "single",
  params: rulesParams,
  signals: (frame, p, cache) => {
    const entry = compileRule(p.entry, "entry");
    const exit = compileRule(p.exit, "exit");
    const dir = p.side === "long" ? 1 : -1;
    return perSymbol(frame, (b, sym) => {
      const en = evaluateRule(entry, b, cache, sym);
      const ex = evaluateRule(exit, b, cache, sym);
      const out = new Float64Array(en.length);
      let pos = 0;
      for (let i = 0; i < out.length; i++) {
        if (pos !== 0 && ex[i] === 1) pos = 0;
        else if (pos === 0 && en[i] === 1) pos = dir;
        out[i] = pos;
      }
      return out;
    });
  },
};
