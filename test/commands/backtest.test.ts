import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNDING, REPLAY_30D, tempHome } from "../helpers/app.js";

/** `tradewarden backtest` (dist/cli.js, built by `npm test`): data folders, funding and warnings. */

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const { home, cleanup } = tempHome();
afterAll(() => cleanup());

function backtest(...args: string[]): { status: number | null; doc: Record<string, any>; stderr: string } {
  const r = spawnSync(
    "node",
    [CLI, "backtest", "--strategy", "ema_cross", "--symbols", "BTC", "--interval", "1h", "--json", ...args],
    { env: { ...process.env, TW_HOME: home, TW_LOG_LEVEL: "warn" }, cwd: home, encoding: "utf8" },
  );
  return { status: r.status, doc: r.status === 0 ? JSON.parse(r.stdout) : {}, stderr: r.stderr };
}

describe("tradewarden backtest", () => {
  let embedded: ReturnType<typeof backtest>;
  beforeAll(() => {
    embedded = backtest();
  });

  it("without --data runs on the embedded 30 days with funding", () => {
    expect(embedded.status, embedded.stderr).toBe(0);
    expect(embedded.doc.spec.data.source).toBe(`replay:${REPLAY_30D}:${FUNDING}`);
    expect(embedded.doc.funding_coverage).toEqual({ BTC: 1 });
    expect(embedded.doc.funding_paid).not.toBe(0);
    // 30 days of hourly bars: 720 bars < 1,000, which it says; nothing about funding.
    expect(embedded.doc.bars).toBeLessThan(1000);
    expect(embedded.doc.warnings).toEqual(
      [expect.stringContaining(`Only ${embedded.doc.bars} bars`)].concat(
        embedded.doc.trades < 30 ? [expect.stringContaining("closed round trips")] : [],
      ),
    );
  });

  it("a candle folder without funding files warns, naming the symbol and --funding; --funding DIR fixes it", () => {
    const bare = backtest("--data", REPLAY_30D);
    expect(bare.status, bare.stderr).toBe(0);
    expect(bare.doc.funding_coverage).toEqual({ BTC: 0 });
    expect(bare.doc.funding_paid).toBe(0);
    expect(bare.doc.warnings).toContainEqual(
      expect.stringMatching(
        /^BTC: funding data covers 0% .*Pass --funding DIR with BTCUSDT_funding\*\.csv\[\.gz\]/,
      ),
    );
    const withFunding = backtest("--data", REPLAY_30D, "--funding", FUNDING);
    expect(withFunding.doc.funding_coverage).toEqual({ BTC: 1 });
    expect(withFunding.doc.warnings.some((w: string) => w.includes("funding"))).toBe(false);
    expect(withFunding.doc.funding_paid).toBe(embedded.doc.funding_paid);
    expect(withFunding.doc.total_return).toBe(embedded.doc.total_return);
  });

  it("finds <COIN><QUOTE>_funding*.csv.gz files in a --data folder; --no-funding is a warning", () => {
    const dir = join(home, "mixed");
    mkdirSync(dir);
    copyFileSync(join(REPLAY_30D, "BTCUSDT_1m.csv.gz"), join(dir, "BTCUSDT_1m.csv.gz"));
    copyFileSync(
      join(FUNDING, "BTCUSDT_funding_2025-05_2025-06.csv.gz"),
      join(dir, "BTCUSDT_funding_any-suffix.csv.gz"),
    );
    const r = backtest("--data", dir);
    expect(r.doc.funding_coverage).toEqual({ BTC: 1 });
    expect(r.doc.funding_paid).toBe(embedded.doc.funding_paid);
    const off = backtest("--data", dir, "--no-funding");
    expect(off.doc.funding_coverage).toEqual({ BTC: 0 });
    expect(off.doc.warnings).toContainEqual(
      expect.stringContaining("BTC: funding was not applied (--no-funding)"),
    );
  });
});
