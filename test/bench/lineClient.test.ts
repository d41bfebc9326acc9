import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openLineClient } from "../../src/bench/lineClient.js";
import { packageRoot } from "../../src/packageRoot.js";

// The bare server the serve bench measures against, as built by `npm test`'s build step.
const BARE = join(packageRoot(), "dist", "bench", "bareServer.js");

describe("bench line client", () => {
  it("answers a tool call, refuses to count an error answer as a call, and ends the server", async () => {
    expect(existsSync(BARE)).toBe(true);
    const c = await openLineClient(process.execPath, [BARE], process.env as Record<string, string>);
    await expect(c.call("ping", { n: 1 })).resolves.toBeUndefined();
    // An unknown tool and bad arguments both come back as errors, not as measured calls.
    await expect(c.call("no_such_tool", {})).rejects.toThrow(/no_such_tool failed/);
    await expect(c.call("ping", { n: "not a number" })).rejects.toThrow(/ping failed/);
    const pid = c.pid as number;
    await c.close();
    expect(() => process.kill(pid, 0)).toThrow(); // the process is gone
  });
});
