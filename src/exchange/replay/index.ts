/** Replay market data: CSV/CSV.gz loaders (shared with the backtester), folder discovery, the source. */
export { type CandleColumns, candleAt, loadCandleColumns, loadCandleFile, loadFundingFile } from "./csv.js";
export { openReplayDir, type ReplayDir, replayDirsOf } from "./dir.js";
export { fundingCoverage, fundingWarnings, type MergedFunding, mergeFundingFiles } from "./funding.js";
export { aggregate, ReplaySource } from "./source.js";
