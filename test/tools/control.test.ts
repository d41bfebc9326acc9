import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { approveCommand } from "../../src/commands/approve.js";
import { controlCommand } from "../../src/commands/control.js";
import { hyperliquidSecrets, Secret } from "../../src/secrets.js";
import { redact } from "../../src/policy/redact.js";
import { call, connectClient, REPLAY_30D } from "../helpers/app.js";
import { orderApp } from "../policy/helpers.js";

/** Runs one CLI command in-process against TW_HOME = home; returns stdout and the exit code. */
async function cli(home: string, argv: string[]): Promise<{ out: string; code: number }> {
  const env = {
    TW_HOME: process.env.TW_HOME,
    TW_MARKET_DATA: process.env.TW_MARKET_DATA,
    TW_LOG_LEVEL: process.env.TW_LOG_LEVEL,
  };
  Object.assign(process.env, {
    TW_HOME: home,
    TW_MARKET_DATA: `replay:${REPLAY_30D}`,
    TW_LOG_LEVEL: "silent",
  });
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  process.exitCode = 0;
  try {
    const program = new Command().option("-c, --config <path>").exitOverride();
    approveCommand.register(program);
    controlCommand.register(program);
    await program.parseAsync(["node", "tradewarden", ...argv]);
    return { out, code: Number(process.exitCode ?? 0) };
  } finally {
    spy.mockRestore();
    process.exitCode = 0;
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

let cleanup: (() => Promise<void>) | undefined;
beforeEach(() => {
  cleanup = undefined;
});
afterEach(async () => cleanup?.());

describe("operator CLI", () => {
  it("tradewarden approve ID lets the agent submit; tradewarden reject ID makes the intent unsubmittable", async () => {
    const t = await orderApp();
    cleanup = t.cleanup;
    const agent = await connectClient(t.app, "agent");
    const p = await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.3 });
    expect((await call(agent, "order_submit", { intent_id: p.sc.intent_id })).sc.code).toBe(
      "APPROVAL_REQUIRED",
    );
    const a = await cli(t.home, ["approve", p.sc.intent_id, "--reason", "ok by me", "--json"]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out)).toMatchObject({ intent_id: p.sc.intent_id, decision: "approved" });
    expect(JSON.parse(a.out).actor).toMatch(/^cli:/);
    expect((await call(agent, "order_submit", { intent_id: p.sc.intent_id })).sc.status).toBe("filled");

    const q = await call(agent, "order_propose", { symbol: "ETH", side: "buy", type: "market", size: 12 });
    const r = await cli(t.home, ["reject", q.sc.intent_id, "--reason", "too big"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`rejected ${q.sc.intent_id}`);
    const s = await call(agent, "order_submit", { intent_id: q.sc.intent_id });
    expect(s.sc.code).toBe("APPROVAL_REQUIRED");
    expect(s.sc.message).toContain("too big");
    const again = await cli(t.home, ["approve", q.sc.intent_id]);
    expect(again.code).toBe(1);
  });

  it("tradewarden control halt|resume --reason changes the mode the gate enforces, audited as the CLI user", async () => {
    const t = await orderApp();
    cleanup = t.cleanup;
    const agent = await connectClient(t.app, "agent");
    const operator = await connectClient(t.app, "operator");
    const h = await cli(t.home, ["control", "halt", "--reason", "maintenance"]);
    expect(h).toMatchObject({ code: 0, out: "NORMAL → HALT (maintenance)\n" });
    expect(
      (await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.01 })).sc
        .code,
    ).toBe("HALTED");
    const st = await cli(t.home, ["control", "status", "--json"]);
    expect(JSON.parse(st.out)).toMatchObject({ mode: "HALT", reason: "maintenance" });
    expect((await cli(t.home, ["control", "resume", "--reason", "done"])).code).toBe(0);
    expect(
      (await call(agent, "order_propose", { symbol: "BTC", side: "buy", type: "market", size: 0.01 }))
        .isError,
    ).toBe(false);
    expect((await cli(t.home, ["control", "resume"])).code).toBe(2);
    const audit = await call(operator, "audit_query", { tool: "control_halt" });
    expect(audit.sc.rows[0].caller).toMatch(/^cli:/);
  });
});

describe("operator CLI flatten", () => {
  it("tradewarden control flatten --reason halts, closes every position with reduce-only orders as the CLI user, and exits 0 when flat", async () => {
    const t = await orderApp();
    cleanup = t.cleanup;
    const agent = await connectClient(t.app, "agent");
    for (const [symbol, side, size] of [
      ["BTC", "buy", 0.05],
      ["ETH", "sell", 1],
    ] as const) {
      const p = await call(agent, "order_propose", { symbol, side, type: "market", size });
      expect((await call(agent, "order_submit", { intent_id: p.sc.intent_id })).sc.status).toBe("filled");
    }
    const r = await cli(t.home, ["control", "flatten", "--reason", "end of day", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out).toMatchObject({ venue: "paper", mode: "HALT", previous_mode: "NORMAL", remaining: [] });
    expect(
      out.closes.map((c: { symbol: string; size: string; status: string }) => [c.symbol, c.size, c.status]),
    ).toEqual([
      ["BTC", "0.05", "filled"],
      ["ETH", "1", "filled"],
    ]);
    const operator = await connectClient(t.app, "operator");
    const st = await call(operator, "account_get_state", {});
    expect(st.sc.positions).toEqual([]);
    const audit = await call(operator, "audit_query", { tool: "order_submit" });
    const byCli = audit.sc.rows.filter((x: { caller: string }) => x.caller.startsWith("cli:"));
    expect(byCli.length).toBe(2);
    expect((await call(operator, "audit_query", { tool: "control_flatten" })).sc.rows[0].caller).toMatch(
      /^cli:/,
    );
    // An agent's new order is now refused: flatten left the kill switch on.
    const again = await call(agent, "order_propose", {
      symbol: "BTC",
      side: "buy",
      type: "market",
      size: 0.01,
    });
    expect(again.sc.code).toBe("HALTED");
  });
});

describe("secrets", () => {
  it("a Secret never serialises its value and a missing key is CONFIG_INVALID without echoing anything", async () => {
    const key = `0x${"ab".repeat(32)}`;
    const s = new Secret(key);
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(`${s}`).toBe("[redacted]");
    expect(s.reveal()).toBe(key);
    expect(JSON.stringify(redact({ note: `key ${key}` }))).not.toContain("ab".repeat(32));
    const t = await orderApp();
    cleanup = t.cleanup;
    expect(() => hyperliquidSecrets(t.app.config, {})).toThrow(/HL_PRIVATE_KEY/);
    expect(hyperliquidSecrets(t.app.config, { HL_PRIVATE_KEY: key }).privateKey.reveal()).toBe(key);
  });
});
