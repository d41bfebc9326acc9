import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Dec as Decimal } from "../../src/exchange/fillModel.js";
import { afterEach, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.js";
import { type ReplaySummary, runReplay } from "../../src/engine/replay.js";
import { iterateCycles, recentEvents } from "../../src/store/cycles.js";
import { openDb } from "../../src/store/db.js";
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

describe("replay over real data", () => {
  it("the 30 real days replay completes; every persisted cycle respects caps, gross, net, turnover and close-first, and equity = cash + positions marked to market exactly", async () => {
    const h = home();
    const s = await runReplay(cfg(h), { dataDirs: [REPLAY_30D] });
    expect(s.cycles).toBeGreaterThan(43_000);
    expect(s.orders).toBeGreaterThan(0);
    const db = openDb(s.db);
    cleanups.unshift(() => db.close());
    let n = 0;
    for (const c of iterateCycles(db)) {
      n++;
      const w = c.approved.weights;
      const g = Object.values(w).reduce((a, x) => a + Math.abs(x), 0);
      const net = Object.values(w).reduce((a, x) => a + x, 0);
      expect(g).toBeLessThanOrEqual(0.4 + EPS);
      expect(Math.abs(net)).toBeLessThanOrEqual(0.2 + EPS);
      for (const [sym, x] of Object.entries(w)) {
        expect(Math.abs(x), `${c.id} ${sym}`).toBeLessThanOrEqual(
          (sym === "BTC" || sym === "ETH" ? 0.15 : 0.1) + EPS,
        );
      }
      expect(c.approved.turnover).toBeLessThanOrEqual(0.1 + EPS);
      const firstIncrease = c.plan.slices.findIndex((x) => !x.reduce_only);
      const lastReduce = c.plan.slices.map((x) => x.reduce_only).lastIndexOf(true);
      if (firstIncrease >= 0 && lastReduce >= 0) expect(lastReduce).toBeLessThan(firstIncrease);
      expect(c.status).toBe("done");
      // Equity identity at every cycle end, recomputed here from the venue's cash and positions:
      // equity = cash + Σ size × (mark − entry). Money is decimal at 40 significant digits (average
      // entry = cost / size rounded there), so the identity holds to 1e-20 quote — far below any
      // money unit — rather than to the 40th digit.
      const r = c.report!;
      const marked = r.end_positions.reduce(
        (a, p) => a.plus(new Decimal(p.size).times(new Decimal(p.mark_px).minus(p.entry_px))),
        new Decimal(r.end_cash),
      );
      expect(marked.minus(r.end_equity).abs().lessThan("1e-20"), c.id).toBe(true);
    }
    expect(n).toBe(s.cycles);
  }, 900_000);

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
      approved_weight: 0.15,
    });
    // EWMA then turnover: 0.075 in cycle 1, then 0.1125 (turnover 0.0375), ... never above 0.15.
    expect(cycles[0].approved.weights.BTC).toBeCloseTo(0.075, 12);
    expect(cycles[1].approved.weights.BTC).toBeCloseTo(0.1125, 12);
    for (const c of cycles) expect(c.approved.weights.BTC).toBeLessThanOrEqual(0.15);
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
        c.cycle.drawdownReduceOnly = 0.002;
        c.cycle.drawdownHalt = 0.004;
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
  });

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
});
