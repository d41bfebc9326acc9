import { writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import { type ReplaySummary, runReplay } from "../../src/engine/replay.js";
import { blockCycles } from "../../src/store/cycleBlocks.js";
import { compactCycles, iterateCycles, recentEvents } from "../../src/store/cycles.js";
import { dropDecisions } from "../../src/store/decisions.js";
import { verifyAudit } from "../../src/store/audit.js";
import { type Db, openDb } from "../../src/store/db.js";
import { REPLAY_PAGE_SIZE } from "../../src/store/replayFile.js";
import { REPLAY_30D, tempHome, testConfig } from "../helpers/app.js";

const EPS = 1e-9;
let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function home(): string {
  const t = tempHome();
  cleanups.push(t.cleanup);
  return t.home;
}

function cfg(h: string, patch: (c: Config) => void = () => {}): Config {
  const c = testConfig(h);
  patch(c);
  return c;
}

const DAY1_FROM = Date.parse("2025-05-26T00:00:00Z");

/**
 * Every cycle named by a replay's grouped `cycle.run` audit rows, in audit order, as one object a
 * cycle (`{cycle_id, used, reason, clips, slices, sent, refused, rate_limited, corrections}`).
 */
function runRows(db: Db): Array<Record<string, unknown>> {
  const rows = db
    .prepare("SELECT args, result FROM audit_log WHERE tool = 'cycle.run' ORDER BY id")
    .all() as Array<{ args: string; result: string }>;
  return rows.flatMap((r) => {
    const args = JSON.parse(r.args) as { first: string; last: string; count: number };
    const { columns, rows: cycles } = JSON.parse(r.result) as { columns: string[]; rows: unknown[][] };
    // A group's args name its first and last cycle and how many it holds.
    expect([args.first, args.last, args.count]).toEqual([
      cycles[0][0],
      cycles[cycles.length - 1][0],
      cycles.length,
    ]);
    return cycles.map((c) => Object.fromEntries(columns.map((k, i) => [k, c[i]])));
  });
}

describe("replay over real data", () => {
  it("a target file asking for 100% BTC is clipped to the cap with the reasons recorded", async () => {
    const h = home();
    const file = join(h, "targets.jsonl");
    writeFileSync(
      file,
      `${JSON.stringify({
        time: "2025-05-26T00:00:00Z",
        targets: [{ symbol: "BTC", weight: 1 }],
        cash_weight: 0,
        confidence: 0.9,
        rationale: "all in",
        model: { name: "test", version: "1" },
      })}\n`,
    );
    const s = await runReplay(cfg(h), {
      dataDirs: [REPLAY_30D],
      from: DAY1_FROM,
      to: DAY1_FROM + 4 * 60_000,
      targetFile: file,
    });
    const db = openDb(s.db);
    cleanups.unshift(() => db.close());
    const cycles = [...iterateCycles(db)];
    expect(cycles[0].target.used).toBe("agent");
    expect(cycles[0].approved.rejections[0]).toEqual({
      symbol: "BTC",
      reason: "per_coin_cap",
      original_weight: 1,
      approved_weight: 0.15 * 0.95,
    });
    // EWMA from the flat book would ask 0.07125; the pace allows what the notional bucket banks:
    // min(500 000, 1 × equity) × 60 / 1440 at the guard price (× 1.005), from 100 000 equity.
    const pace = (Math.min(500_000, 100_000) * 60) / 1_440 / (100_000 * 1.005);
    expect(cycles[0].approved.weights.BTC).toBeCloseTo(pace, 9);
    expect(cycles[0].approved.rejections.map((r) => r.reason)).toContain("budget_pacing");
    for (const c of cycles) expect(c.approved.weights.BTC).toBeLessThanOrEqual(0.15);
  });

  it("a fallback is one target_fallback event per streak (where it starts or its reason changes), and the cycle.run audit rows name each cycle once", async () => {
    const h = home();
    const file = join(h, "targets.jsonl");
    const target = (time: string) =>
      JSON.stringify({
        time,
        targets: [{ symbol: "ETH", weight: 0.05 }],
        cash_weight: 0.95,
        confidence: 0.9,
        rationale: "test",
        model: { name: "test", version: "1" },
      });
    writeFileSync(file, `${target("2025-05-26T00:05:00Z")}\n${target("2025-05-26T00:15:00Z")}\n`);
    const s = await runReplay(cfg(h), {
      dataDirs: [REPLAY_30D],
      from: DAY1_FROM,
      to: DAY1_FROM + 30 * 60_000,
      targetFile: file,
    });
    const db = openDb(s.db);
    cleanups.unshift(() => db.close());
    const cycles = [...iterateCycles(db)];
    // Streaks read from the cycle rows: no_target (00:00–00:04), expired after each target's TTL.
    const starts: Array<{ cycle_id: string; reason: string }> = [];
    let prev: string | null = null;
    for (const c of cycles) {
      if (c.target.reason !== null && c.target.reason !== prev)
        starts.push({ cycle_id: c.id, reason: c.target.reason });
      prev = c.target.reason;
    }
    expect(starts.map((x) => x.reason)).toEqual(["no_target", "expired", "expired"]);
    expect(cycles.filter((c) => c.target.reason !== null).length).toBeGreaterThan(15);
    const events = recentEvents(db, 100, "target_fallback").reverse();
    expect(
      events.map((e) => ({ cycle_id: e.cycle_id, reason: (e.detail as { reason: string }).reason })),
    ).toEqual(starts);
    // cycle.run rows name every cycle once, in order (grouped per commit batch in a replay); the
    // agent and baseline sources write no decision row.
    const tools = db.prepare("SELECT DISTINCT tool FROM audit_log WHERE tool LIKE 'cycle.%'").all();
    expect(tools).toEqual([{ tool: "cycle.run" }]);
    expect(runRows(db).map((r) => r.cycle_id)).toEqual(cycles.map((c) => c.id));
    // The replay's own file was created with small pages (src/store/replayFile.ts).
    expect(db.pragma("page_size", { simple: true })).toBe(REPLAY_PAGE_SIZE);
  });

  it("the drawdown breaker trips REDUCE_ONLY then HALT on a real move, and nothing increases exposure afterwards", async () => {
    const h = home();
    const file = join(h, "targets.jsonl");
    // Long the three alts as far as the caps allow into the 2025-05-30/31 sell-off.
    const line = (time: string) =>
      JSON.stringify({
        time,
        targets: [
          { symbol: "SOL", weight: 0.1 },
          { symbol: "ADA", weight: 0.1 },
          { symbol: "DOGE", weight: 0.1 },
        ],
        cash_weight: 0.7,
        confidence: 1,
        rationale: "long alts",
        model: { name: "test", version: "1" },
      });
    const from = Date.parse("2025-05-29T12:00:00Z");
    const lines: string[] = [];
    for (let t = from; t < from + 48 * 3_600_000; t += 4 * 60_000)
      lines.push(line(new Date(t).toISOString()));
    writeFileSync(file, `${lines.join("\n")}\n`);
    const s = await runReplay(
      cfg(h, (c) => {
        c.cycle.limits.drawdownReduceOnly = 0.002;
        c.cycle.limits.drawdownHalt = 0.004;
      }),
      { dataDirs: [REPLAY_30D], from, to: from + 48 * 3_600_000, targetFile: file },
    );
    expect(s.mode_changes).toBe(2);
    expect(s.mode_timeline.map((m) => m.to)).toEqual(["REDUCE_ONLY", "HALT"]);
    const db = openDb(s.db);
    cleanups.unshift(() => db.close());
    const changes = recentEvents(db, 10, "mode_change").reverse();
    expect(changes.map((e) => (e.detail as { to: string }).to)).toEqual(["REDUCE_ONLY", "HALT"]);
    const tripAt = changes[0].ts;
    for (const c of iterateCycles(db)) {
      if (c.ts < tripAt) continue;
      for (const sl of c.plan.slices) expect(sl.reduce_only, `${c.id} ${sl.client_order_id}`).toBe(true);
      for (const [sym, w] of Object.entries(c.approved.weights)) {
        const cur = c.current_weights[sym] ?? 0;
        expect(Math.abs(w)).toBeLessThanOrEqual(Math.abs(cur) + EPS);
      }
    }
  }, 900_000);

  it("two replays of the same input produce identical summaries", async () => {
    const run = async (): Promise<Omit<ReplaySummary, "cycles_per_second" | "run_id" | "db">> => {
      const {
        cycles_per_second: _x,
        run_id: _r,
        db: _d,
        ...rest
      } = await runReplay(cfg(home()), {
        dataDirs: [REPLAY_30D],
        from: DAY1_FROM,
        to: DAY1_FROM + 90 * 60_000,
      });
      return rest;
    };
    const a = await run();
    const b = await run();
    expect(a.orders).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it("a replay's ticks ask SQLite no data_version: its file is its own (issue 15: ≈ 74 statements a tick)", async () => {
    // Count every run of the statement, whichever connection prepared it.
    const probe = new Database(":memory:");
    const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as { get: (...a: unknown[]) => unknown };
    probe.close();
    const get = proto.get;
    let asked = 0;
    proto.get = function (this: { source: string }, ...a: unknown[]) {
      if (/^PRAGMA data_version$/i.test(this.source)) asked++;
      return get.apply(this, a);
    };
    try {
      const s = await runReplay(cfg(home()), {
        dataDirs: [REPLAY_30D],
        from: DAY1_FROM,
        to: DAY1_FROM + 30 * 60_000,
      });
      expect(s.cycles).toBe(31);
      expect(s.orders).toBeGreaterThan(0);
    } finally {
      proto.get = get;
    }
    expect(asked).toBe(0);
  });

  it("compacting all but the last 5 cycles changes no summary figure, keeps what readers use, the last 5 cycles whole, and packs the database smaller", async () => {
    const run = async (detailCycles?: number) => {
      const {
        cycles_per_second: _x,
        run_id: _r,
        db,
        ...rest
      } = await runReplay(cfg(home()), {
        dataDirs: [REPLAY_30D],
        from: DAY1_FROM,
        to: DAY1_FROM + 120 * 60_000,
        detailCycles,
      });
      return { db, rest };
    };
    const full = await run(10_000);
    const compact = await run(5);
    expect(full.rest.orders).toBeGreaterThan(0);
    expect(full.rest.clips).toBeGreaterThan(0);
    expect(compact.rest).toEqual(full.rest);

    const a = openDb(full.db);
    const b = openDb(compact.db);
    cleanups.unshift(
      () => a.close(),
      () => b.close(),
    );
    const whole = [...iterateCycles(a)];
    const small = [...iterateCycles(b)];
    expect(small.map((c) => c.id)).toEqual(whole.map((c) => c.id));
    expect(whole).toHaveLength(121);
    expect(whole.every((c) => !c.compacted)).toBe(true);
    // The last five cycles are exactly as an uncompacted run stored them.
    expect(small.slice(-5)).toEqual(whole.slice(-5));
    const old = small.slice(0, -5);
    expect(old.every((c) => c.compacted && c.features.length === 0 && c.plan.slices.length === 0)).toBe(true);
    expect(old.every((c) => c.report?.end_positions.length === 0 && c.target.target === null)).toBe(true);
    expect(whole.slice(0, -5).some((c) => c.plan.slices.length > 0)).toBe(true);
    // Everything the summary, the book checks and the chart read is kept: time, status, mode, equity
    // and end equity (same double), used/reason, approved weights and figures, the NUMBER of clips,
    // the start weights, and every report figure but the end positions.
    let clips = 0;
    for (const [i, c] of old.entries()) {
      const w = whole[i];
      expect([c.ts, c.status, c.mode, c.finished_at]).toEqual([w.ts, w.status, w.mode, w.finished_at]);
      expect(Number(c.equity)).toBe(Number(w.equity));
      expect({ ...c.target, target: null }).toEqual({ ...w.target, target: null });
      expect(c.approved).toEqual({ ...w.approved, rejections: [] });
      expect(c.clips).toBe(w.approved.rejections.length);
      clips += c.clips ?? 0;
      expect(c.current_weights).toEqual(w.current_weights);
      expect(c.plan).toEqual({ ...w.plan, slices: [], skipped: [] });
      const r = w.report as NonNullable<typeof w.report>;
      expect(c.report).toEqual({
        ...r,
        end_equity: String(Number(r.end_equity)),
        end_cash: String(Number(r.end_cash)),
        end_positions: [],
      });
    }
    expect(clips).toBeGreaterThan(0);
    const decisions = (db: typeof a) =>
      db.prepare("SELECT * FROM cycle_decisions ORDER BY ts").all() as Array<Record<string, unknown>>;
    // No model decides here: the decisions of compacted cycles are deleted (their cycle rows say
    // `used` and `reason`, and the summary's decision counts above are still equal); the last five
    // are exactly the uncompacted run's.
    const [da, db] = [decisions(a), decisions(b)];
    expect(da).toHaveLength(121);
    expect(db).toEqual(da.slice(-5));
    for (const [i, c] of old.entries()) {
      expect(c.target.used).toBe(da[i].used);
      expect(c.target.reason).toBe(da[i].error);
    }
    // The orders of compacted cycles: their intents keep every field and each check's name and
    // verdict, their idempotency keys stay done with the same payload hash and keep the ids and
    // status; the last five cycles' orders are whole.
    const oldIds = new Set(old.map((c) => c.id));
    const cycleOf = (clientId: string) => clientId.slice(0, clientId.indexOf(":"));
    const intents = (db: typeof a) =>
      db.prepare("SELECT * FROM intents ORDER BY client_order_id").all() as Array<{
        client_order_id: string;
        checks: string;
      }>;
    // Intent and order ids are random: each run's own are compared through its client order ids.
    const [ia, ib] = [intents(a), intents(b)];
    expect(ib.map((i) => i.client_order_id)).toEqual(ia.map((i) => i.client_order_id));
    expect(ib.filter((i) => oldIds.has(cycleOf(i.client_order_id))).length).toBeGreaterThan(0);
    for (const [k, i] of ib.entries()) {
      const w = { ...ia[k], id: i.id };
      if (!oldIds.has(cycleOf(i.client_order_id))) {
        expect(i).toEqual(w);
        continue;
      }
      const checks = JSON.parse(w.checks) as Array<{ check: string; passed: boolean }>;
      expect(i).toEqual({
        ...w,
        checks: JSON.stringify(checks.map((c) => (c.passed ? c.check : `!${c.check}`))),
      });
    }
    const keys = (db: typeof a) =>
      db.prepare("SELECT * FROM idempotency_keys ORDER BY scope, key").all() as Array<{
        scope: string;
        key: string;
        result: string;
      }>;
    const ids = (db: typeof a, clientId: string) =>
      db
        .prepare(
          "SELECT i.id AS intent_id, o.id AS order_id FROM intents i JOIN orders o ON o.intent_id = i.id WHERE i.client_order_id = ?",
        )
        .get(clientId) as { intent_id: string; order_id: string };
    const [ka, kb] = [keys(a), keys(b)];
    expect(kb.map((k) => [k.scope, k.key])).toEqual(ka.map((k) => [k.scope, k.key]));
    let compactedKeys = 0;
    for (const [n, k] of kb.entries()) {
      const clientId = k.key.slice(k.key.indexOf("cyc-"));
      const [own, other] = [ids(b, clientId), ids(a, clientId)];
      const w = {
        ...ka[n],
        result: ka[n].result
          .replaceAll(other.intent_id, own.intent_id)
          .replaceAll(other.order_id, own.order_id),
      };
      if (!oldIds.has(cycleOf(clientId))) {
        expect(k).toEqual(w);
        continue;
      }
      compactedKeys++;
      const whole = JSON.parse(w.result) as Record<string, unknown>;
      const expected: Record<string, unknown> = {};
      for (const f of ["intent_id", "order_id", "status"]) if (f in whole) expected[f] = whole[f];
      expect(expected.intent_id ?? expected.order_id).toBeDefined();
      expect(k).toEqual({ ...w, result: JSON.stringify({ ...expected, compacted: true }) });
    }
    expect(compactedKeys).toBe(2 * ib.filter((i) => oldIds.has(cycleOf(i.client_order_id))).length);
    // The audit chain of the compacted file verifies; its cycle.run rows name every cycle once and
    // say what it did, not a copy of its row.
    expect(verifyAudit(b).ok).toBe(true);
    const runs = runRows(b);
    expect(runs.map((r) => r.cycle_id)).toEqual(small.map((c) => c.id));
    for (const [i, { cycle_id: _id, ...r }] of runs.entries()) {
      const c = whole[i];
      expect(r).toEqual({
        used: c.target.used,
        reason: c.target.reason,
        clips: c.approved.rejections.length,
        slices: c.plan.slices.length,
        sent: c.report?.sent,
        refused: c.report?.refused.length,
        rate_limited: c.report?.rate_limited ?? 0,
        corrections: c.report?.corrections ?? 0,
      });
    }
    const pages = (db: typeof a) =>
      (db.pragma("page_count", { simple: true }) as number) -
      (db.pragma("freelist_count", { simple: true }) as number);
    expect(pages(b)).toBeLessThan(pages(a) * 0.85);
  });

  it("a cycle written compacted when it finishes is byte for byte the row (and block) compacting its whole row makes, and no decision row of it is left (issue 15)", async () => {
    const run = async (detailCycles: number) =>
      (
        await runReplay(cfg(home()), {
          dataDirs: [REPLAY_30D],
          from: DAY1_FROM,
          to: DAY1_FROM + 150 * 60_000,
          detailCycles,
        })
      ).db;
    // Every cycle whole, compacted afterwards by the store's own functions, against every cycle
    // written compacted at its finish (`MinuteCycle.storage`).
    const a = openDb(await run(10_000));
    const b = openDb(await run(0));
    cleanups.unshift(
      () => a.close(),
      () => b.close(),
    );
    const end = DAY1_FROM + 151 * 60_000;
    a.transaction(() => {
      compactCycles(a, 0, end);
      blockCycles(a, end);
      dropDecisions(a, 0, end);
    })();
    const table = (db: Db, sql: string) => db.prepare(sql).all() as Array<Record<string, unknown>>;
    const blocks = "SELECT * FROM cycle_blocks ORDER BY first_ts";
    const rows = "SELECT * FROM cycles ORDER BY ts";
    expect(table(b, blocks).length).toBe(2);
    expect(table(b, rows).length).toBe(151 - 120);
    expect(table(b, blocks)).toEqual(table(a, blocks));
    expect(table(b, rows)).toEqual(table(a, rows));
    expect(table(b, "SELECT * FROM cycle_decisions")).toEqual([]);
    const sent = table(b, "SELECT COUNT(*) AS n FROM orders")[0].n as number;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBe(table(a, "SELECT COUNT(*) AS n FROM orders")[0].n);
  });

  it("a compacted replay's file grows by less than 1 KB a cycle, and every sent order has its order_submit audit row (issue 15; 3.4 KB before round 4's compaction)", async () => {
    const size = async (minutes: number) => {
      const s = await runReplay(cfg(home()), {
        dataDirs: [REPLAY_30D],
        from: DAY1_FROM,
        to: DAY1_FROM + minutes * 60_000,
        detailCycles: 5,
      });
      const db = openDb(s.db);
      const bytes =
        (db.pragma("page_count", { simple: true }) as number) *
        (db.pragma("page_size", { simple: true }) as number);
      // Inside the replay's open transaction no order_submit.send row is written (it could not be
      // durable ahead of the venue call); every sent order still has its order_submit row.
      const tools = db.prepare("SELECT tool, COUNT(*) AS n FROM audit_log GROUP BY tool ORDER BY tool").all();
      const sent = db
        .prepare("SELECT id FROM orders WHERE parent_id IS NULL AND status <> 'pending' ORDER BY id")
        .pluck()
        .all() as string[];
      const audited = db
        .prepare(
          "SELECT json_extract(result, '$.order_id') FROM audit_log WHERE tool = 'order_submit' AND decision = 'allowed' ORDER BY 1",
        )
        .pluck()
        .all() as string[];
      db.close();
      return { bytes, cycles: s.cycles, orders: s.orders, tools, sent, audited };
    };
    const one = await size(0);
    const many = await size(600);
    expect(one.cycles).toBe(1);
    expect(many.cycles).toBe(601);
    // The window trades (≈ one order every 6 cycles, like the 7-day run), so order records count.
    expect(many.orders).toBeGreaterThan(60);
    expect(many.tools).toEqual([
      { tool: "cycle.run", n: expect.any(Number) },
      { tool: "order_propose", n: many.orders },
      { tool: "order_submit", n: many.orders },
    ]);
    expect(many.sent).toHaveLength(many.orders);
    expect(many.audited).toEqual(many.sent);
    const perCycle = (many.bytes - one.bytes) / (many.cycles - one.cycles);
    // 915 bytes when written (round 5); 1.3 KB before cycle blocks, no send rows and 4 KB pages.
    expect(perCycle).toBeLessThan(1024);
  }, 120_000);
});
