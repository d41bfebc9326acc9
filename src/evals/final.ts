import { verifyAudit } from "../store/audit.js";
import type { Db } from "../store/db.js";
import type { StubRequest } from "./hlStub.js";
import type { Final } from "./schema.js";

/**
 * Final assertions of a scenario, read from the scenario's database after the clients closed:
 * audit-row counts, the audit hash chain, row counts in any table (e.g. `paper_orders`: what the
 * paper venue received), requests the Hyperliquid stub received, and the secrets scan.
 */

interface AuditRowRaw {
  id: number;
  caller: string;
  tool: string;
  decision: string;
  code: string | null;
  [k: string]: unknown;
}

function auditRows(db: Db): AuditRowRaw[] {
  return db.prepare("SELECT * FROM audit_log ORDER BY id").all() as AuditRowRaw[];
}

function describeFilter(f: Record<string, unknown>): string {
  const parts = Object.entries(f)
    .filter(([k, v]) => v !== undefined && k !== "count" && k !== "min")
    .map(([k, v]) => `${k}=${v === null ? "null" : String(v)}`);
  return parts.length > 0 ? parts.join(" ") : "(all)";
}

function tableExists(db: Db, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

/** Evaluates the `final` block. @returns problems (empty = pass). */
export function finalProblems(db: Db, final: Final, stubRequests: StubRequest[]): string[] {
  const out: string[] = [];
  const rows = auditRows(db);
  for (const a of final.audit) {
    const n = rows.filter(
      (r) =>
        (a.tool === undefined || r.tool === a.tool) &&
        (a.decision === undefined || r.decision === a.decision) &&
        (a.code === undefined || r.code === a.code) &&
        (a.caller_profile === undefined || r.caller.endsWith(`:${a.caller_profile}`)),
    ).length;
    const what = `final audit [${describeFilter(a)}]`;
    if (a.count !== undefined && n !== a.count) out.push(`${what}: expected ${a.count} row(s), got ${n}`);
    if (a.min !== undefined && n < a.min) out.push(`${what}: expected at least ${a.min} row(s), got ${n}`);
  }
  if (final.audit_chain_ok) {
    const v = verifyAudit(db);
    if (!v.ok) out.push(`final audit chain broken at row ${v.firstBadId}: ${v.reason}`);
  }
  for (const d of final.db) {
    const what = `final db ${d.table} [${describeFilter(d.where)}]`;
    if (!tableExists(db, d.table)) {
      out.push(`${what}: no table ${d.table} (has its area landed?)`);
      continue;
    }
    const cols = Object.keys(d.where);
    const where = cols.map((c) => (d.where[c] === null ? `${c} IS NULL` : `${c} = @${c}`));
    const params = Object.fromEntries(Object.entries(d.where).filter(([, v]) => v !== null));
    let n: number;
    try {
      n = (
        db
          .prepare(
            `SELECT COUNT(*) AS n FROM ${d.table}${where.length ? ` WHERE ${where.join(" AND ")}` : ""}`,
          )
          .get(params) as { n: number }
      ).n;
    } catch (e) {
      out.push(`${what}: ${(e as Error).message}`);
      continue;
    }
    if (n !== d.count) out.push(`${what}: expected ${d.count} row(s), got ${n}`);
  }
  for (const v of final.venue_requests) {
    const n = stubRequests.filter(
      (r) =>
        r.path === v.path &&
        (v.action_type === undefined ||
          (r.body as { action?: { type?: string } } | null)?.action?.type === v.action_type),
    ).length;
    const what = `final venue_requests [path=${v.path}${v.action_type ? ` action_type=${v.action_type}` : ""}]`;
    if (n !== v.count) out.push(`${what}: expected ${v.count} request(s), got ${n}`);
  }
  return out;
}

/** A secret value to look for, with the name it is reported under (never the value itself). */
export interface Needle {
  name: string;
  /** Lower-case forms searched case-insensitively (full value; hex body without 0x). */
  forms: string[];
}

const SECRET_NAME = /(KEY|SECRET|PASSWORD|PASSPHRASE|TOKEN|MNEMONIC)/;

/**
 * Secrets configured for a scenario: env values whose names look secret (≥ 12 chars, so short
 * flags are not flagged everywhere) plus the HTTP bearer tokens the harness created.
 */
export function secretNeedles(env: Record<string, string>, tokens: string[]): Needle[] {
  const out: Needle[] = [];
  const add = (name: string, value: string) => {
    if (value.length < 12) return;
    const v = value.toLowerCase();
    const forms = [v];
    if (/^0x[0-9a-f]+$/.test(v)) forms.push(v.slice(2));
    out.push({ name, forms });
  };
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (SECRET_NAME.test(k) && !k.startsWith("TW_")) add(k, v);
  }
  for (const [i, t] of tokens.entries()) add(`http token #${i + 1}`, t);
  return out;
}

/**
 * Scans every tool result, every audit row (all columns) and the server's log output for the
 * configured secrets. @returns one problem per place a secret was found.
 */
export function secretProblems(
  needles: Needle[],
  results: Array<{ label: string; result: unknown }>,
  db: Db,
  logs: string,
): string[] {
  if (needles.length === 0) return [];
  const out: string[] = [];
  const scan = (where: string, text: string) => {
    const t = text.toLowerCase();
    for (const n of needles)
      if (n.forms.some((f) => t.includes(f))) out.push(`secret ${n.name} found in ${where}`);
  };
  for (const r of results) scan(`the result of ${r.label}`, JSON.stringify(r.result));
  for (const row of auditRows(db)) scan(`audit row ${row.id} (${row.tool})`, JSON.stringify(row));
  scan("the server log", logs);
  return out;
}
