import type { Db } from "../../store/db.js";
import {
  controlChangesAfter,
  currentModeRow,
  engineEventAt,
  lastRowWithOtherMode,
} from "../../store/monitoring.js";
import { MODE_RANK } from "../../store/control.js";
import type { AlertService } from "../service.js";
import { FOLLOW_BATCH, follow } from "./follow.js";
import type { EventMonitor } from "./types.js";

/**
 * Follows the control-mode history (control_state): every change of mode, whoever made it (tool,
 * CLI, console, drawdown breaker, reconciler), becomes
 * - `mode_change` (key `mode_change`): HALT critical, REDUCE_ONLY warning, open until the next change;
 *   a resume to NORMAL is an info notice ("resumed by whom, why") and closes the open one silently;
 * - `drawdown` (key `drawdown`) when an automatic risk breaker tightened the mode: any `system:` actor
 *   except the reconciler (`system:drawdown` today; a daily-loss limit recorded the same way shows up
 *   here with its own actor and reason). Open until trading resumes.
 * On its first run it reports the current mode when that is not NORMAL.
 */
export function controlMonitor(db: Db, alerts: AlertService): EventMonitor {
  return follow(
    db,
    "control_state",
    "control_state",
    (after) => {
      let last: number | undefined;
      for (const c of controlChangesAfter(db, after, FOLLOW_BATCH)) {
        last = c.id;
        if (c.mode === c.previous) continue;
        const source = `control_state:${c.id}`;
        const details = {
          mode: c.mode,
          previous_mode: c.previous,
          actor: c.actor,
          reason: c.reason,
          since: c.ts,
          control_id: c.id,
        };
        if (c.mode === "NORMAL") {
          alerts.resolve("mode_change", `resumed by ${c.actor}: ${c.reason}`, { push: false });
          alerts.resolve("drawdown", `trading resumed by ${c.actor}: ${c.reason}`, { push: false });
          alerts.notice({
            kind: "mode_change",
            severity: "info",
            key: "mode_change",
            source,
            message: `Trading resumed (${c.previous} → NORMAL) by ${c.actor}: ${c.reason}`,
            details,
          });
          continue;
        }
        alerts.resolve("mode_change", `superseded by ${c.mode} (${c.actor})`, { push: false });
        const severity = c.mode === "HALT" ? "critical" : "warning";
        alerts.raise(
          {
            kind: "mode_change",
            severity,
            key: "mode_change",
            source,
            message: `Trading ${c.mode === "HALT" ? "HALTED" : "REDUCE_ONLY"} (was ${c.previous}) by ${c.actor}: ${c.reason}`,
            details,
          },
          0,
        );
        const tightened = MODE_RANK[c.mode] > MODE_RANK[c.previous];
        if (tightened && c.actor.startsWith("system:") && c.actor !== "system:reconciler") {
          alerts.raise(
            {
              kind: "drawdown",
              severity,
              key: "drawdown",
              source: `${source}:breaker`,
              message: `Risk breaker (${c.actor}) switched trading to ${c.mode}: ${c.reason}`,
              details: {
                ...details,
                breaker: c.actor,
                event: engineEventAt(db, "mode_change", c.ts)?.detail ?? null,
              },
            },
            0,
          );
        }
      }
      return last;
    },
    (max) => {
      // First run: report the current mode when it is not NORMAL, from the row that entered it.
      const mode = currentModeRow(db);
      return mode && mode.mode !== "NORMAL" ? lastRowWithOtherMode(db, mode.mode) : max;
    },
  );
}
