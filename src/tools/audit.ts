import { z } from "zod";
import { TwError } from "../errors.js";
import { ownerFilter } from "../policy/ownership.js";
import { queryAudit } from "../store/audit.js";
import { defineTool } from "./registry.js";

const time = z.union([z.number().int(), z.iso.datetime({ offset: true })]);

/** Parses a time argument (ms UTC or ISO-8601) to ms UTC. */
export function toMs(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return typeof v === "number" ? v : Date.parse(v);
}

const auditRow = z.object({
  id: z.number(),
  ts: z.number(),
  caller: z.string(),
  tool: z.string(),
  args: z.unknown(),
  decision: z.enum(["allowed", "refused", "error"]),
  code: z.string().nullable(),
  result: z.unknown(),
  duration_ms: z.number(),
  keys: z.array(z.string()).nullable(),
  hash: z.string(),
});

/** audit toolset: read the hash-chained audit log. */
export const auditTools = [
  defineTool({
    name: "audit_query",
    toolset: "audit",
    title: "Query the audit log",
    description:
      "Audit rows, newest first: every call with caller, redacted args, decision, error code, result summary and duration; filters by time, tool, caller, decision; paged with next_cursor. Agents and readonly callers see only their own rows.",
    scope: "audit:read",
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z
      .object({
        since: time.optional(),
        until: time.optional(),
        tool: z.string().max(64).optional(),
        caller: z.string().max(200).optional(),
        decision: z.enum(["allowed", "refused", "error"]).optional(),
        limit: z.number().int().min(1).max(500).default(50),
        cursor: z.string().max(200).optional(),
      })
      .strict(),
    output: z.object({
      rows: z.array(auditRow),
      truncated: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    summarize: (r) => ({ rows: r.rows.length, truncated: r.truncated }),
    handler: async (args, { app, caller }) => {
      const owner = ownerFilter(caller);
      if (owner !== undefined && args.caller !== undefined && args.caller !== owner) {
        return { rows: [], truncated: false, next_cursor: null }; // another caller's rows: none for you
      }
      try {
        const page = queryAudit(app.db, {
          since: toMs(args.since),
          until: toMs(args.until),
          tool: args.tool,
          caller: owner ?? args.caller,
          decision: args.decision,
          limit: args.limit,
          cursor: args.cursor,
        });
        return { ...page, rows: page.rows.map(({ prev_hash: _p, ...r }) => r) };
      } catch (e) {
        if (e instanceof RangeError) {
          throw new TwError("INVALID_INPUT", "cursor is not valid.", {
            hint: "Pass next_cursor exactly as returned.",
          });
        }
        throw e;
      }
    },
  }),
];
