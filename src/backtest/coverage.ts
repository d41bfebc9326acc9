/**
 * Funding coverage (issue 11 §2: funding is never silently zero): the fraction of a run's 8-hour
 * funding times for which the funding data has an event.
 *
 * The run's funding times are the multiples of 8 h UTC (00:00, 08:00, 16:00) inside
 * [first bar open, last bar open + interval). A time T is covered when the data holds an event in
 * (T − 8 h, T] (event times rounded to the minute, as the engine books them): this counts venues that
 * settle every 8 h at 00/08/16, every 1 h or 4 h, and at offset hours (04/12/20) alike, and counts a
 * gap in the file as missing. A run containing no funding time has coverage 1 (nothing to miss).
 */

/** Funding period assumed for coverage, ms. */
export const FUNDING_PERIOD_MS = 8 * 3_600_000;

/**
 * Coverage of one symbol.
 * @param eventTimes funding event times, ms UTC, any order.
 * @param start first bar open, ms UTC (inclusive).
 * @param end last bar open + interval, ms UTC (exclusive).
 * @returns a fraction in [0, 1].
 */
export function fundingCoverage(eventTimes: ArrayLike<number>, start: number, end: number): number {
  const first = Math.ceil(start / FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS;
  if (!(first < end)) return 1;
  const times = Float64Array.from(eventTimes, (t) => Math.round(t / 60_000) * 60_000).sort();
  let total = 0;
  let covered = 0;
  let j = 0;
  for (let t = first; t < end; t += FUNDING_PERIOD_MS) {
    total++;
    while (j < times.length && times[j] <= t - FUNDING_PERIOD_MS) j++;
    if (j < times.length && times[j] <= t) covered++;
  }
  return covered / total;
}
