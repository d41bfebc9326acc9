import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type HttpHandle, startHttp } from "../../src/server/http.js";
import { setMeta } from "../../src/store/meta.js";
import { call, connectClient } from "../helpers/app.js";
import { orderApp } from "../policy/helpers.js";

let teardown: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const t of teardown.reverse()) await t();
  teardown = [];
});

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });
}

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("/metrics", () => {
  it("counts open alerts by kind and severity and reports control mode, equity, drawdown and reconcile age", async () => {
    const t = await orderApp((c) => {
      c.cycle.enabled = true;
    });
    teardown.push(t.cleanup);
    const h: HttpHandle = await startHttp(t.app, {
      host: "127.0.0.1",
      port: 0,
      stateless: false,
      allowedOrigins: [],
      allowedHosts: [],
    });
    teardown.push(() => h.close());
    const agent = await connectClient(t.app, "agent");
    t.app.alerting.runner.pollEvents();

    let m = await get(`${h.url}/metrics`);
    expect(sample(m, 'tradewarden_control_mode{mode="NORMAL"}')).toBe(1);
    expect(sample(m, 'tradewarden_control_mode{mode="HALT"}')).toBe(0);
    expect(m).not.toContain("tradewarden_alerts_active{");
    expect(sample(m, 'tradewarden_reconcile_age_seconds{venue="paper"}')).toBeUndefined();

    await call(agent, "control_halt", { reason: "metrics test" });
    t.app.alerting.runner.pollEvents();
    await t.app.engine.reconciler.reconcile();
    setMeta(t.app.db, "engine.peak_equity", 125_000);
    t.clock.advance(30_000);
    m = await get(`${h.url}/metrics`);
    expect(sample(m, 'tradewarden_alerts_active{kind="mode_change",severity="critical"}')).toBe(1);
    expect(sample(m, 'tradewarden_control_mode{mode="HALT"}')).toBe(1);
    expect(sample(m, 'tradewarden_control_mode{mode="NORMAL"}')).toBe(0);
    expect(sample(m, 'tradewarden_equity{venue="paper"}')).toBe(100_000);
    expect(sample(m, 'tradewarden_drawdown{venue="paper"}')).toBeCloseTo(0.2, 12);
    expect(sample(m, 'tradewarden_reconcile_age_seconds{venue="paper"}')).toBe(30);
    expect(sample(m, 'tradewarden_cycle_lag_seconds{venue="paper"}')).toBe(0);
  });
});
