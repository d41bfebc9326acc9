import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allTools } from "../src/tools/index.js";

const README = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");

describe("README", () => {
  it("lists exactly the tools the server has, with their toolset and scope", () => {
    const rows = [...README.matchAll(/^\| `([a-z_]+)` \| ([a-z]+) \| (none|`[a-z:]+`) \|/gm)].map((m) => ({
      name: m[1],
      toolset: m[2],
      scope: m[3] === "none" ? null : m[3].slice(1, -1),
    }));
    const tools = allTools().map((t) => ({ name: t.name, toolset: t.toolset, scope: t.scope }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(rows.sort(byName)).toEqual(tools.sort(byName));
  });

  it("starts with the install-and-run command and the test command", () => {
    const first = README.split("```")[1];
    expect(first).toContain("npm ci && npm run build && node dist/cli.js");
    expect(first).toContain("npm ci && npm test");
  });
});
