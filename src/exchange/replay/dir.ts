import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { TwError } from "../../errors.js";
import { INTERVALS, type Interval } from "../types.js";

/**
 * Discovery of replay folders (format of data/README.md): candle files named
 * `<COIN><QUOTE>_<interval>.csv[.gz]` (e.g. `BTCUSDT_1m.csv.gz`) and funding files
 * `<COIN><QUOTE>_funding*.csv[.gz]` (anything may follow `_funding`, e.g.
 * `SOLUSDT_funding_2023-07_2023-08.csv.gz`), where QUOTE is USDT, USDC or USD (optional). The canonical
 * symbol is COIN (`BTC`; Hyperliquid's `kPEPE`-style names keep their leading `k`). Files with other
 * names or intervals (3m, 30m, mark prices) are ignored.
 */

/** What a replay folder (or several) holds: absolute file paths by canonical symbol. */
export interface ReplayDir {
  /** The folders scanned, absolute. */
  dirs: string[];
  /** symbol → interval → candle file. */
  candles: Map<string, Map<Interval, string>>;
  /**
   * symbol → every funding file of it, in folder order then name order (several periods, or the
   * same period in several folders: merged by src/exchange/replay/funding.ts).
   */
  funding: Map<string, string[]>;
  /** symbol → quote currency from the file name (USDT when the name has none). */
  quotes: Map<string, string>;
}

const CANDLE_RE = /^([a-z]?[A-Z0-9]+?)(USDT|USDC|USD)?_([0-9]+[mhd])\.csv(\.gz)?$/;
const FUNDING_RE = /^([a-z]?[A-Z0-9]+?)(USDT|USDC|USD)?_funding(?:[_.-][^/]*?)?\.csv(\.gz)?$/;

/**
 * Scans one or more folders. Later folders add to earlier ones. Candles: a symbol/interval present
 * twice keeps the first file (a `.csv` next to a `.csv.gz` of the same name: the plain file wins, it
 * is usually the one being edited). Funding: every file is kept, and they are merged.
 * @throws TwError CONFIG_INVALID when a folder does not exist or no candle file is found at all.
 */
export function openReplayDir(dirOrDirs: string | string[]): ReplayDir {
  const dirs = (Array.isArray(dirOrDirs) ? dirOrDirs : [dirOrDirs]).map((d) => resolve(d));
  const out: ReplayDir = { dirs, candles: new Map(), funding: new Map(), quotes: new Map() };
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new TwError("CONFIG_INVALID", `Replay folder ${dir} does not exist.`, {
        hint: "Set TW_MARKET_DATA=replay:<folder with BTCUSDT_1m.csv.gz-style files>.",
        details: { dir },
      });
    }
    // Sorted so `.csv` comes before `.csv.gz` and the result does not depend on the file system.
    for (const name of readdirSync(dir).sort()) {
      const f = FUNDING_RE.exec(name);
      if (f) {
        out.funding.set(f[1], [...(out.funding.get(f[1]) ?? []), join(dir, name)]);
        continue;
      }
      const m = CANDLE_RE.exec(name);
      if (!m || !(INTERVALS as readonly string[]).includes(m[3])) continue;
      const iv = m[3] as Interval;
      if (!out.quotes.has(m[1])) out.quotes.set(m[1], m[2] ?? "USDT");
      let byIv = out.candles.get(m[1]);
      if (!byIv) {
        byIv = new Map();
        out.candles.set(m[1], byIv);
      }
      if (!byIv.has(iv)) byIv.set(iv, join(dir, name));
    }
  }
  if (out.candles.size === 0) {
    throw new TwError("CONFIG_INVALID", `No candle files (e.g. BTCUSDT_1m.csv.gz) in ${dirs.join(", ")}.`, {
      hint: "Point replay: at a folder in the data/ohlcv layout (see data/README.md), or omit the folder for the embedded 30 days.",
      details: { dirs },
    });
  }
  return out;
}

/**
 * Parses the folder part of a `replay:` spec. Several folders are separated by the platform path
 * delimiter (`:` on POSIX, `;` on Windows), like PATH, so candles and funding can live apart:
 * `replay:ohlcv/binance_usdm_perp_1m_2025-05-25_2025-06-24:funding/binance_usdm`.
 */
export function replayDirsOf(spec: string, delimiter: string): string[] {
  return spec
    .split(delimiter)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
