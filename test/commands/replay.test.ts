import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { call, CLI, REPLAY_30D, serveProcess, perTest } from "../helpers/app.js";

const { home, defer } = perTest();
// These tests start real processes (CLI, serve): minutes on a loaded machine, not seconds.
vi.setConfig({ testTimeout: 240_000 });

function replay(args: string[], env: Record<string, string>) {
  const r = spawnSync("node", [CLI, ...args], {
    env: { ...process.env, TW_LOG_LEVEL: "silent", ...env },
    encoding: "utf8",
    timeout: 300_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

// 15:00 → 16:10 UTC holds the 16:00 funding time, so funding is due in the window.
const WINDOW = ["--from", "2025-05-26T15:00:00Z", "--to", "2025-05-26T16:10:00Z"];

describe("replay summaries say what funding the run had", () => {
  it("the embedded replay (no --data) books funding and has no warnings", () => {
    const h = home();
    const s = JSON.parse(replay(["replay", ...WINDOW, "--json"], { TW_HOME: h }));
    expect(s.orders).toBeGreaterThan(0);
    expect(s.funding).not.toBe(0);
    expect(s.funding_coverage).toEqual({ BTC: 1, ETH: 1, SOL: 1, ADA: 1, DOGE: 1 });
    expect(s.warnings).toEqual([]);
    expect(s.db).toBe(join(h, "replays", `${s.run_id}.db`));
    expect(existsSync(s.db)).toBe(true);
  });

  it("a replay with candles only warns once per symbol, naming it and --funding DIR", () => {
    const s = JSON.parse(replay(["replay", "--data", REPLAY_30D, ...WINDOW, "--json"], { TW_HOME: home() }));
    expect(s.funding).toBe(0);
    expect(s.funding_coverage).toEqual({ BTC: 0, ETH: 0, SOL: 0, ADA: 0, DOGE: 0 });
    expect(s.warnings).toHaveLength(5);
    for (const sym of ["BTC", "ETH", "SOL", "ADA", "DOGE"]) {
      const w = s.warnings.find((x: string) => x.startsWith(`${sym}:`));
      expect(w, sym).toContain("--funding DIR");
    }
  });
});

describe("a replay never touches the server's state", () => {
  it("after a replay that trades and trips the breaker to HALT, serve on the same home is NORMAL with an untouched paper account", async () => {
    const h = home();
    const cfg = join(h, "tight.json");
    writeFileSync(
      cfg,
      JSON.stringify({ cycle: { limits: { drawdownReduceOnly: 0.0001, drawdownHalt: 0.0002 } } }),
    );
    const text = replay(
      [
        "--config",
        cfg,
        "replay",
        "--data",
        REPLAY_30D,
        "--from",
        "2025-05-30T12:00:00Z",
        "--to",
        "2025-05-30T16:10:00Z",
      ],
      { TW_HOME: h },
    );
    // The human summary: ISO times, percentages, rounded money, the mode timeline, the warnings.
    expect(text).toMatch(/^replay 2025-05-30T12:00Z → 2025-05-30T16:10Z: 251 cycles/);
    expect(text).toMatch(/equity {5}100,000\.00 → [\d,]+\.\d\d \([+-]\d+\.\d\d%\), max drawdown \d+\.\d\d%/);
    expect(text).toMatch(/2025-05-30T\d\d:\d\dZ → REDUCE_ONLY: drawdown/);
    expect(text).toMatch(/2025-05-30T\d\d:\d\dZ → HALT: drawdown/);
    expect(text).toMatch(/warnings:\n {2}- BTC: no funding data/);
    expect(text).not.toMatch(/\d\.\d{3,}/);
    // The replay wrote only its own database.
    expect(readdirSync(h).sort()).toEqual(["replays", "tight.json"]);

    const client = await serveProcess({ TW_HOME: h, TW_MARKET_DATA: `replay:${REPLAY_30D}` });
    defer(() => client.close());
    const status = await call(client, "system_get_status");
    expect(status.sc.control.mode).toBe("NORMAL");
    const account = await call(client, "account_get_state", {});
    expect(account.isError).toBe(false);
    expect(Number(account.sc.equity)).toBe(100_000);
    expect(account.sc.positions).toEqual([]);
    expect((await call(client, "order_list", {})).sc.orders).toEqual([]);
    expect((await call(client, "fill_list", {})).sc.fills).toEqual([]);
  });
});
