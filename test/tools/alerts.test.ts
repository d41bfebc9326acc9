import { afterEach, describe, expect, it } from "vitest";
import { call, connectClient } from "../helpers/app.js";
import { orderApp } from "../policy/helpers.js";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe("alert tools", () => {
  it("readonly and agent callers list alerts; only an operator sees and calls alert_ack", async () => {
    const t = await orderApp();
    cleanup = t.cleanup;
    const readonly = await connectClient(t.app, "readonly");
    const agent = await connectClient(t.app, "agent");
    const operator = await connectClient(t.app, "operator");
    t.app.alerting.runner.pollEvents();
    await call(agent, "control_halt", { reason: "test halt" });
    t.app.alerting.runner.pollEvents();

    const listed = await call(readonly, "alert_list", {});
    expect(listed.isError).toBe(false);
    expect(listed.sc.alerts).toMatchObject([
      { kind: "mode_change", severity: "critical", acknowledged_at: null },
    ]);
    const id = listed.sc.alerts[0].alert_id;

    const agentTools = (await agent.listTools()).tools.map((x) => x.name);
    expect(agentTools).toContain("alert_list");
    expect(agentTools).not.toContain("alert_ack");
    const refused = await call(agent, "alert_ack", { alert_id: id });
    expect(refused.sc.code).toBe("FORBIDDEN_SCOPE");

    const ack = await call(operator, "alert_ack", { alert_id: id, note: "on it" });
    expect(ack.sc).toMatchObject({
      already_acknowledged: false,
      alert: { alert_id: id, acknowledged_by: "memory:operator", ack_note: "on it" },
    });
    expect((await call(operator, "alert_ack", { alert_id: id })).sc.already_acknowledged).toBe(true);
    expect((await call(operator, "alert_ack", { alert_id: 12345 })).sc.code).toBe("NOT_FOUND");
    expect((await call(readonly, "alert_list", { unacknowledged: true })).sc.alerts).toEqual([]);
  });

  it("alert_list pages newest first with a cursor and filters by severity and kind", async () => {
    const t = await orderApp();
    cleanup = t.cleanup;
    for (let i = 0; i < 5; i++) {
      t.app.alerts.raise({
        kind: "stale_data",
        severity: i % 2 === 0 ? "warning" : "critical",
        key: `stale_data:C${i}`,
        message: `c${i}`,
        details: {},
      });
    }
    const client = await connectClient(t.app, "readonly");
    const p1 = await call(client, "alert_list", { limit: 2 });
    expect(p1.sc.alerts.map((a: { message: string }) => a.message)).toEqual(["c4", "c3"]);
    expect(p1.sc.truncated).toBe(true);
    const p2 = await call(client, "alert_list", { limit: 2, cursor: p1.sc.next_cursor });
    expect(p2.sc.alerts.map((a: { message: string }) => a.message)).toEqual(["c2", "c1"]);
    const p3 = await call(client, "alert_list", { limit: 2, cursor: p2.sc.next_cursor });
    expect(p3.sc).toMatchObject({ truncated: false, next_cursor: null });
    expect(p3.sc.alerts.map((a: { message: string }) => a.message)).toEqual(["c0"]);
    const crit = await call(client, "alert_list", { min_severity: "critical" });
    expect(crit.sc.alerts.map((a: { message: string }) => a.message)).toEqual(["c3", "c1"]);
    expect((await call(client, "alert_list", { kind: "mode_change" })).sc.alerts).toEqual([]);
    expect((await call(client, "alert_list", { cursor: "garbage" })).sc.code).toBe("INVALID_INPUT");
  });
});
