import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempHome } from "../helpers/app.js";
import { type RunResult, runAsync } from "../helpers/spawn.js";
import { type Receiver, startReceiver } from "./receivers.js";

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const BOT_TOKEN = "5550001111:AAH-cli-test-token-never-printed";

let teardown: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const t of teardown.reverse()) await t();
  teardown = [];
});

function run(home: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  return runAsync("node", [CLI, ...args], {
    cwd: home,
    env: {
      ...process.env,
      TW_HOME: home,
      TW_LOG_LEVEL: "debug",
      TW_MARKET_DATA: "hyperliquid",
      TW_HL_API_URL: "http://127.0.0.1:9",
      ...env,
    },
  });
}

async function receiver(answer?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(answer);
  teardown.push(() => r.close());
  return r;
}

describe("tradewarden alerts", () => {
  it("test sends one notice to each channel and reports what each answered; list and ack work from the shell", async () => {
    const h = tempHome();
    teardown.push(h.cleanup);
    const hook = await receiver();
    const tg = await receiver(() => ({
      status: 401,
      body: { ok: false, error_code: 401, description: "Unauthorized" },
    }));
    const env = {
      TW_ALERT_WEBHOOK_URL: `${hook.url}/h`,
      TW_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TW_TELEGRAM_CHAT_ID: "7",
      TW_TELEGRAM_API_URL: tg.url,
    };
    const t = await run(h.home, ["alerts", "test", "--json"], env);
    expect(t.status).toBe(1); // Telegram refused
    const res = JSON.parse(t.stdout);
    expect(res.channels).toEqual([
      { channel: "webhook:env", status: "ok", http_status: 200, error: null },
      {
        channel: "telegram",
        status: "abandoned",
        http_status: 401,
        error: expect.stringContaining("HTTP 401"),
      },
    ]);
    expect(hook.received).toHaveLength(1);
    expect(JSON.parse(hook.received[0].body)).toMatchObject({
      kind: "test",
      severity: "info",
      alert_id: res.alert_id,
    });
    expect(tg.received).toHaveLength(1);
    expect(t.stdout + t.stderr).not.toContain(BOT_TOKEN);

    const list = await run(h.home, ["alerts", "list", "--all"], env);
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(`${res.alert_id}\t`);
    expect(list.stdout).toContain("INFO\ttest\tresolved");
    const ack = await run(h.home, ["alerts", "ack", String(res.alert_id), "--note", "seen"], env);
    expect(ack.stdout).toContain(`acknowledged: alert ${res.alert_id} by cli:`);
    const missing = await run(h.home, ["alerts", "ack", "999"], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("No alert 999");
  }, 60_000);

  it("test without any channel says how to configure one and exits 2", async () => {
    const h = tempHome();
    teardown.push(h.cleanup);
    const r = await run(h.home, ["alerts", "test"], { TW_TELEGRAM_BOT_TOKEN: BOT_TOKEN });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("TW_TELEGRAM_BOT_TOKEN is set but TW_TELEGRAM_CHAT_ID is not");
    expect(r.stderr).toContain("no alert channel is configured");
    expect(r.stderr).not.toContain(BOT_TOKEN);
  }, 30_000);
});
