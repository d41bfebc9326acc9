import type { Migration } from "./index.js";

/**
 * Cycle blocks (issue 15, replay file ≤ 1 KB a cycle): a replay's older compacted cycles, 60 at a
 * time, as one deflated block (src/store/cycleBlocks.ts) instead of 60 rows with two index entries
 * each. `first_ts`/`last_ts` (ms UTC) and `first_id`/`last_id` bound the block's cycles; blocks never
 * overlap in either, so `cycle_blocks_id` finds the one block that can hold an id. `finished` counts
 * its cycles with a finish time (the console's change mark, src/store/changes.ts).
 */
export const m015CycleBlocks: Migration = {
  version: 15,
  name: "cycle_blocks",
  up: `
CREATE TABLE cycle_blocks (
  first_ts INTEGER PRIMARY KEY,
  last_ts INTEGER NOT NULL,
  first_id TEXT NOT NULL,
  last_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  finished INTEGER NOT NULL,
  rows BLOB NOT NULL
);
CREATE INDEX cycle_blocks_id ON cycle_blocks(last_id);
`,
};
