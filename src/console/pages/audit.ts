import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Response } from "express";
import { stringify } from "csv-stringify";
import type { App } from "../../app.js";
import {
  type AuditDecision,
  type AuditFilter,
  auditHead,
  iterateAudit,
  queryAudit,
  verifyAudit,
} from "../../store/audit.js";
import { type Html, html, json, time } from "../html.js";

/**
 * Audit: rows with filters (tool, caller, decision, time range), the chain's verify result and head,
 * and exports of the filtered rows as CSV or JSON Lines (streamed, oldest first).
 */

/** Raw query of the audit page and exports. Times: ISO-8601 (UTC unless a zone is given) or ms. */
export interface AuditParams {
  tool?: string;
  caller?: string;
  decision?: string;
  since?: string;
  until?: string;
  limit?: string;
  cursor?: string;
}

const DECISIONS: readonly AuditDecision[] = ["allowed", "refused", "error"];

function parseTime(v: string | undefined): number | undefined {
  if (!v || v.trim() === "") return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(s) || /^\d{4}-\d{2}-\d{2}$/.test(s) ? s : `${s}Z`;
  const t = Date.parse(zoned);
  if (Number.isNaN(t))
    throw new RangeError(`"${v}" is not a time: use ISO-8601 (2025-05-25T15:00) or ms UTC`);
  return t;
}

/**
 * Validated filters of a request.
 * @throws RangeError with a message saying what to fix (shown to the operator).
 */
export function auditFilter(p: AuditParams): AuditFilter {
  const nz = (s: string | undefined) => (s && s.trim() !== "" ? s.trim() : undefined);
  const decision = nz(p.decision);
  if (decision !== undefined && !DECISIONS.includes(decision as AuditDecision)) {
    throw new RangeError(`decision must be one of ${DECISIONS.join(", ")}`);
  }
  return {
    tool: nz(p.tool),
    caller: nz(p.caller),
    decision: decision as AuditDecision | undefined,
    since: parseTime(p.since),
    until: parseTime(p.until),
  };
}

/** The audit page body. */
export function auditPage(app: App, p: AuditParams): Html {
  let error: string | null = null;
  let filter: AuditFilter = {};
  try {
    filter = auditFilter(p);
  } catch (e) {
    error = (e as Error).message;
  }
  const limit = Math.min(500, Math.max(1, Number(p.limit) || 100));
  let page: ReturnType<typeof queryAudit> | null = null;
  if (!error) {
    try {
      page = queryAudit(app.db, { ...filter, limit, cursor: p.cursor || undefined });
    } catch (e) {
      error = (e as Error).message;
    }
  }
  const verify = verifyAudit(app.db);
  const head = auditHead(app.db);
  const qs = new URLSearchParams(
    Object.entries({
      tool: p.tool,
      caller: p.caller,
      decision: p.decision,
      since: p.since,
      until: p.until,
    }).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
  );
  const older = page?.next_cursor
    ? new URLSearchParams([...qs, ["limit", String(limit)], ["cursor", page.next_cursor]])
    : null;
  return html`
<section aria-labelledby="h-verify" class="card">
  <h2 id="h-verify">Chain</h2>
  <p data-testid="audit-verify">${verify.ok ? html`<span class="pos">Intact</span>: ${verify.rows} rows, every link and hash checks; ${verify.anchorLines} anchored heads agree.` : html`<span class="neg">TAMPERED</span> at row ${verify.firstBadId}: ${verify.reason}`}</p>
  <p>Head: <code class="hash">${head.count}:${head.hash}</code> (keep it elsewhere; check with <code>tradewarden audit verify --expect</code>)</p>
</section>
<form method="get" action="/console/audit" class="filters">
  <label>Tool <input name="tool" value="${p.tool ?? ""}" size="16"></label>
  <label>Caller <input name="caller" value="${p.caller ?? ""}" size="16"></label>
  <label>Decision <select name="decision"><option value="">any</option>${DECISIONS.map((d) => html`<option ${d === p.decision ? html`selected` : ""}>${d}</option>`)}</select></label>
  <label>Since <input name="since" value="${p.since ?? ""}" placeholder="2025-05-25T15:00" size="16"></label>
  <label>Until <input name="until" value="${p.until ?? ""}" placeholder="UTC" size="16"></label>
  <label>Limit <input name="limit" type="number" min="1" max="500" value="${limit}"></label>
  <button type="submit">Filter</button>
  <a href="/console/audit/export?${new URLSearchParams([...qs, ["format", "csv"]]).toString()}" download>Export CSV</a>
  <a href="/console/audit/export?${new URLSearchParams([...qs, ["format", "jsonl"]]).toString()}" download>Export JSONL</a>
</form>
${error ? html`<p class="flash flash-error" role="alert">${error}</p>` : ""}
${
  page
    ? html`<table class="audit"><caption>${page.rows.length} row(s), newest first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Caller</th><th scope="col">Tool</th><th scope="col">Decision</th><th scope="col">Code</th><th scope="col">Args</th><th scope="col">Result</th><th scope="col" class="n">ms</th></tr></thead>
<tbody>${page.rows.map((r) => html`<tr><td>${r.id}</td><td>${time(r.ts)}</td><td>${r.caller}</td><td>${r.tool}</td><td class="${r.decision === "allowed" ? "pos" : "neg"}">${r.decision}</td><td>${r.code ?? ""}</td><td><code>${json(r.args, 160)}</code></td><td><code>${json(r.result, 160)}</code></td><td class="n">${r.duration_ms}</td></tr>`)}</tbody></table>
${older ? html`<p><a href="/console/audit?${older.toString()}">Older rows →</a></p>` : ""}`
    : ""
}`;
}

const COLUMNS = [
  "id",
  "ts",
  "caller",
  "tool",
  "decision",
  "code",
  "args",
  "result",
  "duration_ms",
  "keys",
  "prev_hash",
  "hash",
];

/**
 * Streams the filtered rows as `format` (csv | jsonl) as a download, oldest first, with backpressure.
 * JSON columns (args, result, keys) are JSON text in CSV; hashes let a reader re-check the chain.
 * Values are written as recorded (no spreadsheet-formula escaping: an export is evidence).
 */
export async function exportAudit(
  app: App,
  res: Response,
  format: string,
  filter: AuditFilter,
): Promise<void> {
  const stamp = new Date(app.clock.now()).toISOString().replace(/[:.]/g, "-");
  const ext = format === "jsonl" ? "jsonl" : "csv";
  res.setHeader(
    "Content-Type",
    ext === "jsonl" ? "application/x-ndjson; charset=utf-8" : "text/csv; charset=utf-8",
  );
  res.setHeader("Content-Disposition", `attachment; filename="tradewarden-audit-${stamp}.${ext}"`);
  const rows = iterateAudit(app.db, filter);
  if (ext === "jsonl") {
    await pipeline(
      Readable.from(
        (function* () {
          for (const r of rows) yield `${JSON.stringify(r)}\n`;
        })(),
      ),
      res,
    );
    return;
  }
  await pipeline(
    Readable.from(
      (function* () {
        for (const r of rows)
          yield {
            ...r,
            args: JSON.stringify(r.args),
            result: JSON.stringify(r.result),
            keys: r.keys === null ? "" : JSON.stringify(r.keys),
            code: r.code ?? "",
          };
      })(),
    ),
    stringify({ header: true, columns: COLUMNS }),
    res,
  );
}
