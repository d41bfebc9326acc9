import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import { createToken } from "../../src/store/tokens.js";
import { tempHome } from "../helpers/app.js";
import { type Receiver, startReceiver } from "./receivers.js";

/**
 * Alerts through real `tradewarden serve --http` processes sharing one home, with local stand-ins
 * for the webhook receiver and the Telegram Bot API. Two processes run, because the guarantees are
 * about serving: one delivery per alert and channel whichever process raised it, and MCP clients of
 * either process hear it.
 */

const CLI = join(import.meta.dirname, "..", "..", "dist", "cli.js");
const BOT_TOKEN = "7361205544:AAF-alert-bot-token-must-never-leak-9Zq";
const WEBHOOK_SECRET = "whsec-alerts-signing-secret-must-never-leak";

interface Serve {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** A port that was free a moment ago (serve does not take port 0). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function startServe(home: string, env: Record<string, string>): Promise<Serve> {
  const child = spawn("node", [CLI, "serve", "--http", "--port", String(await freePort())], {
    cwd: home,
    env: { ...process.env, TW_HOME: home, TW_LOG_LEVEL: "debug", TW_MARKET_DATA: "replay", ...env },
  });
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 120_000);
    const check = () => {
      const m = /MCP endpoint (http:\/\/[^\s]+)\/mcp/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr?.on("data", check);
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

async function stopServe(s: Serve, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => s.child.once("exit", () => resolve()));
  s.child.kill(signal);
  await exited;
}

interface Listener {
  client: Client;
  messages: Array<{ level: string; data: Record<string, unknown> }>;
}

async function connect(url: string, token: string, level?: "critical"): Promise<Listener> {
  const client = new Client({ name: "alert-listener", version: "1.0.0" });
  const messages: Listener["messages"] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    messages.push({ level: n.params.level, data: n.params.data as Record<string, unknown> });
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  if (level) await client.setLoggingLevel(level);
  return { client, messages };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, fn: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const kinds = (r: Receiver) => r.received.map((x) => JSON.parse(x.body) as Record<string, any>);

describe("alerts from serve processes", () => {
  let home: { home: string; cleanup: () => void };
  let webhook: Receiver;
  let telegram: Receiver;
  let a: Serve;
  let b: Serve;
  const listeners: Listener[] = [];
  let agentToken: string;
  let operatorToken: string;

  beforeAll(async () => {
    home = tempHome();
    webhook = await startReceiver();
    // The Telegram stand-in fails its first request with a body that echoes the request path (and so
    // the bot token), as a misbehaving proxy might: the error recorded must not carry it.
    telegram = await startReceiver((i, r) =>
      i === 0
        ? { status: 502, body: { ok: false, description: `bad gateway for ${r.path}` } }
        : { status: 200 },
    );
    writeFileSync(
      join(home.home, "tradewarden.config.json"),
      JSON.stringify({ alerts: { delivery: { baseDelayMs: 200, maxDelayMs: 1_000 } } }),
    );
    const db = openDb(join(home.home, "tradewarden.db"));
    agentToken = createToken(db, "agent-1", "agent", Date.now()).token;
    operatorToken = createToken(db, "ops", "operator", Date.now()).token;
    db.close();
    const env = {
      TW_ALERT_WEBHOOK_URL: `${webhook.url}/hooks/tradewarden`,
      TW_ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TW_TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TW_TELEGRAM_CHAT_ID: "-100200300",
      TW_TELEGRAM_API_URL: telegram.url,
    };
    [a, b] = await Promise.all([startServe(home.home, env), startServe(home.home, env)]);
  }, 240_000);

  afterAll(async () => {
    for (const l of listeners) await l.client.close().catch(() => {});
    await Promise.all([a, b].filter(Boolean).map((s) => stopServe(s)));
    await webhook?.close();
    await telegram?.close();
    home?.cleanup();
  });

  it("control_halt delivers one signed mode_change alert to the webhook and to Telegram within 5 s, and MCP clients of both processes hear it at their level", async () => {
    const onA = await connect(a.url, agentToken);
    const onB = await connect(b.url, operatorToken);
    const quietOnB = await connect(b.url, operatorToken, "critical");
    listeners.push(onA, onB, quietOnB);
    await sleep(1_000); // the clients' notification streams (GET /mcp) open after initialization

    const t0 = Date.now();
    const r = await onA.client.callTool({ name: "control_halt", arguments: { reason: "fat-finger check" } });
    expect(r.isError).toBeFalsy();

    const [hook] = await webhook.waitFor(1, 5_000);
    expect(hook.at - t0).toBeLessThan(5_000);
    const body = JSON.parse(hook.body);
    expect(body).toMatchObject({
      kind: "mode_change",
      severity: "critical",
      resolved: false,
      details: { mode: "HALT", previous_mode: "NORMAL", actor: "token:agent-1", reason: "fat-finger check" },
    });
    expect(body.text).toContain("HALTED");
    expect(body.text).toContain("fat-finger check");
    expect(typeof body.alert_id).toBe("number");
    const expected = `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(hook.body).digest("hex")}`;
    expect(hook.headers["x-tradewarden-signature"]).toBe(expected);

    // Telegram: the first answer was a 502, the retry (200 ms backoff) delivered it.
    const tg = await telegram.waitFor(2, 5_000);
    expect(tg[1].at - t0).toBeLessThan(5_000);
    expect(tg[1].path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    const msg = JSON.parse(tg[1].body);
    expect(msg.chat_id).toBe("-100200300");
    expect(msg.parse_mode).toBe("HTML");
    expect(msg.text).toContain("mode_change");
    expect(msg.text).toContain("HALTED");

    // Both MCP clients at the default level got it as `error`; the one at `critical` did not.
    await until("the MCP notifications", 5_000, () =>
      onA.messages.length > 0 && onB.messages.length > 0 ? true : undefined,
    );
    for (const l of [onA, onB]) {
      expect(l.messages[0].level).toBe("error");
      expect(l.messages[0].data).toMatchObject({
        kind: "mode_change",
        severity: "critical",
        resolved: false,
      });
    }

    // Whichever of the two processes runs the monitors and delivery, nothing arrives twice.
    await sleep(3_000);
    expect(kinds(webhook).filter((p) => p.kind === "mode_change")).toHaveLength(1);
    expect(telegram.received).toHaveLength(2);
    expect(quietOnB.messages).toEqual([]);
  }, 30_000);

  it("an MCP client with a logging handler receives a warning alert; resume reaches the channels with who and why", async () => {
    const [onA, onB, quietOnB] = listeners;
    const ops = onB.client;
    const before = webhook.received.length;
    await ops.callTool({ name: "control_reduce_only", arguments: { reason: "closing risk only" } });
    const warning = await until("the warning", 5_000, () => onA.messages.find((m) => m.level === "warning"));
    expect(warning.data).toMatchObject({
      kind: "mode_change",
      severity: "warning",
      details: { mode: "REDUCE_ONLY", previous_mode: "HALT", actor: "token:ops" },
    });
    await ops.callTool({ name: "control_resume", arguments: { reason: "all clear" } });
    const resumed = await until("the resume notice", 5_000, () =>
      kinds(webhook).find((p) => p.details?.mode === "NORMAL"),
    );
    expect(resumed).toMatchObject({ kind: "mode_change", severity: "info", notice: true });
    expect(resumed.message).toBe("Trading resumed (REDUCE_ONLY → NORMAL) by token:ops: all clear");
    // One raise per change (HALT was delivered earlier): REDUCE_ONLY and the resume, nothing else.
    expect(
      kinds(webhook)
        .slice(before)
        .map((p) => p.details.mode),
    ).toEqual(["REDUCE_ONLY", "NORMAL"]);
    // Info notices are not MCP notifications; the critical-level client still heard nothing.
    expect(onA.messages.map((m) => m.level)).toEqual(["error", "warning"]);
    expect(quietOnB.messages).toEqual([]);
  }, 20_000);

  it("alert_list shows each delivery, and the bot token and webhook secret appear nowhere: logs, database, tool results", async () => {
    const [onA] = listeners;
    const list = (await onA.client.callTool({ name: "alert_list", arguments: { status: "all" } })) as {
      structuredContent: { alerts: Array<Record<string, any>> };
    };
    const halt = list.structuredContent.alerts.find((x) => x.details.mode === "HALT");
    expect(halt?.resolved_at).not.toBeNull();
    const byChannel = Object.fromEntries(
      (halt?.deliveries ?? []).map((d: Record<string, any>) => [d.channel, d]),
    );
    expect(byChannel["webhook:env"]).toMatchObject({ status: "ok", attempts: 1, http_status: 200 });
    expect(byChannel.telegram).toMatchObject({ status: "ok", attempts: 2, http_status: 200 });

    await Promise.all([stopServe(a), stopServe(b)]);
    const texts = [a.stderr(), b.stderr(), JSON.stringify(list)];
    for (const f of ["tradewarden.db", "tradewarden.db-wal", "tradewarden.db-shm"]) {
      const p = join(home.home, f);
      if (existsSync(p)) texts.push(readFileSync(p).toString("latin1"));
    }
    expect(a.stderr() + b.stderr()).toContain("alert delivered");
    expect(a.stderr() + b.stderr()).toContain("alert delivery failed; will retry");
    for (const t of texts) {
      expect(t.includes(BOT_TOKEN)).toBe(false);
      expect(t.includes("AAF-alert-bot-token")).toBe(false);
      expect(t.includes(WEBHOOK_SECRET)).toBe(false);
    }
    // The failed Telegram attempt is on record, with the echoed path scrubbed.
    const db = openDb(join(home.home, "tradewarden.db"));
    const failed = db
      .prepare(
        "SELECT error, http_status FROM alert_deliveries WHERE channel = 'telegram' AND status = 'failed'",
      )
      .all() as Array<{ error: string; http_status: number }>;
    db.close();
    expect(failed).toHaveLength(1);
    expect(failed[0].http_status).toBe(502);
    expect(failed[0].error).toContain("[redacted]");
  }, 30_000);
});

/** Runs a one-shot CLI command against `home` and waits for it. */
async function cli(home: string, args: string[]): Promise<number | null> {
  const child = spawn("node", [CLI, ...args], {
    cwd: home,
    // A control change reads no market data; an unreachable source keeps the start-up short.
    env: {
      ...process.env,
      TW_HOME: home,
      TW_LOG_LEVEL: "silent",
      TW_MARKET_DATA: "hyperliquid",
      TW_HL_API_URL: "http://127.0.0.1:9",
    },
    stdio: "ignore",
  });
  return new Promise((resolve) => child.on("exit", resolve));
}

describe("delivery across a killed serve process", () => {
  it("an alert delivered before kill -9 is not sent again; one that was failing is delivered exactly once after restart", async () => {
    const h = tempHome();
    let down = false;
    const webhook = await startReceiver(() => ({ status: down ? 503 : 200 }));
    let serve: Serve | undefined;
    try {
      writeFileSync(
        join(h.home, "tradewarden.config.json"),
        JSON.stringify({ alerts: { delivery: { baseDelayMs: 300, maxDelayMs: 600 } } }),
      );
      const env = { TW_ALERT_WEBHOOK_URL: `${webhook.url}/hook` };
      serve = await startServe(h.home, env);
      await sleep(500);

      // The halt comes from a CLI process; the serving process's monitor picks it up.
      expect(await cli(h.home, ["control", "halt", "--reason", "before the crash"])).toBe(0);
      // Generous waits: this test is about what arrives, not how fast (the 5 s bound is tested above).
      await webhook.waitFor(1, 20_000);

      down = true;
      expect(await cli(h.home, ["control", "resume", "--reason", "after the crash"])).toBe(0);
      await webhook.waitFor(3, 20_000); // the resume notice, refused twice
      await stopServe(serve, "SIGKILL");
      const beforeRestart = webhook.received.length;

      down = false;
      serve = await startServe(h.home, env);
      await until("the resume notice delivered", 20_000, () =>
        webhook.received.length > beforeRestart ? true : undefined,
      );
      await sleep(2_500);
      const bodies = kinds(webhook);
      const ok = webhook.received.map((_r, i) => ({
        mode: bodies[i].details.mode,
        ok: i === 0 || i >= beforeRestart,
      }));
      // The halt: once. The resume: refused while down, then exactly one success after the restart.
      expect(bodies.filter((b) => b.details.mode === "HALT")).toHaveLength(1);
      expect(ok.filter((x) => x.mode === "NORMAL" && x.ok)).toHaveLength(1);
      expect(webhook.received.length).toBe(beforeRestart + 1);
      expect(new Set(bodies.filter((b) => b.details.mode === "NORMAL").map((b) => b.event_id)).size).toBe(1);
    } finally {
      if (serve) await stopServe(serve);
      await webhook.close();
      h.cleanup();
    }
  }, 300_000);
});
