import type { FundingPoint } from "../types.js";
import { loadFundingFile } from "./csv.js";

/**
 * Funding of replay data: merging several files of one symbol, and how much of a run they cover.
 *
 * Funding times in files jitter by a few ms around the settlement minute (Binance stamps
 * `1751299200002` for 16:00:00), so points are joined on the funding MINUTE (floor(time / 60 000)).
 */

const MINUTE = 60_000;
/** Funding settles at 00:00, 08:00 and 16:00 UTC on every venue we replay (hourly venues too). */
export const FUNDING_PERIOD_MS = 8 * 3_600_000;

/** Funding of one symbol merged from several files, and the minutes where files disagreed. */
export interface MergedFunding {
  /** Ascending, one point per funding minute. */
  points: FundingPoint[];
  /** Funding minutes (ms UTC) whose rate differs between files; the first file's rate is kept. */
  conflicts: number[];
}

/**
 * Merges funding files of one symbol (different periods in one folder, or the same period in
 * several folders): de-duplicated by funding minute; on a minute present in several files the
 * first file in `files` order wins (folders in the order given, names sorted within a folder) and
 * a differing rate is reported in `conflicts`.
 * @throws TwError INVALID_INPUT naming file and line (from the CSV loader).
 */
export function mergeFundingFiles(files: readonly string[]): MergedFunding {
  const byMinute = new Map<number, FundingPoint>();
  const conflicts: number[] = [];
  for (const f of files) {
    for (const p of loadFundingFile(f)) {
      const m = Math.floor(p.time / MINUTE);
      const seen = byMinute.get(m);
      if (!seen) byMinute.set(m, p);
      else if (seen.rate !== p.rate) conflicts.push(m * MINUTE);
    }
  }
  const points = [...byMinute.values()].sort((a, b) => a.time - b.time);
  return { points, conflicts: conflicts.sort((a, b) => a - b) };
}

/**
 * Fraction of the 8-hour funding times (00:00/08:00/16:00 UTC) in [from, to] (ms UTC, inclusive)
 * that have a funding point in the same minute; 1 when the window holds no funding time (nothing
 * to miss). Hourly funding covers every 8-hour time; a 4-hourly file too.
 * @param points ascending funding points of one symbol.
 */
export function fundingCoverage(points: readonly FundingPoint[], from: number, to: number): number {
  const first = Math.ceil(from / FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS;
  if (first > to) return 1;
  const minutes = new Set(points.map((p) => Math.floor(p.time / MINUTE)));
  let due = 0;
  let hit = 0;
  for (let t = first; t <= to; t += FUNDING_PERIOD_MS) {
    due++;
    if (minutes.has(t / MINUTE)) hit++;
  }
  return hit / due;
}

/**
 * Warnings for a run's funding coverage (symbol → fraction): one per perp below 1, naming the
 * symbol, how much is missing and what to pass. `flag` is how the caller adds funding
 * (`--funding DIR` on the CLI).
 */
export function fundingWarnings(coverage: Record<string, number>, flag = "--funding DIR"): string[] {
  const out: string[] = [];
  for (const [symbol, c] of Object.entries(coverage)) {
    if (c >= 1) continue;
    const pct = `${(c * 100).toFixed(c > 0 && c < 0.01 ? 2 : 0)}%`;
    out.push(
      c === 0
        ? `${symbol}: no funding data for this run, so its funding PnL is missing; pass ${flag} with ${symbol}<QUOTE>_funding*.csv[.gz] files (see data/README.md).`
        : `${symbol}: funding data covers only ${pct} of this run's 8-hour funding times, so its funding PnL is incomplete; pass ${flag} with ${symbol}<QUOTE>_funding*.csv[.gz] files covering the run.`,
    );
  }
  return out;
}
