import { z } from "zod";
import { alertVisibleTo } from "../alerts/visibility.js";
import { seesAll } from "../policy/ownership.js";
import { ALERT_KINDS, SEVERITIES } from "../alerts/types.js";
import { TwError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../store/audit.js";
import { toMs } from "./audit.js";
import { defineTool } from "./registry.js";

/**
 * alerts toolset: the stored alerts the monitors raise (docs/alerts.md). alert_list is a read
 * (account:read); alert_ack records that an operator has seen an alert (alerts:ack, operator only).
 */

const time = z.union([z.number().int(), z.iso.datetime({ offset: true })]);
const severity = z.enum(SEVERITIES);

const alertSchema = z.object({
  alert_id: z.number(),
  kind: z.string(),
  severity,
  dedupe_key: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
  notice: z.boolean(),
  muted: z.string().nullable(),
  raised_at: z.number(),
  last_seen_at: z.number(),
  occurrences: z.number(),
  resolved_at: z.number().nullable(),
  resolution: z.string().nullable(),
  acknowledged_at: z.number().nullable(),
  acknowledged_by: z.string().nullable(),
  ack_note: z.string().nullable(),
  deliveries: z.array(
    z.object({
      channel: z.string(),
      phase: z.enum(["raised", "resolved"]),
      status: z.string(),
      attempts: z.number(),
      last_attempt_at: z.number(),
      http_status: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
});

export const alertTools = [
  defineTool({
    name: "alert_list",
    toolset: "alerts",
    title: "List alerts",
    description:
      "Alerts raised by the monitors, newest first, with their deliveries per channel. status open (default) | resolved | all; filters kind, min_severity, since, unacknowledged; paged with next_cursor. Agents and readonly callers see account-wide alerts and those about their own records only.",
    scope: "account:read",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        status: z.enum(["open", "resolved", "all"]).default("open"),
        kind: z.enum(ALERT_KINDS).optional(),
        min_severity: severity.optional(),
        since: time.optional(),
        unacknowledged: z.boolean().optional(),
        limit: z.number().int().min(1).max(200).default(50),
        cursor: z.string().max(200).optional(),
      })
      .strict(),
    output: z.object({
      alerts: z.array(alertSchema),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    summarize: (r) => ({ alerts: r.alerts.length, truncated: r.truncated }),
    handler: async (args, { app, caller }) => {
      let beforeId: number | undefined;
      if (args.cursor !== undefined) {
        const c = decodeCursor(args.cursor);
        if (!c || typeof c.before_alert !== "number") {
          throw new TwError("INVALID_INPUT", "cursor is not valid.", {
            hint: "Pass next_cursor exactly as returned.",
          });
        }
        beforeId = c.before_alert;
      }
      const viewer = { id: caller.id, seesAll: seesAll(caller) };
      const { alerts: all, truncated } = app.alerts.list({
        status: args.status,
        kind: args.kind,
        minSeverity: args.min_severity,
        since: toMs(args.since),
        unacknowledged: args.unacknowledged,
        beforeId,
        limit: args.limit,
      });
      const alerts = all.filter((a) => alertVisibleTo(a, viewer));
      const last = all.at(-1);
      return {
        alerts,
        truncated,
        next_cursor: truncated && last ? encodeCursor({ before_alert: last.alert_id }) : null,
      };
    },
  }),
  defineTool({
    name: "alert_ack",
    toolset: "alerts",
    title: "Acknowledge an alert",
    description:
      "Records that you (an operator) have seen an alert, with an optional note; it stays open until its condition " +
      "clears. Acknowledging again keeps the first acknowledgement (already_acknowledged: true). Operator only " +
      "(alerts:ack).",
    scope: "alerts:ack",
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: z
      .object({
        alert_id: z.number().int().positive(),
        note: z.string().min(1).max(500).optional(),
        idempotency_key: z.string().min(1).max(128).optional(),
      })
      .strict(),
    output: z.object({ alert: alertSchema, already_acknowledged: z.boolean() }),
    facts: (args) => ({ mutating: true, exposure: "none", idempotencyKey: args.idempotency_key }),
    summarize: (r) => ({ alert_id: r.alert.alert_id, already_acknowledged: r.already_acknowledged }),
    handler: async (args, { app, caller }) => {
      const { alert, already } = app.alerts.ack(args.alert_id, caller.id, args.note ?? null);
      return { alert, already_acknowledged: already };
    },
  }),
];
