import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app.js";
import { telegramChannel } from "../../src/alerts/channels/telegram.js";
import type { Channel } from "../../src/alerts/channels/types.js";
import { webhookChannel } from "../../src/alerts/channels/webhook.js";
import { type DeliveryDeps, DeliveryWorker } from "../../src/alerts/delivery.js";
import type { AlertInput } from "../../src/alerts/types.js";
import { Secret } from "../../src/secrets.js";
import { claimDelivery } from "../../src/store/alerts.js";
import { alertApp } from "./helpers.js";
import { type Receiver, startReceiver } from "./receivers.js";

let teardown: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const t of teardown.reverse()) await t();
  teardown = [];
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(): Promise<{ app: App; reopen: () => Promise<App> }> {
  const t = await alertApp({ env: { TW_MARKET_DATA: "replay" } });
  teardown.push(t.cleanup);
  return { app: t.app, reopen: () => t.reopen() };
}

async function receiver(answer?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(answer);
  teardown.push(() => r.close());
  return r;
}

function hook(name: string, r: Receiver, secret?: string): Channel {
  return webhookChannel({
    name,
    url: `${r.url}/in`,
    minSeverity: "info",
    secret: secret ? new Secret(secret) : null,
    timeoutMs: 2_000,
    userAgent: "tradewarden/test",
  });
}

/** A delivery worker, started unless `start` is false (then only its queues are initialised). */
function worker(app: App, channels: Channel[], o: Partial<DeliveryDeps> = {}, start = true): DeliveryWorker {
  const w = new DeliveryWorker({
    db: app.db,
    clock: app.clock,
    log: app.log,
    alerts: app.alerts,
    channels,
    maxAttempts: 8,
    baseDelayMs: 40,
    maxDelayMs: 2_000,
    timeoutMs: 2_000,
    failingAfter: 10,
    pollMs: 20,
    ...o,
  });
  if (!start) {
    w.init();
    return w;
  }
  const stop = w.start();
  teardown.push(stop);
  return w;
}

const HALT: AlertInput = {
  kind: "mode_change",
  severity: "critical",
  key: "mode_change",
  message: "Trading HALTED (was NORMAL) by token:ops: test",
  details: { mode: "HALT" },
};

function attempts(
  app: App,
  channel: string,
): Array<{ status: string; attempt: number; http_status: number | null }> {
  return app.db
    .prepare("SELECT status, attempt, http_status FROM alert_deliveries WHERE channel = ? ORDER BY id")
    .all(channel) as Array<{ status: string; attempt: number; http_status: number | null }>;
}

describe("alert delivery", () => {
  it("a channel answering 500 three times then 200 gets exactly one successful delivery, after growing backoff", async () => {
    const { app, reopen } = await setup();
    const r = await receiver((i) => ({ status: i < 3 ? 500 : 200 }));
    const w1 = worker(app, [hook("ops", r, "k1")]);
    void w1;
    const { alert } = app.alerts.raise(HALT, 0);
    const got = await r.waitFor(4, 10_000);
    await sleep(400);
    expect(r.received).toHaveLength(4);
    // One event: the same body, the same delivery id, every time.
    expect(new Set(got.map((x) => x.body)).size).toBe(1);
    expect(new Set(got.map((x) => x.headers["x-tradewarden-delivery"])).size).toBe(1);
    expect(JSON.parse(got[0].body).alert_id).toBe(alert.alert_id);
    // Backoff 40, 80, 160 ms between attempts (lower bounds; a busy machine only makes them longer).
    const gaps = got.slice(1).map((x, i) => x.at - got[i].at);
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps[2]).toBeGreaterThanOrEqual(155);
    expect(attempts(app, "webhook:ops")).toEqual([
      { status: "failed", attempt: 1, http_status: 500 },
      { status: "failed", attempt: 2, http_status: 500 },
      { status: "failed", attempt: 3, http_status: 500 },
      { status: "ok", attempt: 4, http_status: 200 },
    ]);

    // A restarted process (a new worker on the same home) sends nothing again.
    const again = await reopen();
    worker(again, [hook("ops", r, "k1")]);
    await sleep(500);
    expect(r.received).toHaveLength(4);
  }, 20_000);

  it("the body is signed with HMAC-SHA256 of its exact bytes and carries the documented fields", async () => {
    const { app } = await setup();
    const r = await receiver();
    worker(app, [hook("signed", r, "topsecret")]);
    app.alerts.raise(HALT, 0);
    const [req] = await r.waitFor(1);
    const want = `sha256=${createHmac("sha256", "topsecret").update(req.body).digest("hex")}`;
    expect(req.headers["x-tradewarden-signature"]).toBe(want);
    // A body changed by one byte no longer matches.
    const tampered = req.body.replace("HALTED", "HALTEd");
    expect(`sha256=${createHmac("sha256", "topsecret").update(tampered).digest("hex")}`).not.toBe(want);
    const body = JSON.parse(req.body);
    expect(Object.keys(body).sort()).toEqual(
      [
        "alert_id",
        "details",
        "event_id",
        "kind",
        "message",
        "notice",
        "resolved",
        "severity",
        "text",
        "ts",
      ].sort(),
    );
    expect(body.text).toBe("[CRITICAL] mode_change: Trading HALTED (was NORMAL) by token:ops: test");
    expect(req.headers["x-tradewarden-event"]).toBe("mode_change");
    expect(req.headers["content-type"]).toBe("application/json");
  });

  it("without a secret there is no signature header", async () => {
    const { app } = await setup();
    const r = await receiver();
    worker(app, [hook("plain", r)]);
    app.alerts.raise(HALT, 0);
    const [req] = await r.waitFor(1);
    expect(req.headers["x-tradewarden-signature"]).toBeUndefined();
  });

  it("retries are bounded: a channel that always answers 500 gets maxAttempts attempts, the last one abandoned", async () => {
    const { app } = await setup();
    const r = await receiver(() => ({ status: 500 }));
    worker(app, [hook("down", r)], { maxAttempts: 3, baseDelayMs: 20 });
    app.alerts.raise(HALT, 0);
    await r.waitFor(3);
    await sleep(500);
    expect(r.received).toHaveLength(3);
    expect(attempts(app, "webhook:down").map((a) => a.status)).toEqual(["failed", "failed", "abandoned"]);
  });

  it("a final answer (400) is not retried", async () => {
    const { app } = await setup();
    const r = await receiver(() => ({ status: 400 }));
    worker(app, [hook("bad", r)]);
    app.alerts.raise(HALT, 0);
    await r.waitFor(1);
    await sleep(400);
    expect(r.received).toHaveLength(1);
    expect(attempts(app, "webhook:bad")).toEqual([{ status: "abandoned", attempt: 1, http_status: 400 }]);
  });

  it("a failing channel raises channel_failing, which reaches the other channels but not itself, and its recovery resolves it", async () => {
    const { app } = await setup();
    let up = false;
    const flaky = await receiver(() => ({ status: up ? 200 : 503 }));
    const good = await receiver();
    worker(app, [hook("flaky", flaky), hook("good", good)], {
      failingAfter: 2,
      baseDelayMs: 30,
      maxDelayMs: 100,
    });
    app.alerts.raise(HALT, 0);
    const seen = await good.waitFor(2, 5_000);
    expect(JSON.parse(seen[1].body)).toMatchObject({
      kind: "channel_failing",
      severity: "warning",
      resolved: false,
      details: { channel: "webhook:flaky" },
    });
    expect(app.alerts.list({ status: "open", kind: "channel_failing", limit: 5 }).alerts).toHaveLength(1);
    up = true;
    const resolvedSeen = await good.waitFor(3, 5_000);
    expect(JSON.parse(resolvedSeen[2].body)).toMatchObject({ kind: "channel_failing", resolved: true });
    await sleep(300);
    // The flaky channel only ever got the halt (failures, then one success), never news about itself.
    const kinds = flaky.received.map((x) => JSON.parse(x.body).kind);
    expect(new Set(kinds)).toEqual(new Set(["mode_change"]));
    expect(flaky.received.length).toBeGreaterThanOrEqual(3);
    expect(attempts(app, "webhook:flaky").filter((a) => a.status === "ok")).toHaveLength(1);
    expect(app.alerts.list({ status: "open", kind: "channel_failing", limit: 5 }).alerts).toHaveLength(0);
  }, 20_000);

  it("Telegram's retry_after is respected before the next attempt", async () => {
    const { app } = await setup();
    const tg = await receiver((i) =>
      i === 0
        ? {
            status: 429,
            body: {
              ok: false,
              error_code: 429,
              description: "Too Many Requests",
              parameters: { retry_after: 1 },
            },
          }
        : { status: 200 },
    );
    const ch = telegramChannel({
      apiUrl: tg.url,
      token: new Secret("123:abc"),
      chatId: "99",
      minSeverity: "info",
      timeoutMs: 2_000,
      userAgent: "t",
    });
    worker(app, [ch], { baseDelayMs: 20 });
    app.alerts.raise(HALT, 0);
    const [first, second] = await tg.waitFor(2, 5_000);
    expect(second.at - first.at).toBeGreaterThanOrEqual(990);
    await sleep(200);
    expect(attempts(app, "telegram").map((a) => a.http_status)).toEqual([429, 200]);
  });

  it("an attempt left in flight by a process that died is recorded as interrupted and sent again, once, with the same delivery id", async () => {
    const { app } = await setup();
    const r = await receiver();
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid as number;
    const cases = [
      { owner: `${hostname()}:${dead}:gone`, ageMs: 1_000 }, // its process is gone: at once
      { owner: "elsewhere:1:x", ageMs: 5 * 60_000 }, // unknown host: once it outlived its timeout
    ];
    const w = worker(app, [hook("ops", r)], {}, false);
    const ids: number[] = [];
    for (const c of cases) {
      const { alert } = app.alerts.raise({ ...HALT, key: `halt:${c.owner}` }, 0);
      const ev = app.db.prepare("SELECT id FROM alert_events WHERE alert_id = ?").get(alert.alert_id) as {
        id: number;
      };
      ids.push(ev.id);
      // What a kill -9 during the HTTP request leaves behind: a claimed attempt that never completed.
      claimDelivery(app.db, {
        eventId: ev.id,
        alertId: alert.alert_id,
        channel: "webhook:ops",
        attempt: 1,
        now: app.clock.now() - c.ageMs,
        owner: c.owner,
      });
    }
    await w.runOnce();
    await sleep(200);
    expect(r.received.map((x) => Number(x.headers["x-tradewarden-delivery"]))).toEqual(ids);
    expect(attempts(app, "webhook:ops")).toEqual([
      { status: "interrupted", attempt: 1, http_status: null },
      { status: "interrupted", attempt: 1, http_status: null },
      { status: "ok", attempt: 2, http_status: 200 },
      { status: "ok", attempt: 2, http_status: 200 },
    ]);
  });

  it("an attempt another live process is making is left alone", async () => {
    const { app } = await setup();
    const r = await receiver();
    const w = worker(app, [hook("ops", r)], {}, false);
    const { alert } = app.alerts.raise(HALT, 0);
    const ev = app.db.prepare("SELECT id FROM alert_events WHERE alert_id = ?").get(alert.alert_id) as {
      id: number;
    };
    claimDelivery(app.db, {
      eventId: ev.id,
      alertId: alert.alert_id,
      channel: "webhook:ops",
      attempt: 1,
      now: app.clock.now(),
      owner: `${hostname()}:${process.ppid}:alive`,
    });
    await w.runOnce();
    await sleep(200);
    expect(r.received).toHaveLength(0);
    expect(attempts(app, "webhook:ops").map((a) => a.status)).toEqual(["sending"]);
  });

  it("a channel gets only events at or above its minimum severity, and not the history from before it existed", async () => {
    const { app } = await setup();
    app.alerts.raise({ ...HALT, key: "old", message: "before the channel" }, 0);
    const r = await receiver();
    const critical = webhookChannel({
      name: "pager",
      url: r.url,
      minSeverity: "critical",
      secret: null,
      timeoutMs: 2_000,
      userAgent: "t",
    });
    const w = worker(app, [critical]);
    app.alerts.notice({ kind: "fill", severity: "info", key: "fill:1", message: "filled", details: {} });
    app.alerts.raise({
      kind: "stale_data",
      severity: "warning",
      key: "stale_data:BTC",
      message: "stale",
      details: {},
    });
    app.alerts.raise({ ...HALT, message: "now" }, 0);
    await r.waitFor(1);
    await w.runOnce();
    await sleep(200);
    expect(r.received.map((x) => JSON.parse(x.body).message)).toEqual(["now"]);
  });
});
