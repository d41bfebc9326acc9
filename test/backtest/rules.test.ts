import { join } from "node:path";
import { ADX, EMA, RSI } from "technicalindicators";
import { describe, expect, it } from "vitest";
import { compileRule, evaluateRule } from "../../src/backtest/rules.js";
import { TwError } from "../../src/errors.js";
import { loadCandleColumns } from "../../src/exchange/replay/index.js";
import { REPLAY_30D } from "../helpers/app.js";

const c = loadCandleColumns(join(REPLAY_30D, "ETHUSDT_1m.csv.gz"));
const bars = { open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume };
const n = c.length;
const align = (ref: number[]) => [...new Array(n - ref.length).fill(Number.NaN), ...ref];

function evalRule(src: string): Float64Array {
  return evaluateRule(compileRule(src), bars, new Map(), "ETH");
}

function refusal(src: string): TwError {
  try {
    compileRule(src);
  } catch (e) {
    expect(e).toBeInstanceOf(TwError);
    expect((e as TwError).code).toBe("INVALID_INPUT");
    return e as TwError;
  }
  throw new Error(`expected ${src} to be refused`);
}

describe("rules DSL", () => {
  it("`ema(close,5) > ema(close,20) and adx(14) > 25` holds exactly where the reference indicators say so", () => {
    const e5 = align(EMA.calculate({ period: 5, values: [...c.close] }));
    const e20 = align(EMA.calculate({ period: 20, values: [...c.close] }));
    const adx = align(
      ADX.calculate({ period: 14, high: [...c.high], low: [...c.low], close: [...c.close] }).map(
        (r) => r.adx,
      ),
    );
    const got = evalRule("ema(close,5) > ema(close,20) and adx(14) > 25");
    let ones = 0;
    let mismatches = 0;
    for (let i = 0; i < n; i++) {
      // Skip values within 1e-9 of a threshold, where float noise may legitimately flip the comparison.
      if (Math.abs(e5[i] - e20[i]) < 1e-9 * e20[i] || Math.abs(adx[i] - 25) < 1e-9) continue;
      const want = e5[i] > e20[i] && adx[i] > 25 ? 1 : 0;
      if (got[i] !== want) mismatches++;
      ones += want;
    }
    expect(mismatches).toBe(0);
    expect(ones).toBeGreaterThan(1000);
    expect(ones).toBeLessThan(n - 1000);
  });

  it("arithmetic, `not`, `or`, `&&` and prev() follow their definitions on real bars", () => {
    const got = evalRule("(close - open) / open * 10000 > 5 or not (high > low) && prev(close) < close");
    for (let i = 1; i < n; i++) {
      const want =
        ((c.close[i] - c.open[i]) / c.open[i]) * 10000 > 5 ||
        (!(c.high[i] > c.low[i]) && c.close[i - 1] < c.close[i]);
      expect(got[i]).toBe(want ? 1 : 0);
    }
  });

  it("rsi(14) < 30 matches the reference RSI where it is not within rounding of 30", () => {
    const ref = align(RSI.calculate({ period: 14, values: [...c.close] }));
    const got = evalRule("rsi(close, 14) < 30");
    let checked = 0;
    for (let i = 0; i < n; i++) {
      // technicalindicators rounds RSI to 2 decimals, so values within 0.01 of 30 are skipped.
      if (Number.isNaN(ref[i]) || Math.abs(ref[i] - 30) <= 0.01) continue;
      expect(got[i]).toBe(ref[i] < 30 ? 1 : 0);
      checked++;
    }
    expect(checked).toBeGreaterThan(n - 200);
  });

  it("refuses `constructor` as an unknown name", () => {
    const e = refusal("constructor");
    expect(e.message).toContain('unknown name "constructor"');
  });

  it("refuses `process.exit(1)` and `process` without evaluating anything", () => {
    expect(refusal("process.exit(1)").message).toContain('unknown name "process"');
    expect(refusal("process").message).toContain('unknown name "process"');
    expect(refusal("close.constructor").message).toContain("property access");
    expect(refusal('close["constructor"]').message).toContain("property access");
  });

  it("refuses unknown functions and lists the known ones", () => {
    const e = refusal("foo(close, 3) > 1");
    expect(e.message).toContain('unknown function "foo"');
    expect(e.message).toContain("ema");
  });

  it("refuses syntax errors with the character position", () => {
    const e = refusal("ema(close, 5 > ");
    expect(e.message).toMatch(/syntax error in expression at character \d+/);
  });

  it("refuses strings, wrong arity, non-literal periods and `this`", () => {
    expect(refusal('close > "1"').message).toContain("literals");
    expect(() => evalRule("ema(close)")).toThrow(/period must be an integer literal/);
    expect(() => evalRule("ema(5, 5) > 1")).toThrow(/a series such as close/);
    expect(refusal("ema(close, 1, 2, 3)").message).toContain("takes 1 to 2 argument(s)");
    expect(refusal("this").message).toContain("not allowed");
    expect(() => evalRule("ema(close, close) > 1")).toThrow(/period must be an integer literal/);
  });
});
