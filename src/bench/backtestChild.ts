import { loadFrameFromDirs } from "../backtest/data.js";
import { handWritten } from "./backtest.js";

/**
 * The hand loop's side of the CLI comparison (spawned by src/bench/backtest.ts): a fresh process
 * loads the same CSV folder with the CLI's loader, then times ONE run of the fused hand loop, as
 * `tradewarden backtest` times one engine run in its own fresh process (`elapsed_ms`). Both sides
 * therefore start cold (no JIT warm-up, the loader's garbage still on the heap) and exclude loading.
 * `node dist/bench/backtestChild.js <data dir>` prints `{ "elapsed_ms": …, "final_equity": … }`.
 */

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: backtestChild.js <data dir>\n");
  process.exit(2);
}
const frame = loadFrameFromDirs(dir, { symbols: ["BTC"], interval: "1m", funding: false });
const t0 = performance.now();
const finalEquity = handWritten(frame.assets[0].open, frame.assets[0].close, 12, 26);
const ms = performance.now() - t0;
process.stdout.write(
  `${JSON.stringify({ elapsed_ms: Math.round(ms * 1000) / 1000, final_equity: finalEquity })}\n`,
);
