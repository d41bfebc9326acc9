import { afterEach, describe, expect, it } from "vitest";
import { call, connectClient, testApp } from "../helpers/app.js";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
});

describe("smoke", () => {
  it("lists and calls system_get_status over the in-memory transport", async () => {
    const t = await testApp();
    cleanup = t.cleanup;
    const client = await connectClient(t.app, "agent");
    const list = await client.listTools();
    expect(list.tools.map((x) => x.name)).toContain("system_get_status");
    const r = await call(client, "system_get_status");
    expect(r.isError).toBe(false);
    expect(r.sc.profile).toBe("agent");
    const bad = await call(client, "system_get_status", { nope: 1 });
    expect(bad.isError).toBe(true);
    expect(bad.sc.code).toBe("INVALID_INPUT");
    expect(bad.sc.message).toContain("nope");
  });
});
