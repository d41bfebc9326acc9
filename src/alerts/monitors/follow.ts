import type { Db } from "../../store/db.js";
import { getMeta, setMeta } from "../../store/meta.js";
import { type CursorTable, maxRowId } from "../../store/monitoring.js";
import type { EventMonitor } from "./types.js";

/** Rows handled per poll; the rest wait for the next poll. */
export const FOLLOW_BATCH = 500;

/**
 * An event monitor following `table` by row id. The cursor lives in `meta` (`alerts.cursor.<name>`)
 * and moves in the same IMMEDIATE transaction as the alerts it causes, so each row is handled once
 * even when several processes poll. A new cursor starts at the table's newest row (history is not
 * replayed as alerts) unless `initial` says otherwise.
 * @param handle processes rows after the given id and returns the id of the last row it handled
 *   (or undefined when there was none).
 */
export function follow(
  db: Db,
  name: string,
  table: CursorTable,
  handle: (afterId: number) => number | undefined,
  initial?: (maxId: number) => number,
): EventMonitor {
  const key = `alerts.cursor.${name}`;
  return {
    name,
    poll() {
      db.transaction(() => {
        let after = getMeta<number>(db, key);
        if (after === undefined) {
          const max = maxRowId(db, table);
          after = initial ? initial(max) : max;
          setMeta(db, key, after);
        }
        const last = handle(after);
        if (last !== undefined && last > after) setMeta(db, key, last);
      }).immediate();
    },
  };
}
