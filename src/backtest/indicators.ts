/**
 * Technical indicators over Float64Array, following TA-Lib conventions (docs/backtesting.md).
 * Every function returns a new array of the input length; values before the warm-up are NaN. All are
 * causal: output i depends on inputs ≤ i only. Leading NaNs in the input (e.g. the MACD line) shift
 * the warm-up: the indicator starts at the first non-NaN input.
 *
 * Sources: J. Welles Wilder, "New Concepts in Technical Trading Systems" (1978) for RSI, ATR, ADX
 * and Wilder smoothing; TA-Lib (ta-lib.org) for seeding and first-value indices; G. Appel for MACD;
 * J. Bollinger for the bands.
 */

function nanArray(n: number): Float64Array {
  return new Float64Array(n).fill(Number.NaN);
}

function firstFinite(x: Float64Array): number {
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i])) return i;
  return x.length;
}

function checkPeriod(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name}: period must be an integer ≥ 1, got ${n}`);
}

/** Simple moving average: mean of the last n values; first value at index n−1. */
export function sma(x: Float64Array, n: number): Float64Array {
  checkPeriod("sma", n);
  const out = nanArray(x.length);
  const s = firstFinite(x);
  let sum = 0;
  for (let i = s; i < x.length; i++) {
    sum += x[i];
    if (i - s >= n) sum -= x[i - n];
    if (i - s >= n - 1) out[i] = sum / n;
  }
  return out;
}

/**
 * Exponential moving average with α = 2/(n+1), seeded with the SMA of the first n values (first
 * value at index n−1): EMA_i = EMA_{i−1} + α (x_i − EMA_{i−1}).
 */
export function ema(x: Float64Array, n: number): Float64Array {
  checkPeriod("ema", n);
  return smoothed(x, n, 2 / (n + 1));
}

/**
 * The EMA crossover signal in one pass, without materialising either EMA: per bar, `up` while
 * EMA(x, fast) > EMA(x, slow), `down` while ≤, 0 while either is undefined (warm-up, or NaN data).
 * Each EMA is updated with exactly the operations of {@link ema}, so the result equals comparing the
 * two {@link ema} arrays element by element (test/backtest/fused.test.ts).
 * @param out written and returned (length of `x`); a fresh array by default.
 * @throws RangeError for a period that is not an integer ≥ 1.
 */
export function emaCrossSignal(
  x: Float64Array,
  fast: number,
  slow: number,
  up: number,
  down: number,
  out: Float64Array = new Float64Array(x.length),
): Float64Array {
  checkPeriod("ema", fast);
  checkPeriod("ema", slow);
  const n = x.length;
  out.fill(0);
  const s = firstFinite(x);
  // Index from which each EMA is defined (n when it never is).
  const f0 = n - s < fast ? n : s + fast - 1;
  const s0 = n - s < slow ? n : s + slow - 1;
  const af = 2 / (fast + 1);
  const as = 2 / (slow + 1);
  let vf = Number.NaN;
  let vs = Number.NaN;
  if (f0 < n) {
    let sum = 0;
    for (let i = s; i <= f0; i++) sum += x[i];
    vf = sum / fast;
  }
  if (s0 < n) {
    let sum = 0;
    for (let i = s; i <= s0; i++) sum += x[i];
    vs = sum / slow;
  }
  const first = Math.max(f0, s0);
  // Advance the EMA that is defined earlier up to the first bar where both are.
  for (let i = f0 + 1; i <= first && i < n; i++) vf += af * (x[i] - vf);
  for (let i = s0 + 1; i <= first && i < n; i++) vs += as * (x[i] - vs);
  if (first < n) out[first] = vf > vs ? up : vf <= vs ? down : 0;
  for (let i = first + 1; i < n; i++) {
    const xi = x[i];
    vf += af * (xi - vf);
    vs += as * (xi - vs);
    out[i] = vf > vs ? up : vf <= vs ? down : 0;
  }
  return out;
}

/** Wilder smoothing (RMA), α = 1/n, seeded with the SMA of the first n values. */
export function wilder(x: Float64Array, n: number): Float64Array {
  checkPeriod("wilder", n);
  return smoothed(x, n, 1 / n);
}

function smoothed(x: Float64Array, n: number, alpha: number): Float64Array {
  const out = nanArray(x.length);
  const s = firstFinite(x);
  if (x.length - s < n) return out;
  let sum = 0;
  for (let i = s; i < s + n; i++) sum += x[i];
  let v = sum / n;
  out[s + n - 1] = v;
  for (let i = s + n; i < x.length; i++) {
    v += alpha * (x[i] - v);
    out[i] = v;
  }
  return out;
}

/**
 * Relative Strength Index (Wilder): changes d_i = x_i − x_{i−1}; average gain/loss seeded with the
 * mean of the first n gains/losses, then Wilder-smoothed; RSI = 100 − 100/(1 + gain/loss), 100 when
 * the average loss is 0. First value at index n.
 */
export function rsi(x: Float64Array, n: number): Float64Array {
  checkPeriod("rsi", n);
  const len = x.length;
  const out = nanArray(len);
  if (len <= n) return out;
  let g = 0;
  let l = 0;
  for (let i = 1; i <= n; i++) {
    const d = x[i] - x[i - 1];
    if (d > 0) g += d;
    else l -= d;
  }
  g /= n;
  l /= n;
  out[n] = l === 0 ? 100 : 100 - 100 / (1 + g / l);
  for (let i = n + 1; i < len; i++) {
    const d = x[i] - x[i - 1];
    g = (g * (n - 1) + Math.max(d, 0)) / n;
    l = (l * (n - 1) + Math.max(-d, 0)) / n;
    out[i] = l === 0 ? 100 : 100 - 100 / (1 + g / l);
  }
  return out;
}

/** True range: max(h−l, |h−c_{i−1}|, |l−c_{i−1}|) from index 1 (index 0 is NaN). */
export function trueRange(high: Float64Array, low: Float64Array, close: Float64Array): Float64Array {
  const out = nanArray(high.length);
  for (let i = 1; i < high.length; i++) {
    const pc = close[i - 1];
    out[i] = Math.max(high[i] - low[i], Math.abs(high[i] - pc), Math.abs(low[i] - pc));
  }
  return out;
}

/** Average True Range: Wilder smoothing of the true range; first value at index n. */
export function atr(high: Float64Array, low: Float64Array, close: Float64Array, n: number): Float64Array {
  checkPeriod("atr", n);
  return wilder(trueRange(high, low, close), n);
}

/** MACD line, signal and histogram (line = EMA_fast − EMA_slow; signal = EMA of the line). */
export interface Macd {
  macd: Float64Array;
  signal: Float64Array;
  hist: Float64Array;
}

/** MACD(fast, slow, signal), default (12, 26, 9), on the EMAs above; line from index slow−1. */
export function macd(x: Float64Array, fast = 12, slow = 26, signal = 9): Macd {
  const f = ema(x, fast);
  const s = ema(x, slow);
  const line = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) line[i] = f[i] - s[i];
  const sig = ema(line, signal);
  const hist = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) hist[i] = line[i] - sig[i];
  return { macd: line, signal: sig, hist };
}

/**
 * Rolling population standard deviation over n values (÷ n). Sliding Welford updates with an exact
 * two-pass recomputation every n steps, so rounding drift stays bounded without O(n·w) cost.
 */
export function rollingStd(x: Float64Array, n: number): Float64Array {
  checkPeriod("rollingStd", n);
  const out = nanArray(x.length);
  const s = firstFinite(x);
  let mean = 0;
  let m2 = 0;
  for (let i = s + n - 1; i < x.length; i++) {
    if ((i - (s + n - 1)) % n === 0) {
      let sum = 0;
      for (let k = i - n + 1; k <= i; k++) sum += x[k];
      mean = sum / n;
      m2 = 0;
      for (let k = i - n + 1; k <= i; k++) {
        const d = x[k] - mean;
        m2 += d * d;
      }
    } else {
      const xin = x[i];
      const xout = x[i - n];
      const next = mean + (xin - xout) / n;
      m2 += (xin - xout) * (xin - next + xout - mean);
      mean = next;
      if (m2 < 0) m2 = 0;
    }
    out[i] = Math.sqrt(m2 / n);
  }
  return out;
}

/** Bollinger bands: middle = SMA(n), upper/lower = middle ± k × population std(n). */
export interface Bollinger {
  upper: Float64Array;
  middle: Float64Array;
  lower: Float64Array;
}

/** Bollinger(n, k), default (20, 2); first value at index n−1. */
export function bollinger(x: Float64Array, n = 20, k = 2): Bollinger {
  const middle = sma(x, n);
  const sd = rollingStd(x, n);
  const upper = new Float64Array(x.length);
  const lower = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    upper[i] = middle[i] + k * sd[i];
    lower[i] = middle[i] - k * sd[i];
  }
  return { upper, middle, lower };
}

/** Rolling max (`sign` 1) or min (`sign` −1) over n values including i, with a monotonic deque. */
function rollingExtreme(x: Float64Array, n: number, sign: 1 | -1): Float64Array {
  const out = nanArray(x.length);
  const dq = new Int32Array(x.length);
  let head = 0;
  let tail = 0;
  for (let i = 0; i < x.length; i++) {
    const v = sign * x[i];
    while (tail > head && sign * x[dq[tail - 1]] <= v) tail--;
    dq[tail++] = i;
    if (dq[head] <= i - n) head++;
    if (i >= n - 1) out[i] = x[dq[head]];
  }
  return out;
}

/** Donchian channel: highest high and lowest low of the last n bars including bar i. */
export interface Donchian {
  upper: Float64Array;
  lower: Float64Array;
  middle: Float64Array;
}

/** Donchian(n); first value at index n−1. */
export function donchian(high: Float64Array, low: Float64Array, n: number): Donchian {
  checkPeriod("donchian", n);
  const upper = rollingExtreme(high, n, 1);
  const lower = rollingExtreme(low, n, -1);
  const middle = new Float64Array(high.length);
  for (let i = 0; i < high.length; i++) middle[i] = (upper[i] + lower[i]) / 2;
  return { upper, lower, middle };
}

/** Directional movement system (Wilder): ADX with +DI and −DI. */
export interface Adx {
  adx: Float64Array;
  plusDi: Float64Array;
  minusDi: Float64Array;
}

/**
 * ADX(n) (Wilder): +DM = up if up > down and up > 0 else 0 (up = h_i − h_{i−1}, down = l_{i−1} − l_i),
 * −DM symmetric; TR, +DM, −DM Wilder-summed (S_n = Σ first n, S_i = S_{i−1} − S_{i−1}/n + x_i);
 * ±DI = 100 S±/S_TR; DX = 100 |+DI − −DI| / (+DI + −DI) (0 when both are 0); ADX = Wilder average of
 * DX seeded with the mean of the first n DX. DI from index n, ADX from index 2n−1.
 */
export function adx(high: Float64Array, low: Float64Array, close: Float64Array, n = 14): Adx {
  checkPeriod("adx", n);
  const len = high.length;
  const plusDi = nanArray(len);
  const minusDi = nanArray(len);
  const dx = nanArray(len);
  let sTr = 0;
  let sP = 0;
  let sM = 0;
  for (let i = 1; i < len; i++) {
    const up = high[i] - high[i - 1];
    const down = low[i - 1] - low[i];
    const pdm = up > down && up > 0 ? up : 0;
    const mdm = down > up && down > 0 ? down : 0;
    const pc = close[i - 1];
    const tr = Math.max(high[i] - low[i], Math.abs(high[i] - pc), Math.abs(low[i] - pc));
    if (i <= n) {
      sTr += tr;
      sP += pdm;
      sM += mdm;
      if (i < n) continue;
    } else {
      sTr = sTr - sTr / n + tr;
      sP = sP - sP / n + pdm;
      sM = sM - sM / n + mdm;
    }
    const p = sTr === 0 ? 0 : (100 * sP) / sTr;
    const m = sTr === 0 ? 0 : (100 * sM) / sTr;
    plusDi[i] = p;
    minusDi[i] = m;
    dx[i] = p + m === 0 ? 0 : (100 * Math.abs(p - m)) / (p + m);
  }
  return { adx: wilder(dx, n), plusDi, minusDi };
}

/** Log returns ln(x_i / x_{i−1}); index 0 is NaN. */
export function logReturns(x: Float64Array): Float64Array {
  const out = nanArray(x.length);
  for (let i = 1; i < x.length; i++) out[i] = Math.log(x[i] / x[i - 1]);
  return out;
}

/**
 * Realised volatility: population std of the last n log returns (per bar, not annualised); first
 * value at index n. Annualise with × √(bars per year).
 */
export function realizedVol(close: Float64Array, n: number): Float64Array {
  checkPeriod("realizedVol", n);
  return rollingStd(logReturns(close), n);
}

/** Rolling z-score: (x_i − SMA_n) / population std_n; 0 when the std is 0. First value at n−1. */
export function zscore(x: Float64Array, n: number): Float64Array {
  const m = sma(x, n);
  const sd = rollingStd(x, n);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = sd[i] === 0 ? 0 : (x[i] - m[i]) / sd[i];
  return out;
}
